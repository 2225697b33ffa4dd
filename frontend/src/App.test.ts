import { flushSync, mount, unmount } from 'svelte';
import { afterEach, describe, expect, test } from 'vitest';
import App from './App.svelte';
import { Client } from './lib/api';
import { PodState } from './lib/pod.svelte';

const ok = (body: unknown) => () => new Response(JSON.stringify(body), { status: 200 });

const status = {
  version: '0.1.0-test',
  data_dir: '/home/ana/.local/share/seedpod',
  schema_version: 1,
  started_at: '2026-11-26T10:00:00Z',
  uptime_seconds: 125,
};

const identity = { exists: true, guid: 'g1', name: 'Ana Pérez', handle: 'ana@relay.example', key: { state: 'ready', progress: 1 } };
const counts = { notifications_unread: 2, conversations_unread: 0, drafts: 1, outbox_pending: 0 };

/** A fake pod: the shell's routes answer unless a test overrides them. */
function client(over: Record<string, () => Response>): Client {
  const routes: Record<string, () => Response> = {
    '/identity': ok(identity),
    '/counts': ok(counts),
    '/relay': ok({ state: 'off' }),
    '/outbox': ok([]),
    '/api/v1/aspects': ok([{ id: 1, name: 'Family', order: 1 }]),
    '/api/v1/streams/main': ok([]),
    ...over,
  };
  return new Client((async (url: RequestInfo | URL) => {
    const path = String(url).replace('/api/seedpod/v1', '').split('?')[0] ?? '';
    const r = routes[path];
    if (!r) return new Response(JSON.stringify({ code: 404, message: 'no', error: 'not_found' }), { status: 404 });
    return r();
  }) as typeof fetch);
}


let app: ReturnType<typeof mount> | undefined;
afterEach(() => {
  if (app) unmount(app);
  app = undefined;
  document.body.innerHTML = '';
  window.location.hash = '';
});

async function render(pod: PodState) {
  app = mount(App, { target: document.body, props: { pod } });
  await pod.refresh();
  flushSync();
}

describe('App shell', () => {
  test('shows every area in the navigation and the live status', async () => {
    const pod = new PodState(client({ '/session': ok({ mode: 'window' }), '/status': ok(status) }));
    await render(pod);
    const links = [...document.querySelectorAll('nav[aria-label=Main] a')].map((a) => a.querySelector('.label')?.textContent?.trim());
    expect(links).toEqual(['Stream', 'Contacts', 'Conversations', 'Notifications', 'Drafts', 'Search', 'Settings']);
    const badges = [...document.querySelectorAll('nav[aria-label=Main] .badge')].map((b) => b.getAttribute('aria-label'));
    expect(badges).toEqual(['2 new', '1 draft']);
    expect(document.querySelector('.identity')?.textContent).toContain('ana@relay.example');
    expect(document.querySelector('[data-testid=relay-state]')?.textContent).toContain('Local only');
    expect(document.querySelector('[data-testid=pod-state]')?.textContent).toContain('Pod running');
    expect(document.querySelector('[data-testid=version]')?.textContent).toBe('Seedpod 0.1.0-test');
    expect(document.querySelector('[data-testid=uptime]')?.textContent).toBe('Up 2m');
    expect(document.querySelector('h1')?.textContent).toBe('Stream');
  });

  test('navigates between areas', async () => {
    const pod = new PodState(client({ '/session': ok({ mode: 'window' }), '/status': ok(status) }));
    await render(pod);
    const settings = [...document.querySelectorAll<HTMLAnchorElement>('nav[aria-label=Main] a')].find((a) => a.textContent?.includes('Settings'));
    settings?.click();
    flushSync();
    expect(document.querySelector('h1')?.textContent).toBe('Settings');
    expect(window.location.hash).toBe('#/settings');
    window.location.hash = '#/settings/appearance';
    window.dispatchEvent(new HashChangeEvent('hashchange'));
    flushSync();
    expect(document.querySelector('[data-testid=about-schema]')?.textContent).toBe('version 1');
    expect(document.querySelector('nav[aria-label=Main] a[aria-current=page]')?.textContent?.trim()).toBe('Settings');
  });

  test('asks to sign in when the pod answers 401', async () => {
    const unauthorized = () =>
      new Response(JSON.stringify({ code: 401, message: 'sign in', error: 'login_required' }), { status: 401 });
    const pod = new PodState(client({ '/session': unauthorized, '/status': unauthorized }));
    await render(pod);
    expect(document.querySelector('h1')?.textContent).toBe('Sign in to your pod');
    expect(document.querySelector('nav')).toBeNull();
  });

  test('warns when the pod does not answer, and recovers', async () => {
    let up = false;
    const pod = new PodState(
      client({
        '/session': ok({ mode: 'window' }),
        '/status': () => {
          if (!up) throw new TypeError('Failed to fetch');
          return ok(status)();
        },
      }),
    );
    await render(pod);
    expect(document.querySelector('[role=alert]')?.textContent).toContain('not answering');
    expect(document.querySelector('[data-testid=pod-state]')?.textContent).toContain('Pod not reachable');
    up = true;
    await pod.refresh();
    flushSync();
    expect(document.querySelector('[role=alert]')).toBeNull();
    expect(document.querySelector('[data-testid=pod-state]')?.textContent).toContain('Pod running');
  });

  test('the uptime ticks between polls', async () => {
    let now = 1_000_000;
    const pod = new PodState(client({ '/session': ok({ mode: 'window' }), '/status': ok(status) }), () => now);
    await render(pod);
    now += 61_000;
    pod.tick();
    flushSync();
    expect(document.querySelector('[data-testid=uptime]')?.textContent).toBe('Up 3m');
  });
});
