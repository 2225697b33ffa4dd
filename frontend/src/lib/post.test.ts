import { describe, expect, it } from 'vitest';
import { ApiError } from './api';
import {
  PostApi,
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
  it('sends the CSRF token and If-Match, reads the ETag', async () => {
    const calls: { url: string; init: RequestInit }[] = [];
    const f = (async (url: string, init: RequestInit) => {
      calls.push({ url, init });
      if (url.endsWith('/session')) return new Response(JSON.stringify({ mode: 'serve', csrf_token: 'tok' }));
      return new Response(JSON.stringify({ guid: 'g' }), { headers: { ETag: '"g-2"' } });
    }) as unknown as typeof fetch;
    const a = new PostApi(f);
    const r = await a.edit('g', 'new', '"g-1"');
    expect(r.etag).toBe('"g-2"');
    const edit = calls.find((c) => c.init.method === 'PATCH');
    expect(edit?.url).toBe('/api/seedpod/v1/posts/g');
    const h = edit?.init.headers as Record<string, string>;
    expect(h['If-Match']).toBe('"g-1"');
    expect(h['X-CSRF-Token']).toBe('tok');
    await a.post('g');
    const get = calls.filter((c) => c.init.method === 'GET' && !c.url.endsWith('/session')).at(-1);
    expect((get?.init.headers as Record<string, string>)['X-CSRF-Token']).toBeUndefined();
  });

  it('turns refusals into ApiError with the pod’s message', async () => {
    const f = (async (url: string) =>
      url.endsWith('/session')
        ? new Response('{}')
        : new Response(JSON.stringify({ error: 'stale_revision', message: 'stale version: changed' }), { status: 412 })) as unknown as typeof fetch;
    await expect(new PostApi(f).edit('g', 'x', '"g-1"')).rejects.toMatchObject({ status: 412, code: 'stale_revision' });
  });
});
