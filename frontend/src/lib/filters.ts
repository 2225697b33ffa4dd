// Mute filters and notification settings: the API calls (/api/seedpod/v1
// /filters and /settings) and the pure logic behind their settings sections:
// input checks that mirror the pod's, the words that describe a filter, the
// durations a filter can last, and the notification types in plain words.
import { ApiError, type Client } from './api';
import { relativeTime } from './format';

export type FilterKind = 'word' | 'tag' | 'person' | 'pod';
export type FilterMatch = 'word' | 'substring';
export type FilterContext = 'streams' | 'notifications' | 'search';
export type FilterAction = 'hide' | 'collapse';

export interface Filter {
  id: string;
  kind: FilterKind;
  value: string;
  match: FilterMatch;
  contexts: FilterContext[];
  action: FilterAction;
  expires_at: string | null;
  created_at: string;
  expired: boolean;
}

export interface FilterInput {
  kind: FilterKind;
  value: string;
  match?: FilterMatch;
  contexts?: FilterContext[];
  action?: FilterAction;
  expires_at?: string | null;
}

export type FilterPatch = Partial<Omit<FilterInput, 'kind'>> & { kind?: FilterKind };

export const KINDS: { id: FilterKind; label: string; field: string; placeholder: string }[] = [
  { id: 'word', label: 'A word or phrase', field: 'Word or phrase', placeholder: 'spoiler' },
  { id: 'tag', label: 'A tag', field: 'Tag', placeholder: 'politics' },
  { id: 'person', label: 'A person', field: 'Their diaspora* ID', placeholder: 'bob@pod.example' },
  { id: 'pod', label: 'A whole pod', field: 'The pod’s address', placeholder: 'pod.example' },
];

export const CONTEXTS: { id: FilterContext; label: string }[] = [
  { id: 'streams', label: 'Streams' },
  { id: 'notifications', label: 'Notifications' },
  { id: 'search', label: 'Search' },
];

export const DEFAULT_CONTEXTS: FilterContext[] = ['streams', 'notifications'];

export const WORD_MAX = 100;

export function kindInfo(kind: FilterKind) {
  return KINDS.find((k) => k.id === kind) ?? KINDS[0]!;
}

// ---- Input

/** The value as the pod stores it: "#Politics" → "politics", "https://Pod.example/x" → "pod.example", "@bob@x" → "bob@x". */
export function normalizeValue(kind: FilterKind, raw: string): string {
  const v = raw.trim();
  switch (kind) {
    case 'word':
      return v.replace(/\s+/g, ' ');
    case 'tag':
      return v.replace(/^#+/, '').toLowerCase();
    case 'person':
      return v.replace(/^(acct:|@)/i, '').toLowerCase();
    case 'pod':
      return v
        .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
        .replace(/[/?#].*$/, '')
        .replace(/\.$/, '')
        .toLowerCase();
  }
}

const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** A host name (pod.example, localhost, an internationalised name) with an optional port, or an IP address ([::1] for IPv6). */
export function validHost(h: string): boolean {
  const m = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(h);
  if (!m) return false;
  const host = m[1]!;
  if (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)) return false;
  if (host.startsWith('[')) return host.includes(':');
  if (host.length > 253) return false;
  return host.split('.').every((l) => LABEL.test(l));
}

/** Why a value cannot make a filter of this kind, or '' when it can (the value as normalizeValue gives it). */
export function valueProblem(kind: FilterKind, value: string): string {
  if (value === '') {
    switch (kind) {
      case 'word':
        return 'Type the word or phrase to filter.';
      case 'tag':
        return 'Type the tag to filter, like politics.';
      case 'person':
        return 'Type the person’s diaspora* ID, like bob@pod.example.';
      case 'pod':
        return 'Type the pod’s address, like pod.example.';
    }
  }
  switch (kind) {
    case 'word':
      return Array.from(value).length > WORD_MAX ? `At most ${WORD_MAX} characters: this is ${Array.from(value).length}.` : '';
    case 'tag':
      if (/\s/.test(value)) return 'One tag at a time, without spaces.';
      return /^[\p{L}\p{N}_-]+$/u.test(value) ? '' : 'A tag has letters, digits, - and _ only.';
    case 'person': {
      const at = value.lastIndexOf('@');
      if (at <= 0 || at === value.length - 1) return 'A diaspora* ID looks like bob@pod.example.';
      const user = value.slice(0, at);
      const host = value.slice(at + 1);
      if (!/^[\p{L}\p{N}_.-]+$/u.test(user)) return 'The name before the @ has letters, digits, _ . and - only.';
      return validHost(host) ? '' : `“${host}” is not a pod’s address: it looks like pod.example.`;
    }
    case 'pod':
      if (value.includes('@')) return 'Give only the pod’s address, without a name: pod.example.';
      return validHost(value) ? '' : 'A pod’s address looks like pod.example.';
  }
}

// ---- Words

function quoted(v: string): string {
  return `“${v}”`;
}

/** What a filter catches: "posts with the word “spoiler”", "posts tagged #politics", "posts from bob@pod.example". */
export function filterSubject(f: Pick<Filter, 'kind' | 'value' | 'match'>): string {
  switch (f.kind) {
    case 'word':
      return f.match === 'substring' ? `posts containing ${quoted(f.value)}` : `posts with the word ${quoted(f.value)}`;
    case 'tag':
      return `posts tagged #${f.value}`;
    case 'person':
      return `posts from ${f.value}`;
    case 'pod':
      return `posts from anyone on ${f.value}`;
  }
}

function capital(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** "Hide posts with the word “spoiler”", "Collapse posts tagged #politics". */
export function describeFilter(f: Pick<Filter, 'kind' | 'value' | 'match' | 'action'>): string {
  return `${f.action === 'hide' ? 'Hide' : 'Collapse'} ${filterSubject(f)}`;
}

/** "Posts from bob@pod.example": the subject alone, for a heading. */
export function filterTitle(f: Pick<Filter, 'kind' | 'value' | 'match'>): string {
  return capital(filterSubject(f));
}

/** "In streams and notifications", "In search", "Nowhere". */
export function contextsLabel(contexts: readonly FilterContext[]): string {
  const names = CONTEXTS.filter((c) => contexts.includes(c.id)).map((c) => c.label.toLowerCase());
  if (names.length === 0) return 'Nowhere';
  if (names.length === 1) return `In ${names[0]}`;
  return `In ${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

export const ACTIONS: { id: FilterAction; label: string; hint: string }[] = [
  { id: 'collapse', label: 'Collapse', hint: 'The post stays in place, folded, with the reason; open it with a click.' },
  { id: 'hide', label: 'Hide', hint: 'The post is left out, as if it were never there.' },
];

// ---- Time

export type Duration = '1d' | '1w' | '1m' | 'forever';

export const DURATIONS: { id: Duration; label: string }[] = [
  { id: '1d', label: 'For 1 day' },
  { id: '1w', label: 'For 1 week' },
  { id: '1m', label: 'For 1 month' },
  { id: 'forever', label: 'Forever' },
];

/** The expires_at a duration gives from now: null for forever. A month is a calendar month (31 Jan → 28/29 Feb). */
export function expiresAt(d: Duration, now: number = Date.now()): string | null {
  const t = new Date(now);
  switch (d) {
    case 'forever':
      return null;
    case '1d':
      return new Date(now + 86_400_000).toISOString();
    case '1w':
      return new Date(now + 7 * 86_400_000).toISOString();
    case '1m': {
      const day = t.getUTCDate();
      t.setUTCDate(1);
      t.setUTCMonth(t.getUTCMonth() + 1);
      const last = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 0)).getUTCDate();
      t.setUTCDate(Math.min(day, last));
      return t.toISOString();
    }
  }
}

/** Whether a filter no longer applies: the pod says so, or its end has passed since it said. */
export function isExpired(f: Pick<Filter, 'expired' | 'expires_at'>, now: number = Date.now()): boolean {
  if (f.expired) return true;
  if (!f.expires_at) return false;
  const t = Date.parse(f.expires_at);
  return !Number.isNaN(t) && t <= now;
}

/** How far ahead a time is: "in 5 min", "in 3 h", "in 6 d", "on 27 Dec" (and "now" when it has passed). */
export function timeUntil(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((t - now) / 1000);
  if (s <= 0) return 'now';
  if (s < 60) return 'in less than a minute';
  const m = Math.round(s / 60);
  if (m < 60) return `in ${m} min`;
  const h = Math.round(m / 60);
  if (h < 24) return `in ${h} h`;
  const d = Math.round(h / 24);
  if (d < 14) return `in ${d} d`;
  const date = new Date(t);
  const sameYear = date.getUTCFullYear() === new Date(now).getUTCFullYear();
  return 'on ' + date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: sameYear ? undefined : 'numeric', timeZone: 'UTC' });
}

/** "Forever", "Ends in 3 h", "Expired". */
export function expiryLabel(f: Pick<Filter, 'expired' | 'expires_at'>, now: number = Date.now()): string {
  if (isExpired(f, now)) return 'Expired';
  if (!f.expires_at) return 'Forever';
  return `Ends ${timeUntil(f.expires_at, now)}`;
}

// ---- The form

/** The add and edit form's state. `duration: 'keep'` (editing only) leaves the end as it is. */
export interface FilterForm {
  kind: FilterKind;
  value: string;
  match: FilterMatch;
  contexts: FilterContext[];
  action: FilterAction;
  duration: Duration | 'keep';
}

export function blankForm(kind: FilterKind = 'word'): FilterForm {
  return { kind, value: '', match: 'word', contexts: [...DEFAULT_CONTEXTS], action: 'collapse', duration: 'forever' };
}

export function formFromFilter(f: Filter): FilterForm {
  return { kind: f.kind, value: f.value, match: f.match, contexts: [...f.contexts], action: f.action, duration: 'keep' };
}

/** Every problem of a form, by field ('' when none): the value and the contexts. */
export function formProblems(form: FilterForm): { value: string; contexts: string } {
  return {
    value: valueProblem(form.kind, normalizeValue(form.kind, form.value)),
    contexts: form.contexts.length === 0 ? 'Choose at least one place where the filter applies.' : '',
  };
}

function sameSet<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** The new filter a form describes. */
export function inputFromForm(form: FilterForm, now: number = Date.now()): FilterInput {
  const input: FilterInput = {
    kind: form.kind,
    value: normalizeValue(form.kind, form.value),
    contexts: CONTEXTS.map((c) => c.id).filter((c) => form.contexts.includes(c)),
    action: form.action,
  };
  if (form.kind === 'word') input.match = form.match;
  const end = form.duration === 'keep' ? null : expiresAt(form.duration, now);
  if (end) input.expires_at = end;
  return input;
}

/** Only what an edit changes ({} when nothing): a new duration always restarts from now. */
export function patchFromForm(f: Filter, form: FilterForm, now: number = Date.now()): FilterPatch {
  const p: FilterPatch = {};
  const value = normalizeValue(f.kind, form.value);
  if (value !== f.value) p.value = value;
  if (f.kind === 'word' && form.match !== f.match) p.match = form.match;
  if (!sameSet(form.contexts, f.contexts)) p.contexts = CONTEXTS.map((c) => c.id).filter((c) => form.contexts.includes(c));
  if (form.action !== f.action) p.action = form.action;
  if (form.duration !== 'keep') p.expires_at = expiresAt(form.duration, now);
  return p;
}

/** Active filters first (newest first), then the expired ones. */
export function sortFilters(list: readonly Filter[], now: number = Date.now()): Filter[] {
  return [...list].sort((a, b) => {
    const ea = isExpired(a, now) ? 1 : 0;
    const eb = isExpired(b, now) ? 1 : 0;
    if (ea !== eb) return ea - eb;
    return Date.parse(b.created_at) - Date.parse(a.created_at) || a.id.localeCompare(b.id);
  });
}

/** The sentence for a refused filter change. */
export function filterError(e: unknown, what: 'add' | 'save' | 'delete' | 'load'): string {
  const m = e instanceof Error ? e.message.trim() : String(e);
  const end = m === '' || /[.!?…]$/.test(m) ? m : m + '.';
  if (e instanceof ApiError) {
    if (e.status === 409) return 'You already have a filter like this one: edit that one instead.';
    if (e.status === 422) return `The pod refused this filter: ${end}`;
    if (e.status === 404 && what !== 'add') return 'This filter is gone: it was deleted, perhaps on another device.';
  }
  const verb = { add: 'The filter was not added', save: 'The change was not saved', delete: 'The filter was not deleted', load: 'Your filters could not be listed' }[what];
  return `${verb}: ${end}`;
}

// ---- Notification settings

export type OsService = 'available' | 'unavailable' | 'not_in_window';

export interface PodSettings {
  notifications: { os: boolean; types: string[] };
  os_service: OsService;
}

export interface SettingsPatch {
  notifications: { os?: boolean; types?: string[] };
}

/** The notification types, in the order the section lists them, with what each means. */
export const NOTIFICATION_TYPES: { id: string; label: string }[] = [
  { id: 'comment_on_post', label: 'Someone comments on your post' },
  { id: 'also_commented', label: 'Someone comments on a post you commented on' },
  { id: 'mentioned', label: 'Someone mentions you in a post' },
  { id: 'mentioned_in_comment', label: 'Someone mentions you in a comment' },
  { id: 'liked', label: 'Someone likes your post' },
  { id: 'liked_comment', label: 'Someone likes your comment' },
  { id: 'reshared', label: 'Someone reshares your post' },
  { id: 'started_sharing', label: 'Someone starts sharing with you' },
  { id: 'contacts_birthday', label: 'A contact has a birthday' },
  { id: 'conversation', label: 'You get a private message' },
];

/** A type's plain label; an unknown one is spelled out from its name ("new_thing" → "New thing"). */
export function notificationTypeLabel(id: string): string {
  return NOTIFICATION_TYPES.find((t) => t.id === id)?.label ?? capital(id.replace(/_/g, ' '));
}

/** Why OS notifications cannot be switched here, or '' when they can. */
export function osServiceNote(s: OsService): string {
  switch (s) {
    case 'available':
      return '';
    case 'not_in_window':
      return 'Shown by the desktop app; in a browser tab Seedpod cannot put notifications on your desktop. Open the Seedpod app to change this.';
    case 'unavailable':
      return 'No notification service was found on this desktop, so Seedpod cannot show notifications outside its window. You still find them under Notifications.';
  }
}

/** The types list with one switched on or off, in NOTIFICATION_TYPES order (unknown types kept at the end). */
export function toggleType(types: readonly string[], id: string, on: boolean): string[] {
  const set = new Set(types);
  if (on) set.add(id);
  else set.delete(id);
  const known = NOTIFICATION_TYPES.map((t) => t.id).filter((t) => set.has(t));
  const rest = [...set].filter((t) => !NOTIFICATION_TYPES.some((k) => k.id === t));
  return [...known, ...rest];
}

/** The filter muting a tag in the streams now, if there is one (a tag page's Mute button). */
export function tagMute(list: readonly Filter[], tag: string, now: number = Date.now()): Filter | undefined {
  const t = normalizeValue('tag', tag);
  return list.find((f) => f.kind === 'tag' && f.value === t && f.contexts.includes('streams') && !isExpired(f, now));
}

// ---- Calls

export function filtersApi(c: Client) {
  return {
    list: () => c.request<Filter[]>('GET', '/filters'),
    create: (input: FilterInput) => c.request<Filter>('POST', '/filters', input),
    update: (id: string, patch: FilterPatch) => c.request<Filter>('PATCH', `/filters/${encodeURIComponent(id)}`, patch),
    remove: (id: string) => c.request<void>('DELETE', `/filters/${encodeURIComponent(id)}`),
    settings: () => c.request<PodSettings>('GET', '/settings'),
    updateSettings: (patch: SettingsPatch) => c.request<PodSettings>('PATCH', '/settings', patch),
  };
}

export type FiltersApi = ReturnType<typeof filtersApi>;

/** "Added just now", "Added 5 min ago", "Added 3 Nov" (or with another first word). */
export function addedLabel(iso: string, now: number = Date.now(), verb = 'Added'): string {
  const rel = relativeTime(iso, now);
  if (!rel) return '';
  return /\d (min|h|d)$/.test(rel) ? `${verb} ${rel} ago` : `${verb} ${rel}`;
}

/** When an expired filter ended: "Ended 2 h ago"; "Ended" when the pod gave no end. */
export function endedLabel(f: Pick<Filter, 'expires_at'>, now: number = Date.now()): string {
  return (f.expires_at && addedLabel(f.expires_at, now, 'Ended')) || 'Ended';
}
