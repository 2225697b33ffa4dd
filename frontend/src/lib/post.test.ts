import { describe, expect, it } from 'vitest';
import { ApiError, Client } from './api';
import {
  COMMENTS_PAGE,
  PostApi,
  addPage,
  filteredReason,
  commentHash,
  deliverySentence,
  failure,
  optimisticLike,
  podReason,
  pollPercents,
  reshareBlock,
  sortedPods,
  toggledLike,
  typing,
  versionLabels,
  wordDiff,
  type Delivery,
  type LikeState,
} from './post';

describe('likes', () => {
  it.each([
    [{ liked: false, count: 0 }, { liked: true, count: 1 }],
    [{ liked: false, count: 4 }, { liked: true, count: 5 }],
    [{ liked: true, count: 5 }, { liked: false, count: 4 }],
    [{ liked: true, count: 0 }, { liked: false, count: 0 }],
  ])('toggles %j to %j', (from, to) => {
    expect(toggledLike(from)).toEqual(to);
  });

  it('shows the new state at once and keeps it when the pod agrees', async () => {
    const shown: LikeState[] = [];
    let sent: boolean | undefined;
    const r = await optimisticLike({ liked: false, count: 2 }, async (on) => (sent = on), (s) => shown.push(s));
    expect(sent).toBe(true);
    expect(r).toEqual({ liked: true, count: 3 });
    expect(shown).toEqual([{ liked: true, count: 3 }]);
  });

  it('reverts and rethrows when the pod refuses', async () => {
    const shown: LikeState[] = [];
    const err = new ApiError(404, 'not_found', 'not found: no post');
    await expect(
      optimisticLike({ liked: true, count: 3 }, () => Promise.reject(err), (s) => shown.push(s)),
    ).rejects.toBe(err);
    expect(shown).toEqual([
      { liked: false, count: 2 },
      { liked: true, count: 3 },
    ]);
  });
});

describe('pollPercents', () => {
  const poll = (...counts: number[]) => ({
    poll_answers: counts.map((vote_count, id) => ({ id, answer: String(id), vote_count })),
  });
  it.each([
    [[0, 0, 0], [0, 0, 0]],
    [[1, 1, 1], [34, 33, 33]],
    [[1, 0], [100, 0]],
    [[2, 1], [67, 33]],
    [[1, 1, 1, 1, 1, 1, 1], [15, 15, 14, 14, 14, 14, 14]],
    [[3, 5, 2], [30, 50, 20]],
  ])('%j votes → %j %', (counts, want) => {
    const got = pollPercents(poll(...counts));
    expect(got).toEqual(want);
    if (counts.some((c) => c > 0)) expect(got.reduce((a, b) => a + b, 0)).toBe(100);
  });
});

describe('edit history', () => {
  it.each([
    ['a b c', 'a b c', 0, 0],
    ['a b c', 'a b c d', 1, 0],
    ['a b c', 'a c', 0, 1],
    ['hello world', 'hello there world', 1, 0],
    ['one two three', 'three two one', 2, 2],
    ['', 'new text', 2, 0],
  ])('%j → %j: +%d −%d', (a, b, added, removed) => {
    expect(wordDiff(a, b)).toEqual({ added, removed });
  });

  it('labels versions with what they changed', () => {
    expect(versionLabels([{ body: 'Hello world' }, { body: 'Hello big world' }, { body: 'Hello' }, { body: 'Hello' }])).toEqual([
      { title: 'Original', change: '' },
      { title: 'Edit 1', change: '+1 word' },
      { title: 'Edit 2', change: '−2 words' },
      { title: 'Edit 3', change: 'no change to the words' },
    ]);
  });
});

describe('delivery', () => {
  const d = (states: [string, number][]): Delivery => {
    const pods = states.map(([state, n], i) => ({
      host: `pod${i}.example`,
      people: Array.from({ length: n }, (_, k) => `p${k}@pod${i}.example`),
      state: state as 'queued',
      attempts: 0,
    }));
    const sum = (s: string) => pods.filter((p) => p.state === s).reduce((n, p) => n + p.people.length, 0);
    return {
      summary: { total: sum('queued') + sum('pending') + sum('delivered') + sum('failed'), delivered: sum('delivered'), pending: sum('pending') + sum('queued'), failed: sum('failed') },
      pods,
    };
  };
  it.each([
    [d([]), false, 'No one on another pod'],
    [d([['queued', 2], ['queued', 1]]), false, 'Queued on this device for 3 people: without a relay nothing leaves'],
    [d([['queued', 1]]), true, 'Waiting to go out to 1 person on 1 pod'],
    [d([['delivered', 2], ['failed', 1]]), true, 'Delivered to 2 of 3 people, 1 failed.'],
    [d([['delivered', 1], ['pending', 2]]), true, 'Delivered to 1 of 3 people, 2 still on the way.'],
  ])('%#: says it plainly', (del, relay, want) => {
    expect(deliverySentence(del, relay)).toContain(want);
  });
});

describe('sortedPods', () => {
  it('puts trouble first, then hosts in natural order', () => {
    const p = (host: string, state: string) => ({ host, state: state as 'queued', people: [], attempts: 0 });
    const got = sortedPods([p('pod10.x', 'queued'), p('pod2.x', 'queued'), p('b.x', 'delivered'), p('z.x', 'failed'), p('a.x', 'pending')]);
    expect(got.map((x) => x.host)).toEqual(['z.x', 'a.x', 'pod2.x', 'pod10.x', 'b.x']);
  });
});

describe('reshare and errors', () => {
  const author = { guid: 'a', diaspora_id: 'bob@far.example' };
  it.each([
    [{ public: true, post_type: 'StatusMessage' as const, author }, 'me@here', ''],
    [{ public: false, post_type: 'StatusMessage' as const, author }, 'me@here', 'Limited posts'],
    [{ public: true, post_type: 'StatusMessage' as const, author }, 'bob@far.example', 'your own post'],
  ])('%#', (post, me, want) => {
    const got = reshareBlock(post, me);
    if (want) expect(got).toContain(want);
    else expect(got).toBe('');
  });

  it.each([
    ['invalid input: Failed to reshare: you cannot reshare your own post', 'you cannot reshare your own post'],
    ['not found: only public posts can be reshared', 'only public posts can be reshared'],
    ['Something', 'something'],
  ])('podReason(%j)', (msg, want) => {
    expect(podReason(msg)).toBe(want);
  });

  it('says what failed', () => {
    expect(failure('Liking', new ApiError(0, 'unreachable', 'x'))).toMatch(/not reachable/);
    expect(failure('Saving', new ApiError(412, 'stale_revision', 'x'))).toMatch(/changed since you opened it/);
    expect(failure('Resharing', new ApiError(404, 'not_found', 'not found: only public posts can be reshared'))).toBe(
      'Resharing failed: only public posts can be reshared',
    );
  });

  it('knows fields from the rest', () => {
    const input = document.createElement('input');
    const div = document.createElement('div');
    const inside = document.createElement('span');
    const ed = document.createElement('div');
    ed.setAttribute('contenteditable', 'true');
    ed.append(inside);
    expect(typing(input)).toBe(true);
    expect(typing(inside)).toBe(true);
    expect(typing(div)).toBe(false);
    expect(typing(null)).toBe(false);
  });

  it('builds the comment route', () => {
    expect(commentHash('a/b')).toBe('#/post/a%2Fb/comment');
  });
});

describe('PostApi', () => {
  type Call = { url: string; init: RequestInit };
  function pod(answer: (url: string, init: RequestInit) => Response) {
    const calls: Call[] = [];
    const f = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      if (url.endsWith('/session')) return new Response(JSON.stringify({ mode: 'serve', csrf_token: 'tok' }));
      return answer(url, init);
    }) as unknown as typeof fetch;
    return { c: new Client(f), calls };
  }

  it('sends the Client’s CSRF token and If-Match, reads the ETag', async () => {
    const { c, calls } = pod(() => new Response(JSON.stringify({ guid: 'g' }), { headers: { ETag: '"g-2"' } }));
    await c.session();
    const a = new PostApi(c);
    const r = await a.edit('g', 'new', '"g-1"');
    expect(r.etag).toBe('"g-2"');
    const edit = calls.find((x) => x.init.method === 'PATCH');
    expect(edit?.url).toBe('/api/seedpod/v1/posts/g');
    const h = edit?.init.headers as Record<string, string>;
    expect(h['If-Match']).toBe('"g-1"');
    expect(h['X-CSRF-Token']).toBe('tok');
    await a.post('g');
    const get = calls.filter((x) => x.init.method === 'GET' && !x.url.endsWith('/session')).at(-1);
    expect(get?.url).toBe('/api/v1/posts/g');
    expect((get?.init.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
    // one session request: PostApi asks the Client, not the pod, for the token
    expect(calls.filter((x) => x.url.endsWith('/session'))).toHaveLength(1);
  });

  it.each([
    ['a strong tag', '"g-2"', '"g-2"'],
    ['a weak tag', 'W/"g-2"', 'W/"g-2"'],
    ['no ETag', null, ''],
  ])('keeps %s as the pod sent it, for If-Match', async (_n, sent, kept) => {
    const { c } = pod(() => new Response('{"guid":"g"}', { headers: sent ? { ETag: sent } : {} }));
    expect((await new PostApi(c).post('g')).etag).toBe(kept);
  });

  it('leaves If-Match out when there is no ETag', async () => {
    const { c, calls } = pod(() => new Response('{"guid":"g"}'));
    await new PostApi(c).edit('g', 'x', '');
    expect((calls.at(-1)?.init.headers as Record<string, string>)['If-Match']).toBeUndefined();
  });

  it('turns refusals into ApiError with the pod’s message', async () => {
    const { c } = pod(() => new Response(JSON.stringify({ error: 'stale_revision', message: 'stale version: changed' }), { status: 412 }));
    await expect(new PostApi(c).edit('g', 'x', '"g-1"')).rejects.toMatchObject({ status: 412, code: 'stale_revision' });
    const { c: down } = pod(() => {
      throw new TypeError('Failed to fetch');
    });
    await expect(new PostApi(down).post('g')).rejects.toMatchObject({ status: 0, code: 'unreachable' });
  });

  const comment = (i: number) => ({ guid: 'c' + i, created_at: '', author: { guid: 'a', diaspora_id: 'a@x' }, body: String(i), reported: false, interactions: { liked: false, likes_count: 0 } });
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => comment(from + i));

  it('follows the comments’ Link next until a short page', async () => {
    const pages: Record<string, { items: unknown[]; link?: string }> = {
      [`/api/v1/posts/p/comments?html=1&per_page=${COMMENTS_PAGE}`]: {
        items: range(0, COMMENTS_PAGE),
        link: `</api/v1/posts/p/comments?html=1&per_page=${COMMENTS_PAGE}&after=A&cursor=c1>; rel="next", </api/v1/posts/p/comments?before=x>; rel="previous"`,
      },
      [`/api/v1/posts/p/comments?html=1&per_page=${COMMENTS_PAGE}&after=A&cursor=c1`]: {
        // the page edge repeated, then three more: a short page, the end
        items: [comment(COMMENTS_PAGE - 1), ...range(COMMENTS_PAGE, 3)],
        link: `</api/v1/posts/p/comments?html=1&per_page=${COMMENTS_PAGE}&after=B&cursor=c2>; rel="next"`,
      },
    };
    const { c, calls } = pod((url) => {
      const p = pages[url];
      if (!p) return new Response('{"error":"not_found","message":"no page"}', { status: 404 });
      return new Response(JSON.stringify(p.items), { headers: p.link ? { Link: p.link } : {} });
    });
    const a = new PostApi(c);
    const first = await a.comments('p');
    expect(first.items).toHaveLength(COMMENTS_PAGE);
    expect(first.next).toBe(`/api/v1/posts/p/comments?html=1&per_page=${COMMENTS_PAGE}&after=A&cursor=c1`);
    const all = await a.commentsCovering('p', COMMENTS_PAGE + 1);
    expect(all.items.map((x) => x.guid)).toEqual(range(0, COMMENTS_PAGE + 3).map((x) => x.guid));
    expect(all.next).toBe('');
    // covering what is shown: one page is enough for fewer
    const n = calls.length;
    await a.commentsCovering('p', 10);
    expect(calls.length - n).toBe(1);
  });

  it('pages likes while the pod says there is a next page', async () => {
    const { c } = pod((url) =>
      url.includes('page=2')
        ? new Response(JSON.stringify([{ guid: 'l2', author: {} }]), { headers: { Link: '</api/v1/posts/p/likes?per_page=100&page=1>; rel="previous"' } })
        : new Response(JSON.stringify([{ guid: 'l1', author: {} }]), { headers: { Link: '</api/v1/posts/p/likes?per_page=100&page=2>; rel="next"' } }),
    );
    const a = new PostApi(c);
    const one = await a.likes('p');
    expect(one).toEqual({ items: [{ guid: 'l1', author: {} }], next: '/api/v1/posts/p/likes?per_page=100&page=2' });
    const two = await a.likes('p', one.next);
    expect(two.next).toBe('');
  });
});

describe('addPage', () => {
  const g = (...ids: string[]) => ids.map((guid) => ({ guid }));
  it.each([
    ['appends a page', g('a', 'b'), g('c', 'd'), 'N', 2, ['a', 'b', 'c', 'd'], 'N'],
    ['drops items already there', g('a', 'b'), g('b', 'c'), 'N', 2, ['a', 'b', 'c'], 'N'],
    ['drops repeats within a page', [], g('a', 'a'), 'N', 2, ['a'], 'N'],
    ['a short page is the end', g('a'), g('b'), 'N', 2, ['a', 'b'], ''],
    ['an empty page is the end', g('a'), [], 'N', 2, ['a'], ''],
    ['no link is the end', [], g('a', 'b'), undefined, 2, ['a', 'b'], ''],
  ])('%s', (_n, prev, page, next, per, items, want) => {
    const r = addPage(prev, page, next, per);
    expect(r.items.map((x) => x.guid)).toEqual(items);
    expect(r.next).toBe(want);
  });
});

describe('filteredReason', () => {
  it.each([
    [[{ kind: 'word', value: 'spoiler' }], 'Collapsed by your filter: the word “spoiler”'],
    [[{ kind: 'tag', value: 'x' }], 'Collapsed by your filter: the tag #x'],
    [[{ kind: 'tag', value: '#x' }], 'Collapsed by your filter: the tag #x'],
    [[{ kind: 'person', value: 'bob@pod' }], 'Collapsed by your filter: posts from bob@pod'],
    [[{ kind: 'pod', value: 'pod.example' }], 'Collapsed by your filter: the pod pod.example'],
    [
      [
        { kind: 'word', value: 'a' },
        { kind: 'tag', value: 'b' },
      ],
      'Collapsed by your filters: the word “a” and the tag #b',
    ],
    [
      [
        { kind: 'word', value: 'a' },
        { kind: 'word', value: 'b' },
        { kind: 'pod', value: 'p.x' },
      ],
      'Collapsed by your filters: the word “a”, the word “b” and the pod p.x',
    ],
    [[], 'Collapsed by your filters.'],
  ] as const)('%j', (filters, want) => {
    expect(filteredReason(filters)).toBe(want);
  });
});
