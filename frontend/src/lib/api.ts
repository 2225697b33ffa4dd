// The UI's only door into the pod: the HTTP JSON API. In the desktop window
// the same paths reach the pod in-process; in `seedpod serve` they need the
// session cookie and, for unsafe methods, the CSRF token.

export const API = '/api/seedpod/v1';

export interface Status {
  version: string;
  data_dir: string;
  schema_version: number;
  started_at: string;
  uptime_seconds: number;
}

export interface SessionInfo {
  mode: 'serve' | 'window';
  csrf_token?: string;
}

/** An error answered by the API ({code, message, error}) or by the network. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** The request needs a session: show the sign-in screen. */
  get loginRequired(): boolean {
    return this.status === 401;
  }
}

type Fetch = typeof fetch;

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Client {
  private csrf = '';

  constructor(private readonly fetchFn: Fetch = (...a) => fetch(...a)) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (!SAFE.has(method) && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    let resp: Response;
    try {
      resp = await this.fetchFn(API + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (e) {
      throw new ApiError(0, 'unreachable', `The pod is not reachable (${(e as Error).message}).`);
    }
    if (resp.status === 204) return undefined as T;
    const text = await resp.text();
    let data: unknown;
    try {
      data = text ? JSON.parse(text) : undefined;
    } catch {
      throw new ApiError(resp.status, 'bad_response', `The pod answered ${resp.status} with something that is not JSON.`);
    }
    if (!resp.ok) {
      const e = (data ?? {}) as { error?: string; message?: string };
      throw new ApiError(resp.status, e.error ?? 'http_' + resp.status, e.message ?? `The pod answered ${resp.status}.`);
    }
    return data as T;
  }

  /** Learns how to talk to the pod; throws ApiError(401) when signed out. */
  async session(): Promise<SessionInfo> {
    const s = await this.request<SessionInfo>('GET', '/session');
    this.csrf = s.csrf_token ?? '';
    return s;
  }

  status(): Promise<Status> {
    return this.request<Status>('GET', '/status');
  }

  async signOut(): Promise<void> {
    await this.request<void>('DELETE', '/session');
    this.csrf = '';
  }
}
