import { describe, expect, test } from 'vitest';
import { Client, Pod, type Post } from './api';
import { PAGE, StreamState } from './stream.svelte';

function post(i: number, extra: Partial<Post> = {}): Post {
  return {
    guid: `g${i}`,
    created_at: new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString(),
    post_type: 'StatusMessage',
    title: `post ${i}`,
    body: `post ${i}`,
    public: true,
    nsfw: false,
    author: { guid: 'a', diaspora_id: 'ana@relay.example', name: 'Ana' },
    interaction_counters: { comments: 0, likes: 0, reshares: 0 },
    own_interaction_state: { liked: false, reshared: false, subscribed: false, reported: false },
    mentioned_people: [],
    photos: [],
    ...extra,
  };
}

/** A pod holding posts 1..n (newest first in streams), paging by `before`. */
function fakePod(all: Post[]) {
  const calls: string[] = [];
  const gate: { hold?: Promise<void> } = {};
  const c = new Client((async (url: RequestInfo | URL) => {
    const u = new URL(String(url), 'http://pod');
    calls.push(u.pathname + u.search);
    if (gate.hold) await gate.hold;
    if (u.pathname.startsWith('/api/v1/streams/') || u.pathname === '/api/seedpod/v1/streams/public') {
      const before = u.searchParams.get('before');
      const per = Number(u.searchParams.get('per_page'));
      const sorted = [...all].sort((a, b) => b.created_at.localeCompare(a.created_at));
      const page = sorted.filter((p) => !before || p.created_at < before).slice(0, per);
      return new Response(JSON.stringify(page));
    }
    const m = u.pathname.match(/^\/api\/v1\/posts\/(.+)$/);
    if (m) {
      const p = all.find((x) => x.guid === m[1]);
      return p ? new Response(JSON.stringify(p)) : new Response('{"error":"not_found","message":"gone"}', { status: 404 });
    }
    return new Response('{}', { status: 404 });
  }) as typeof fetch);
  return { api: new Pod(c), calls, gate };
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, k) => post(a + k));

describe('StreamState', () => {
  test('pages newest first until a short page', async () => {
    const { api, calls } = fakePod(range(1, 70));
    const s = new StreamState(api);
    await s.open('main');
    expect(s.posts.map((p) => p.guid).slice(0, 2)).toEqual(['g70', 'g69']);
    expect(s.posts).toHaveLength(PAGE);
    await s.more();
    await s.more();
    expect(s.posts).toHaveLength(70);
    expect(s.done).toBe(true);
    expect(new Set(s.posts.map((p) => p.guid)).size).toBe(70);
    expect(calls[1]).toContain('before=' + encodeURIComponent(post(41).created_at));
    await s.more(); // done: no request
    expect(calls).toHaveLength(3);
  });

  test('a new post waits in pending while the user reads, and shows on request', async () => {
    const all = range(1, 40);
    const { api } = fakePod(all);
    const s = new StreamState(api);
    await s.open('main');
    all.push(post(41), post(42));
    await s.onPostEvent({ kind: 'status_message', guid: 'g42' }, false);
    expect(s.posts[0]?.guid).toBe('g40');
    expect(s.pending.map((p) => p.guid)).toEqual(['g42', 'g41']);
    await s.onPostEvent({ kind: 'post', guid: 'g41' }, false); // already pending: nothing new
    expect(s.pending).toHaveLength(2);
    s.showPending();
    expect(s.posts.slice(0, 3).map((p) => p.guid)).toEqual(['g42', 'g41', 'g40']);
    expect(s.pending).toHaveLength(0);
  });

  test('at the top, a new post shows at once', async () => {
    const all = range(1, 3);
    const { api } = fakePod(all);
    const s = new StreamState(api);
    await s.open('main');
    all.push(post(4));
    await s.onPostEvent({ kind: 'post', guid: 'g4' }, true);
    expect(s.posts.map((p) => p.guid)).toEqual(['g4', 'g3', 'g2', 'g1']);
  });

  test('an interaction refreshes its post; a retraction removes it; a vanished post goes', async () => {
    const all = range(1, 3);
    const { api } = fakePod(all);
    const s = new StreamState(api);
    await s.open('main');
    all[1] = post(2, { interaction_counters: { comments: 1, likes: 5, reshares: 0 } });
    await s.onPostEvent({ kind: 'comment', guid: 'c1', post_guid: 'g2' }, false);
    expect(s.posts.find((p) => p.guid === 'g2')?.interaction_counters.likes).toBe(5);
    await s.onPostEvent({ kind: 'retracted_post', guid: 'g3' }, false);
    expect(s.posts.map((p) => p.guid)).toEqual(['g2', 'g1']);
    all.splice(0, 1); // g1 deleted on the pod
    await s.onPostEvent({ kind: 'like', guid: 'l1', post_guid: 'g1' }, false);
    expect(s.posts.map((p) => p.guid)).toEqual(['g2']);
  });

  test('a relay taking an own post refreshes it: its delivery state moves on', async () => {
    const all = [post(1, { seedpod: { delivery: { state: 'queued' } } })];
    const { api } = fakePod(all);
    const s = new StreamState(api);
    await s.open('main');
    all[0] = post(1, { seedpod: { delivery: { state: 'handed' } } });
    await s.onPostEvent({ kind: 'handed', post_guid: 'g1' }, false);
    expect(s.posts[0]?.seedpod?.delivery?.state).toBe('handed');
  });

  test('a page of a stream the user left is dropped', async () => {
    const { api, gate } = fakePod(range(1, 5));
    const s = new StreamState(api);
    let release!: () => void;
    gate.hold = new Promise((r) => (release = r));
    const first = s.open('main');
    const second = s.open('liked');
    release();
    await Promise.all([first, second]);
    expect(s.name).toBe('liked');
    expect(s.posts).toHaveLength(5); // one page, not two
  });

  test('addOwn puts the user’s post on top at once, without a duplicate', async () => {
    const { api } = fakePod(range(1, 2));
    const s = new StreamState(api);
    await s.open('main');
    s.addOwn(post(3));
    s.addOwn(post(3));
    expect(s.posts.map((p) => p.guid)).toEqual(['g3', 'g2', 'g1']);
  });

  test('a failing page says why and keeps what was shown', async () => {
    const s = new StreamState(new Pod(new Client((async () => new Response('{"error":"internal","message":"disk full"}', { status: 500 })) as typeof fetch)));
    await s.open('main');
    expect(s.error).toBe('disk full');
    expect(s.loading).toBe(false);
  });
});
