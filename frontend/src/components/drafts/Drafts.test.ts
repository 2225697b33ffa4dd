import { flushSync, mount, tick, unmount } from 'svelte';
import { afterEach, expect, test } from 'vitest';
import { Client } from '../../lib/api';
import { PodState } from '../../lib/pod.svelte';
import { Router } from '../../lib/router.svelte';
import Drafts from './Drafts.svelte';

const draft = {
  id: 'd1',
  body: 'Version from the laptop',
  public: true,
  aspects: [],
  photos: [],
  created_at: '2026-11-27T10:00:00Z',
  updated_at: '2026-11-27T10:05:00Z',
  revision: 'rev1',
  conflicts: [{ device: 'abcdef0123456789', body: 'Version from the desktop', updated_at: '2026-11-27T10:04:00Z' }],
};

let app: ReturnType<typeof mount> | undefined;
afterEach(() => {
  if (app) unmount(app);
  document.body.innerHTML = '';
  window.location.hash = '';
});

const settle = async () => {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    await tick();
  }
  flushSync();
};

test('two versions side by side; keeping one writes it with the revision seen, which resolves the conflict', async () => {
  const writes: { method: string; path: string; ifMatch: string | null; body: unknown }[] = [];
  let current = draft;
  const fetchFn = (async (url: RequestInfo | URL, init?: RequestInit) => {
    const path = String(url).replace('/api/seedpod/v1', '').split('?')[0] ?? '';
    const method = init?.method ?? 'GET';
    if (method !== 'GET') {
      writes.push({ method, path, ifMatch: new Headers(init?.headers).get('If-Match'), body: JSON.parse(String(init?.body ?? 'null')) });
      current = { ...draft, body: (JSON.parse(String(init?.body)) as { body: string }).body, revision: 'rev2', conflicts: [] };
      return new Response(JSON.stringify(current));
    }
    if (path === '/drafts') return new Response(JSON.stringify([current]));
    if (path === '/drafts/d1') return new Response(JSON.stringify(current));
    if (path === '/drafts/folder') return new Response(JSON.stringify({ path: '/home/ana/Drafts', watching: true }));
    if (path === '/api/v1/aspects') return new Response('[]');
    return new Response('{"error":"not_found","message":"no"}', { status: 404 });
  }) as typeof fetch;
  window.location.hash = '#/drafts/d1';
  const pod = new PodState(new Client(fetchFn));
  app = mount(Drafts, { target: document.body, props: { pod, router: new Router() } });
  await settle();
  const versions = [...document.querySelectorAll('.versions article')].map((a) => a.querySelector('pre')?.textContent);
  expect(versions).toEqual(['Version from the laptop', 'Version from the desktop']);
  expect(document.querySelector('.list a .badge')?.textContent).toBe('2 versions');
  const keep = [...document.querySelectorAll<HTMLButtonElement>('.versions button')][1];
  keep?.click();
  await settle();
  expect(writes).toEqual([
    { method: 'PATCH', path: '/drafts/d1', ifMatch: '"rev1"', body: { body: 'Version from the desktop', public: true, aspects: [] } },
  ]);
  expect(document.querySelector('.versions')).toBeNull();
  expect((document.getElementById('draft-body') as HTMLTextAreaElement).value).toBe('Version from the desktop');
});
