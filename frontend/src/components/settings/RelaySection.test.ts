import { flushSync, mount, tick, unmount } from 'svelte';
import { afterEach, expect, test } from 'vitest';
import { Client } from '../../lib/api';
import type { Handler, LiveEvents } from '../../lib/events';
import { PodState } from '../../lib/pod.svelte';
import { settingsApi } from '../../lib/settings';
import RelaySection from './RelaySection.svelte';

let app: ReturnType<typeof mount> | undefined;
afterEach(() => {
  if (app) unmount(app);
  document.body.innerHTML = '';
});

const settle = async () => {
  for (let i = 0; i < 5; i++) {
    await new Promise((r) => setTimeout(r, 0));
    await tick();
  }
  flushSync();
};

const off = { state: 'off', outbox_pending: 0 };
const one = { state: 'connected', relay: 'https://relay.example', diaspora_id: 'ana@relay.example', outbox_pending: 0 };
const two = { state: 'connected', relay: 'https://relay2.example', diaspora_id: 'ana@relay2.example', outbox_pending: 0 };

// The relay's state can change under a request in flight: the pod emits a
// `federation` event as soon as the relay takes it, before the POST answers.
// What the form announces follows what was sent, not the state seen since.
test.each([
  { name: 'enrolment answered after a live event saw the relay', before: off, after: one, path: '/relay', button: 'Connect', says: 'Connected to the relay.' },
  { name: 'move answered after a live event saw the new relay', before: one, after: two, path: '/relay/move', button: 'Move', says: 'Moved: you are now ana@relay2.example.' },
])('$name', async ({ before, after, path, button, says }) => {
  let state: object = before;
  let answer: ((r: Response) => void) | undefined;
  const posts: string[] = [];
  const fetchFn = (async (url: RequestInfo | URL, init?: RequestInit) => {
    const p = String(url).replace('/api/seedpod/v1', '').split('?')[0] ?? '';
    if ((init?.method ?? 'GET') === 'POST') {
      posts.push(p);
      return new Promise<Response>((res) => (answer = res));
    }
    if (p === '/relay') return new Response(JSON.stringify(state));
    return new Response('{"error":"not_found","message":"no"}', { status: 404 });
  }) as typeof fetch;
  const handlers = new Set<Handler>();
  const live = { subscribe: (h: Handler) => (handlers.add(h), () => handlers.delete(h)) } as unknown as LiveEvents;
  const client = new Client(fetchFn);
  app = mount(RelaySection, { target: document.body, props: { api: settingsApi(client), pod: new PodState(client), live } });
  await settle();
  if (before !== off) {
    [...document.querySelectorAll<HTMLButtonElement>('button')].find((b) => b.textContent?.includes('Move to another relay'))?.click();
    await settle();
  }
  const fill = (id: string, v: string) => {
    const el = document.getElementById(id) as HTMLInputElement;
    el.value = v;
    el.dispatchEvent(new Event('input', { bubbles: true }));
  };
  fill('relay-url', (after as typeof one).relay);
  fill('relay-code', 'code0123456789');
  flushSync();
  const submit = document.querySelector<HTMLButtonElement>('form button[type=submit]');
  expect(submit?.textContent?.trim()).toBe(button);
  submit?.click();
  await settle();
  expect(posts).toEqual([path]);
  // The relay took it; the pod says so live while the POST is still open.
  state = after;
  handlers.forEach((h) => h('federation', {}));
  await settle();
  expect(document.querySelector('form button[type=submit]')?.textContent?.trim()).toBe('Contacting the relay…');
  answer?.(new Response(JSON.stringify(after)));
  await settle();
  expect(document.querySelector('[role=status]')?.textContent).toBe(says);
  expect(document.querySelector('form')).toBeNull();
  expect(document.querySelector('[data-testid=relay-section-state]')?.textContent).toBe('Connected');
});
