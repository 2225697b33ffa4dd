import { describe, expect, test } from 'vitest';
import { ApiError, Client, parseLink } from './api';

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

describe('parseLink', () => {
  const V = '/api/v1/conversations?per_page=30';
  test.each([
    ['no header', null, V, {}],
    ['an empty header', '', V, {}],
    ['garbage', 'not a link header', V, {}],
    ['a link without rel', '</api/v1/x?page=2>; title="x"', V, {}],
    ['next and previous, quoted', '</a?page=2>; rel="next", </a?page=0>; rel="previous"', V, { next: '/a?page=2', previous: '/a?page=0' }],
    ['unquoted rel', '</a?page=2>; rel=next', V, { next: '/a?page=2' }],
    ['rel after another parameter, odd spacing', '</a?page=2> ;type="application/json";  REL = "Next" ', V, { next: '/a?page=2' }],
    ['one link, several rels', '</a?page=9>; rel="next last"', V, { next: '/a?page=9', last: '/a?page=9' }],
    ['the first of a rel wins', '</a?1>; rel="next", </a?2>; rel="next"', V, { next: '/a?1' }],
    [
      'an absolute URL becomes a path on this pod',
      '<https://pod.example:8443/api/v1/conversations?per_page=30&before=2026-01-01T00:00:00.000Z&cursor=abc>; rel="next"',
      V,
      { next: '/api/v1/conversations?per_page=30&before=2026-01-01T00:00:00.000Z&cursor=abc' },
    ],
    ['a query-only URL keeps the requested path', '<?per_page=30&page=2>; rel="next"', V, { next: '/api/v1/conversations?per_page=30&page=2' }],
    ['a relative path resolves against the request', '<messages?page=2>; rel="next"', '/api/v1/conversations/g/x', { next: '/api/v1/conversations/g/messages?page=2' }],
    ['a comma inside the URL', '</a?q=1,2&page=2>; rel="next", </a?page=0>; rel=previous', V, { next: '/a?q=1,2&page=2', previous: '/a?page=0' }],
  ])('%s', (_name, header, base, want) => {
    expect(parseLink(header, base)).toEqual(want);
  });
});

describe('Client.reply', () => {
  test('gives the data with the ETag and the Link pages, on the same request path', async () => {
    const f = fakeFetch([
      json(200, { mode: 'serve', csrf_token: 't' }),
      new Response('[{"guid":"a"}]', {
        status: 200,
        headers: { ETag: 'W/"v-3"', Link: '</api/v1/conversations?per_page=2&before=X&cursor=c>; rel="next", </api/v1/conversations?per_page=2&after=Y>; rel="previous"' },
      }),
      new Response(null, { status: 204, headers: { ETag: '"e"' } }),
    ]);
    const c = new Client(f.fn);
    await c.session();
    const r = await c.reply<{ guid: string }[]>('GET', '/api/v1/conversations?per_page=2', undefined, true);
    expect(r.data).toEqual([{ guid: 'a' }]);
    expect(r.etag).toBe('W/"v-3"');
    expect(r.links).toEqual({ next: '/api/v1/conversations?per_page=2&before=X&cursor=c', previous: '/api/v1/conversations?per_page=2&after=Y' });
    const d = await c.reply<void>('DELETE', '/thing', undefined, false, { 'If-Match': '"e0"' });
    expect([d.data, d.etag, d.links]).toEqual([undefined, '"e"', {}]);
    const h = f.calls[2]?.init.headers as Record<string, string>;
    expect([f.calls[2]?.url, h['X-CSRF-Token'], h['If-Match']]).toEqual(['/api/seedpod/v1/thing', 't', '"e0"']);
  });

  test('errors are ApiErrors, as with request', async () => {
    const f = fakeFetch([json(412, { error: 'stale_revision', message: 'changed' }), new TypeError('offline')]);
    const c = new Client(f.fn);
    await expect(c.reply('PATCH', '/posts/g', {})).rejects.toMatchObject({ status: 412, code: 'stale_revision', message: 'changed' });
    await expect(c.reply('GET', '/x')).rejects.toMatchObject({ status: 0, code: 'unreachable' });
  });
});
