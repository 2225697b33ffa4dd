import { describe, expect, test } from 'vitest';
import { ApiError, Client } from './api';

interface Call {
  url: string;
  init: RequestInit;
}

function fakeFetch(responses: Array<Response | Error>) {
  const calls: Call[] = [];
  const fn = async (url: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    calls.push({ url: String(url), init: init ?? {} });
    const next = responses.shift();
    if (!next) throw new Error('unexpected request ' + String(url));
    if (next instanceof Error) throw next;
    return next;
  };
  return { fn: fn as typeof fetch, calls };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

describe('Client', () => {
  test('sends the CSRF token from the session on unsafe methods only', async () => {
    const f = fakeFetch([
      json(200, { mode: 'serve', csrf_token: 'tok123' }),
      json(200, { version: '1', data_dir: '/d', schema_version: 1, started_at: '', uptime_seconds: 3 }),
      new Response(null, { status: 204 }),
    ]);
    const c = new Client(f.fn);
    await c.session();
    const st = await c.status();
    expect(st.uptime_seconds).toBe(3);
    await c.signOut();

    const headers = f.calls.map((x) => x.init.headers as Record<string, string>);
    expect(f.calls.map((x) => `${x.init.method} ${x.url}`)).toEqual([
      'GET /api/seedpod/v1/session',
      'GET /api/seedpod/v1/status',
      'DELETE /api/seedpod/v1/session',
    ]);
    expect(headers[1]?.['X-CSRF-Token']).toBeUndefined();
    expect(headers[2]?.['X-CSRF-Token']).toBe('tok123');
  });

  test('turns the error envelope into an ApiError', async () => {
    const f = fakeFetch([json(401, { code: 401, message: 'sign in first', error: 'login_required' })]);
    const err = await new Client(f.fn).status().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect([e.status, e.code, e.message, e.loginRequired]).toEqual([401, 'login_required', 'sign in first', true]);
  });

  test('reports an unreachable pod', async () => {
    const f = fakeFetch([new TypeError('Failed to fetch')]);
    const e = (await new Client(f.fn).status().catch((x: unknown) => x)) as ApiError;
    expect([e.status, e.code]).toEqual([0, 'unreachable']);
    expect(e.message).toContain('Failed to fetch');
  });

  test('refuses a body that is not JSON', async () => {
    const f = fakeFetch([new Response('<html>proxy error</html>', { status: 502 })]);
    const e = (await new Client(f.fn).status().catch((x: unknown) => x)) as ApiError;
    expect([e.status, e.code]).toEqual([502, 'bad_response']);
  });

  test('an error without an envelope still says what happened', async () => {
    const f = fakeFetch([new Response('', { status: 500 })]);
    const e = (await new Client(f.fn).status().catch((x: unknown) => x)) as ApiError;
    expect([e.status, e.code, e.message]).toEqual([500, 'http_500', 'The pod answered 500.']);
  });
});
