import { flushSync, mount, tick, unmount } from 'svelte';
import { afterEach, describe, expect, test } from 'vitest';
import FiltersSection from '../components/settings/FiltersSection.svelte';
import NotificationsSection from '../components/settings/NotificationsSection.svelte';
import type { Handler, LiveEvents } from './events';
import { ApiError, Client } from './api';
import {
  addedLabel,
  endedLabel,
  contextsLabel,
  describeFilter,
  expiresAt,
  expiryLabel,
  filterError,
  filtersApi,
  filterTitle,
  formProblems,
  inputFromForm,
  isExpired,
  normalizeValue,
  notificationTypeLabel,
  osServiceNote,
  patchFromForm,
  sortFilters,
  timeUntil,
  toggleType,
  validHost,
  valueProblem,
  blankForm,
  formFromFilter,
  tagMute,
  type Filter,
  type PodSettings,
  type FilterKind,
} from './filters';

const NOW = Date.parse('2026-01-31T12:00:00Z');

const filter = (over: Partial<Filter> = {}): Filter => ({
  id: '01J',
  kind: 'word',
  value: 'spoiler',
  match: 'word',
  contexts: ['streams', 'notifications'],
  action: 'collapse',
  expires_at: null,
  created_at: '2026-01-30T12:00:00Z',
  expired: false,
  ...over,
});

describe('tagMute', () => {
  const tagged = filter({ id: 'T', kind: 'tag', value: 'politics', action: 'hide' });
  test.each([
    { name: 'a tag filter in the streams', list: [tagged], tag: 'politics', want: 'T' },
    { name: 'the tag as typed (#, case)', list: [tagged], tag: '#Politics', want: 'T' },
    { name: 'another tag', list: [tagged], tag: 'policy', want: undefined },
    { name: 'a word filter with the same text', list: [filter({ value: 'politics' })], tag: 'politics', want: undefined },
    { name: 'only in search', list: [filter({ id: 'S', kind: 'tag', value: 'politics', contexts: ['search'] })], tag: 'politics', want: undefined },
    { name: 'expired', list: [filter({ id: 'E', kind: 'tag', value: 'politics', expired: true })], tag: 'politics', want: undefined },
    {
      name: 'ended since the list was read',
      list: [filter({ id: 'E', kind: 'tag', value: 'politics', expires_at: '2026-01-31T11:00:00Z' })],
      tag: 'politics',
      want: undefined,
    },
  ])('$name', ({ list, tag, want }) => {
    expect(tagMute(list, tag, NOW)?.id).toBe(want);
  });
});

describe('normalizeValue', () => {
  test.each<[FilterKind, string, string]>([
    ['word', '  big   spoiler ', 'big spoiler'],
    ['word', 'Spoiler', 'Spoiler'],
    ['tag', '#Politics', 'politics'],
    ['tag', '##art ', 'art'],
    ['person', ' @Bob@Pod.Example ', 'bob@pod.example'],
    ['person', 'acct:Bob@pod.example', 'bob@pod.example'],
    ['pod', 'https://Pod.Example/people/x?y', 'pod.example'],
    ['pod', 'pod.example.', 'pod.example'],
    ['pod', 'pod.example:8443', 'pod.example:8443'],
  ])('%s %j → %j', (kind, raw, want) => {
    expect(normalizeValue(kind, raw)).toBe(want);
  });
});

describe('valueProblem', () => {
  test.each<[FilterKind, string, string | RegExp]>([
    ['word', 'spoiler', ''],
    ['word', 'x'.repeat(100), ''],
    ['word', 'x'.repeat(101), /At most 100 characters: this is 101/],
    ['word', 'é'.repeat(100), ''],
    ['word', '', /Type the word/],
    ['tag', 'politics', ''],
    ['tag', 'ça_va-2', ''],
    ['tag', 'two tags', /One tag at a time/],
    ['tag', 'c++', /letters, digits/],
    ['tag', '', /Type the tag/],
    ['person', 'bob@pod.example', ''],
    ['person', 'bob.smith_1@pod.example:3000', ''],
    ['person', 'bob', /looks like bob@pod.example/],
    ['person', '@pod.example', /looks like bob@pod.example/],
    ['person', 'bob@', /looks like bob@pod.example/],
    ['person', 'b o@pod.example', /before the @/],
    ['person', 'bob@pod_x.example', /is not a pod’s address/],
    ['pod', 'pod.example', ''],
    ['pod', 'localhost', ''],
    ['pod', 'pod.example:8080', ''],
    ['pod', 'bob@pod.example', /without a name/],
    ['pod', 'pod..example', /looks like pod.example/],
    ['pod', 'pod.example:99999', /looks like pod.example/],
    ['pod', '-pod.example', /looks like pod.example/],
    ['pod', 'pöd.example', ''],
    ['pod', '[::1]:3000', ''],
    ['pod', '[nope]', /looks like pod.example/],
    ['person', 'jürgen@pöd.example', ''],
  ])('%s %j', (kind, value, want) => {
    const got = valueProblem(kind, value);
    if (want === '') expect(got).toBe('');
    else expect(got).toMatch(want);
  });

  test('validHost', () => {
    expect(validHost('a.b')).toBe(true);
    expect(validHost('a'.repeat(64) + '.example')).toBe(false);
    expect(validHost('')).toBe(false);
  });
});

describe('descriptions', () => {
  test.each<[Partial<Filter>, string, string]>([
    [{}, 'Collapse posts with the word “spoiler”', 'Posts with the word “spoiler”'],
    [{ action: 'hide' }, 'Hide posts with the word “spoiler”', 'Posts with the word “spoiler”'],
    [{ match: 'substring', value: 'spoil' }, 'Collapse posts containing “spoil”', 'Posts containing “spoil”'],
    [{ kind: 'tag', value: 'politics' }, 'Collapse posts tagged #politics', 'Posts tagged #politics'],
    [{ kind: 'person', value: 'bob@pod.example', action: 'hide' }, 'Hide posts from bob@pod.example', 'Posts from bob@pod.example'],
    [{ kind: 'pod', value: 'pod.example' }, 'Collapse posts from anyone on pod.example', 'Posts from anyone on pod.example'],
  ])('%j', (over, desc, title) => {
    expect(describeFilter(filter(over))).toBe(desc);
    expect(filterTitle(filter(over))).toBe(title);
  });

  test.each<[Filter['contexts'], string]>([
    [['streams', 'notifications'], 'In streams and notifications'],
    [['search', 'streams', 'notifications'], 'In streams, notifications and search'],
    [['search'], 'In search'],
    [[], 'Nowhere'],
  ])('contexts %j', (c, want) => {
    expect(contextsLabel(c)).toBe(want);
  });
});

describe('time', () => {
  test.each<[Parameters<typeof expiresAt>[0], number, string | null]>([
    ['1d', NOW, '2026-02-01T12:00:00.000Z'],
    ['1w', NOW, '2026-02-07T12:00:00.000Z'],
    ['1m', NOW, '2026-02-28T12:00:00.000Z'],
    ['1m', Date.parse('2026-03-15T08:30:00Z'), '2026-04-15T08:30:00.000Z'],
    ['1m', Date.parse('2026-12-31T00:00:00Z'), '2027-01-31T00:00:00.000Z'],
    ['forever', NOW, null],
  ])('expiresAt %s from %d', (d, now, want) => {
    expect(expiresAt(d, now)).toBe(want);
  });

  test.each<[Partial<Filter>, boolean, string]>([
    [{}, false, 'Forever'],
    [{ expired: true, expires_at: '2026-01-31T11:00:00Z' }, true, 'Expired'],
    [{ expires_at: '2026-01-31T11:59:00Z' }, true, 'Expired'],
    [{ expires_at: '2026-01-31T12:30:00Z' }, false, 'Ends in 30 min'],
    [{ expires_at: '2026-02-01T12:00:00Z' }, false, 'Ends in 1 d'],
    [{ expires_at: '2026-02-01T11:00:00Z' }, false, 'Ends in 23 h'],
    [{ expires_at: '2026-02-07T12:00:00Z' }, false, 'Ends in 7 d'],
    [{ expires_at: '2026-03-02T12:00:00Z' }, false, 'Ends on 2 Mar'],
    [{ expires_at: '2027-03-02T12:00:00Z' }, false, 'Ends on 2 Mar 2027'],
  ])('%j', (over, expired, label) => {
    expect(isExpired(filter(over), NOW)).toBe(expired);
    expect(expiryLabel(filter(over), NOW)).toBe(label);
  });

  test('timeUntil of a past time is "now"; of nonsense, empty', () => {
    expect(timeUntil('2026-01-31T11:00:00Z', NOW)).toBe('now');
    expect(timeUntil('nope', NOW)).toBe('');
    expect(timeUntil('2026-01-31T12:00:20Z', NOW)).toBe('in less than a minute');
  });
});

describe('the form', () => {
  test('a blank form has the pod’s defaults and asks for a value', () => {
    const f = blankForm();
    expect(f).toMatchObject({ kind: 'word', match: 'word', contexts: ['streams', 'notifications'], action: 'collapse', duration: 'forever' });
    expect(formProblems(f).value).toMatch(/Type the word/);
    expect(formProblems({ ...f, value: 'x', contexts: [] })).toEqual({ value: '', contexts: expect.stringMatching(/at least one/) });
  });

  test('input: normalized value, contexts in order, match only for words, expiry only when timed', () => {
    expect(inputFromForm({ ...blankForm('tag'), value: '#Art', contexts: ['search', 'streams'], duration: '1d' }, NOW)).toEqual({
      kind: 'tag',
      value: 'art',
      contexts: ['streams', 'search'],
      action: 'collapse',
      expires_at: '2026-02-01T12:00:00.000Z',
    });
    expect(inputFromForm({ ...blankForm(), value: ' spoil ', match: 'substring', action: 'hide' }, NOW)).toEqual({
      kind: 'word',
      value: 'spoil',
      match: 'substring',
      contexts: ['streams', 'notifications'],
      action: 'hide',
    });
  });

  test('patch: only what changed; "keep" leaves the end alone, forever clears it', () => {
    const f = filter({ expires_at: '2026-02-01T00:00:00Z' });
    const form = formFromFilter(f);
    expect(patchFromForm(f, form, NOW)).toEqual({});
    expect(patchFromForm(f, { ...form, contexts: ['notifications', 'streams'] }, NOW)).toEqual({});
    expect(patchFromForm(f, { ...form, action: 'hide', value: 'Spoilers ' }, NOW)).toEqual({ action: 'hide', value: 'Spoilers' });
    expect(patchFromForm(f, { ...form, duration: 'forever' }, NOW)).toEqual({ expires_at: null });
    expect(patchFromForm(f, { ...form, duration: '1w', contexts: ['search'] }, NOW)).toEqual({
      expires_at: '2026-02-07T12:00:00.000Z',
      contexts: ['search'],
    });
    const t = filter({ kind: 'tag', value: 'art' });
    expect(patchFromForm(t, { ...formFromFilter(t), match: 'substring' }, NOW)).toEqual({});
  });

  test('sort: active newest first, then expired', () => {
    const list = [
      filter({ id: 'a', created_at: '2026-01-01T00:00:00Z' }),
      filter({ id: 'b', created_at: '2026-01-20T00:00:00Z', expires_at: '2026-01-30T00:00:00Z' }),
      filter({ id: 'c', created_at: '2026-01-10T00:00:00Z' }),
      filter({ id: 'd', created_at: '2026-01-25T00:00:00Z', expired: true }),
    ];
    expect(sortFilters(list, NOW).map((f) => f.id)).toEqual(['c', 'a', 'd', 'b']);
  });
});

describe('errors', () => {
  test.each<[unknown, 'add' | 'save' | 'delete' | 'load', string]>([
    [new ApiError(409, 'duplicate', 'filter exists'), 'add', 'You already have a filter like this one: edit that one instead.'],
    [new ApiError(422, 'invalid', 'value: not a diaspora ID'), 'add', 'The pod refused this filter: value: not a diaspora ID.'],
    [new ApiError(404, 'not_found', 'no such filter'), 'save', 'This filter is gone: it was deleted, perhaps on another device.'],
    [new ApiError(0, 'unreachable', 'The pod is not reachable (x).'), 'delete', 'The filter was not deleted: The pod is not reachable (x).'],
    [new Error('boom'), 'load', 'Your filters could not be listed: boom.'],
  ])('%s', (e, what, want) => {
    expect(filterError(e, what)).toBe(want);
  });
});

describe('notifications', () => {
  test('labels', () => {
    expect(notificationTypeLabel('comment_on_post')).toBe('Someone comments on your post');
    expect(notificationTypeLabel('conversation')).toBe('You get a private message');
    expect(notificationTypeLabel('new_thing')).toBe('New thing');
  });

  test.each<[string[], string, boolean, string[]]>([
    [['liked'], 'comment_on_post', true, ['comment_on_post', 'liked']],
    [['comment_on_post', 'liked'], 'liked', false, ['comment_on_post']],
    [['liked', 'odd'], 'conversation', true, ['liked', 'conversation', 'odd']],
    [['liked'], 'liked', true, ['liked']],
  ])('toggleType(%j, %s, %s)', (types, id, on, want) => {
    expect(toggleType(types, id, on)).toEqual(want);
  });

  test('os notes', () => {
    expect(osServiceNote('available')).toBe('');
    expect(osServiceNote('not_in_window')).toMatch(/^Shown by the desktop app; in a browser tab/);
    expect(osServiceNote('unavailable')).toMatch(/^No notification service was found on this desktop/);
  });
});

test('calls go to the Seedpod routes with the right methods and bodies', async () => {
  const seen: string[] = [];
  const fetchFn = (async (url: RequestInfo | URL, init?: RequestInit) => {
    seen.push(`${init?.method} ${String(url)} ${init?.body ?? ''}`);
    if (init?.method === 'DELETE') return new Response(null, { status: 204 });
    return new Response('{}', { status: 200, headers: { 'Content-Type': 'application/json' } });
  }) as typeof fetch;
  const a = filtersApi(new Client(fetchFn));
  await a.list();
  await a.create({ kind: 'tag', value: 'art' });
  await a.update('01 J', { expires_at: null });
  await a.remove('01J');
  await a.settings();
  await a.updateSettings({ notifications: { types: ['liked'] } });
  expect(seen).toEqual([
    'GET /api/seedpod/v1/filters ',
    'POST /api/seedpod/v1/filters {"kind":"tag","value":"art"}',
    'PATCH /api/seedpod/v1/filters/01%20J {"expires_at":null}',
    'DELETE /api/seedpod/v1/filters/01J ',
    'GET /api/seedpod/v1/settings ',
    'PATCH /api/seedpod/v1/settings {"notifications":{"types":["liked"]}}',
  ]);
});

test.each([
  ['2026-01-31T11:59:50Z', 'Added just now'],
  ['2026-01-31T11:55:00Z', 'Added 5 min ago'],
  ['2026-01-29T12:00:00Z', 'Added 2 d ago'],
  ['2025-11-03T12:00:00Z', 'Added 3 Nov 2025'],
  ['bad', ''],
])('addedLabel(%s)', (iso, want) => {
  expect(addedLabel(iso, NOW)).toBe(want);
});

test('endedLabel', () => {
  expect(endedLabel({ expires_at: '2026-01-31T10:00:00Z' }, NOW)).toBe('Ended 2 h ago');
  expect(endedLabel({ expires_at: null }, NOW)).toBe('Ended');
});

// ---- The sections, against an in-memory pod that follows the contract.

type Call = { method: string; path: string; body?: unknown };

function fakePod(opts: { settings?: PodSettings; failSettings?: boolean } = {}) {
  const filters: Filter[] = [];
  let settings: PodSettings = opts.settings ?? { notifications: { os: false, types: ['comment_on_post', 'liked'] }, os_service: 'not_in_window' };
  const calls: Call[] = [];
  let n = 0;
  const json = (status: number, v: unknown) => new Response(JSON.stringify(v), { status, headers: { 'Content-Type': 'application/json' } });
  const fetchFn = (async (url: RequestInfo | URL, init?: RequestInit) => {
    const method = init?.method ?? 'GET';
    const path = String(url).replace('/api/seedpod/v1', '');
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, path, body });
    if (path === '/filters' && method === 'GET') return json(200, filters);
    if (path === '/filters' && method === 'POST') {
      if (filters.some((f) => f.kind === body.kind && f.value === body.value)) return json(409, { error: 'duplicate', message: 'exists' });
      const f: Filter = { id: `F${++n}`, match: 'word', contexts: ['streams', 'notifications'], action: 'collapse', expires_at: null, ...body, created_at: new Date().toISOString(), expired: false };
      filters.push(f);
      return json(201, f);
    }
    const m = /^\/filters\/(.+)$/.exec(path);
    if (m) {
      const i = filters.findIndex((f) => f.id === m[1]);
      if (i < 0) return json(404, { error: 'not_found', message: 'no such filter' });
      if (method === 'DELETE') {
        filters.splice(i, 1);
        return new Response(null, { status: 204 });
      }
      filters[i] = { ...filters[i]!, ...body };
      return json(200, filters[i]);
    }
    if (path === '/settings' && method === 'GET') return json(200, settings);
    if (path === '/settings' && method === 'PATCH') {
      if (opts.failSettings) return json(422, { error: 'invalid', message: 'unknown type' });
      settings = { ...settings, notifications: { ...settings.notifications, ...body.notifications } };
      return json(200, settings);
    }
    return json(404, { error: 'not_found', message: 'no' });
  }) as typeof fetch;
  const handlers = new Set<Handler>();
  const live = { subscribe: (h: Handler) => (handlers.add(h), () => handlers.delete(h)) } as unknown as LiveEvents;
  return { api: filtersApi(new Client(fetchFn)), live, calls, filters, emit: (t: string) => handlers.forEach((h) => h(t, {})), settings: () => settings };
}

let app: ReturnType<typeof mount> | undefined;
afterEach(() => {
  if (app) unmount(app);
  app = undefined;
  document.body.innerHTML = '';
});

const settle = async () => {
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 0));
    await tick();
  }
  flushSync();
};
const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector<T>(sel);
const button = (text: string, root: ParentNode = document) =>
  [...root.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent?.trim() === text);
const fill = (id: string, v: string) => {
  const el = document.getElementById(id) as HTMLInputElement;
  el.value = v;
  el.dispatchEvent(new Event('input', { bubbles: true }));
  flushSync();
};
const choose = (id: string, v: string) => {
  const el = document.getElementById(id) as HTMLSelectElement;
  el.value = v;
  el.dispatchEvent(new Event('change', { bubbles: true }));
  flushSync();
};
const mutations = (calls: Call[]) => calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path} ${JSON.stringify(c.body ?? null)}`);

describe('FiltersSection', () => {
  test('empty state, refused input, add, live reload, edit, delete', async () => {
    const pod = fakePod();
    app = mount(FiltersSection, { target: document.body, props: { api: pod.api, live: pod.live } });
    await settle();
    expect($('[data-testid=filters-empty]')?.textContent).toMatch(/block or ignore someone entirely, use the buttons on their profile/);

    // A person without a pod: refused here, nothing sent.
    choose('add-kind', 'person');
    expect($<HTMLInputElement>('#add-value')?.placeholder).toBe('bob@pod.example');
    fill('add-value', 'bob');
    button('Add filter')?.click();
    await settle();
    expect($('#add-value-note')?.textContent).toBe('A diaspora* ID looks like bob@pod.example.');
    expect($('#add-value')?.getAttribute('aria-invalid')).toBe('true');
    expect(mutations(pod.calls)).toEqual([]);

    fill('add-value', '@Bob@Pod.Example');
    expect($('#add-value-note')?.className).toBe('hint');
    ($('input[name=add-action][value=hide]') as HTMLInputElement).click();
    ($('#add-ctx-search') as HTMLInputElement).click();
    choose('add-duration', '1w');
    button('Add filter')?.click();
    await settle();
    const [post] = mutations(pod.calls);
    expect(post).toMatch(/^POST \/filters \{"kind":"person","value":"bob@pod.example","contexts":\["streams","notifications","search"\],"action":"hide","expires_at":"/);
    expect($('ul.filters')?.textContent).toMatch(/Hide posts from bob@pod.example/);
    expect($('ul.filters [data-testid=expiry]')?.textContent).toBe('Ends in 7 d');
    expect($<HTMLInputElement>('#add-value')?.value).toBe('');

    // Contexts: none is refused.
    choose('add-kind', 'tag');
    fill('add-value', '#Politics');
    for (const c of ['streams', 'notifications']) ($(`#add-ctx-${c}`) as HTMLInputElement).click();
    button('Add filter')?.click();
    await settle();
    expect(document.body.textContent).toMatch(/Choose at least one place/);
    ($('#add-ctx-streams') as HTMLInputElement).click();
    button('Add filter')?.click();
    await settle();
    // The same again: the pod says 409.
    fill('add-value', 'politics');
    button('Add filter')?.click();
    await settle();
    expect($('[role=alert]')?.textContent).toBe('You already have a filter like this one: edit that one instead.');

    // Another device adds one: the live event reloads the list.
    pod.filters.push({ id: 'X', kind: 'word', value: 'spoiler', match: 'substring', contexts: ['streams'], action: 'collapse', expires_at: '2020-01-01T00:00:00Z', created_at: '2019-12-01T00:00:00Z', expired: true });
    pod.emit('filters');
    await settle();
    const rows = [...document.querySelectorAll('ul.filters li')];
    expect(rows.map((r) => r.querySelector('.what')?.textContent)).toEqual([
      'Collapse posts tagged #politics',
      'Hide posts from bob@pod.example',
      'Collapse posts containing “spoiler”',
    ]);
    expect(rows[2]?.classList.contains('expired')).toBe(true);
    expect(rows[2]?.querySelector('[data-testid=expired]')?.textContent).toBe('Expired');

    // Edit in place: collapse → hide, forever.
    pod.calls.length = 0;
    (rows[0]?.querySelector('[data-action=edit]') as HTMLButtonElement).click();
    await settle();
    expect($<HTMLInputElement>('#edit-value')?.value).toBe('politics');
    ($('input[name=edit-action][value=hide]') as HTMLInputElement).click();
    flushSync();
    button('Save')?.click();
    await settle();
    expect(mutations(pod.calls)).toEqual(['PATCH /filters/F2 {"action":"hide"}']);
    expect($('ul.filters li .what')?.textContent).toBe('Hide posts tagged #politics');

    // Delete after a confirmation.
    pod.calls.length = 0;
    ($('ul.filters li [data-action=delete]') as HTMLButtonElement).click();
    await settle();
    expect($('[role=alertdialog]')?.textContent).toMatch(/Delete this filter\? What it hides shows again./);
    button('Delete filter')?.click();
    await settle();
    expect(mutations(pod.calls)).toEqual(['DELETE /filters/F2 null']);
    expect($('ul.filters')?.textContent).not.toMatch(/#politics/);
    expect($('.list-note')?.textContent).toBe('Deleted: Hide posts tagged #politics.');
  });
});

describe('NotificationsSection', () => {
  test('desktop switch explained when not in the window; a type saves at once', async () => {
    const pod = fakePod();
    app = mount(NotificationsSection, { target: document.body, props: { api: pod.api, live: pod.live } });
    await settle();
    const os = $<HTMLInputElement>('input[aria-describedby=notif-os-note]');
    expect(os?.disabled).toBe(true);
    expect($('#notif-os-note')?.textContent).toMatch(/^Shown by the desktop app; in a browser tab/);
    const boxes = [...document.querySelectorAll<HTMLInputElement>('.types input[type=checkbox]')];
    const labels = boxes.map((b) => b.closest('label')?.textContent?.trim());
    expect(labels[0]).toBe('Someone comments on your post');
    expect(labels).toContain('You get a private message');
    expect(boxes.filter((b) => b.checked).length).toBe(2);
    boxes[labels.indexOf('You get a private message')]?.click();
    await settle();
    expect(mutations(pod.calls)).toEqual(['PATCH /settings {"notifications":{"types":["comment_on_post","liked","conversation"]}}']);
    expect($('[data-testid=notif-status]')?.textContent).toBe('Saved');
  });

  test('available: the switch works; a refusal says what failed and puts it back', async () => {
    const pod = fakePod({ settings: { notifications: { os: false, types: [] }, os_service: 'available' }, failSettings: true });
    app = mount(NotificationsSection, { target: document.body, props: { api: pod.api, live: pod.live } });
    await settle();
    const os = $<HTMLInputElement>('input[aria-describedby=notif-os-note]');
    expect(os?.disabled).toBe(false);
    os?.click();
    await settle();
    expect(mutations(pod.calls)).toEqual(['PATCH /settings {"notifications":{"os":true}}']);
    expect($('[role=alert]')?.textContent).toBe('Turning desktop notifications on was not saved: unknown type. It is back as it was; try again.');
    expect($<HTMLInputElement>('input[aria-describedby=notif-os-note]')?.checked).toBe(false);
  });
});
