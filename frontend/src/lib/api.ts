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

/** An answer with the headers that matter: the ETag, verbatim (quotes kept), and the Link pages. */
export interface Reply<T> {
  data: T;
  etag: string;
  /** rel → a path (with its query) on this pod, e.g. links.next. */
  links: Record<string, string>;
  headers: Headers;
}

/**
 * Reads a Link header (RFC 8288) into rel → path: `<url>; rel="next"`,
 * several links separated by commas, rel quoted or not and possibly naming
 * several rels ("next last"). Each URL is resolved against `base` (the path
 * that was requested) and kept as path + query, so the Client can request it
 * as a raw path whatever host the pod wrote. The first link of a rel wins;
 * a missing or unreadable header gives {}.
 */
export function parseLink(header: string | null | undefined, base = '/'): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  // <url> then parameters up to the next "<" that starts a link
  const re = /<([^>]*)>([^<]*)/g;
  for (let m = re.exec(header); m; m = re.exec(header)) {
    const href = m[1] ?? '';
    const params = m[2] ?? '';
    const rel = /(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,]+))/i.exec(params);
    if (!rel) continue;
    let path: string;
    try {
      const u = new URL(href, new URL(base, 'http://pod.invalid'));
      path = u.pathname + u.search;
    } catch {
      continue;
    }
    for (const r of (rel[1] ?? rel[2] ?? '').toLowerCase().split(/\s+/).filter(Boolean)) out[r] ??= path;
  }
  return out;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class Client {
  private csrf = '';

  constructor(private readonly fetchFn: Fetch = (...a) => fetch(...a)) {}

  /** One API call; `raw` paths are used as they are (the v1 routes), others get the Seedpod prefix. */
  async request<T>(method: string, path: string, body?: unknown, raw = false, extra: Record<string, string> = {}): Promise<T> {
    return (await this.reply<T>(method, path, body, raw, extra)).data;
  }

  /**
   * The same call, with what the headers say: the ETag (for If-Match) and
   * the Link header's pages as paths this Client can request (raw).
   */
  async reply<T>(method: string, path: string, body?: unknown, raw = false, extra: Record<string, string> = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { Accept: 'application/json', ...extra };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (!SAFE.has(method) && this.csrf) headers['X-CSRF-Token'] = this.csrf;
    const url = raw ? path : API + path;
    let resp: Response;
    try {
      resp = await this.fetchFn(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
    } catch (e) {
      throw new ApiError(0, 'unreachable', `The pod is not reachable (${(e as Error).message}).`);
    }
    const meta = { headers: resp.headers, etag: resp.headers.get('ETag') ?? '', links: parseLink(resp.headers.get('Link'), url) };
    if (resp.status === 204) return { data: undefined as T, ...meta };
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
    return { data: data as T, ...meta };
  }

  /** Posts a multipart form (uploads) to a Seedpod path. */
  async upload<T>(path: string, form: FormData): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (this.csrf) headers['X-CSRF-Token'] = this.csrf;
    let resp: Response;
    try {
      resp = await this.fetchFn(API + path, { method: 'POST', headers, body: form, credentials: 'same-origin' });
    } catch (e) {
      throw new ApiError(0, 'unreachable', `The pod is not reachable (${(e as Error).message}).`);
    }
    const data = (await resp.json().catch(() => ({}))) as { error?: string; message?: string };
    if (!resp.ok) throw new ApiError(resp.status, data.error ?? 'http_' + resp.status, data.message ?? `The pod answered ${resp.status}.`);
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

/** A list read page by page: what is shown and where the next page is ("" at the end). */
export interface Paged<T> {
  items: T[];
  next: string;
}

/**
 * Adds a page to a list: items already there (same guid) are not added
 * again, and `next` is kept only while the page was full. Time-paged lists
 * (comments, conversations) offer a next link after every non-empty page, so a short page
 * is the end.
 */
export function addPage<T extends { guid: string }>(prev: readonly T[], page: readonly T[], next: string | undefined, perPage: number): Paged<T> {
  const seen = new Set(prev.map((x) => x.guid));
  const items = [...prev];
  for (const x of page) {
    if (seen.has(x.guid)) continue;
    seen.add(x.guid);
    items.push(x);
  }
  return { items, next: next && page.length >= perPage ? next : '' };
}

// ---- The pod's data, as the API shapes it (docs/api.md, ../shared/API.md §2).

export interface Person {
  guid: string;
  diaspora_id: string;
  name?: string;
  avatar?: string;
}

export interface KeyStatus {
  state: 'none' | 'generating' | 'ready' | 'failed' | 'locked';
  fingerprint?: string;
  progress: number;
  error?: string;
  locked?: boolean;
}

export interface Identity {
  exists: boolean;
  guid?: string;
  username?: string;
  handle?: string;
  name?: string;
  key: KeyStatus;
}

export interface Photo {
  dimensions: { width: number | null; height: number | null };
  sizes: { small: string; medium: string; large: string; raw: string };
}

export interface Poll {
  guid: string;
  question: string;
  participation_count: number;
  already_participated: boolean;
  poll_answers: { id: number; answer: string; vote_count: number; own_answer?: boolean }[];
}

export interface Post {
  guid: string;
  created_at: string;
  post_type: 'StatusMessage' | 'Reshare';
  title: string;
  body: string;
  public: boolean;
  nsfw: boolean;
  author: Person;
  interaction_counters: { comments: number; likes: number; reshares: number };
  own_interaction_state: { liked: boolean; reshared: boolean; subscribed: boolean; reported: boolean };
  mentioned_people: Person[];
  photos: Photo[];
  poll?: Poll;
  location?: { address: string; lat: number; lng: number };
  root?: Post;
  /**
   * Seedpod's additions: rendered html, the edit time, a content warning, an
   * own post's delivery state, the photos' alt texts (in the order of
   * photos, "" for none) and the mute filters that collapse it.
   */
  seedpod?: {
    html?: string;
    edited_at?: string;
    content_warning?: string;
    delivery?: { state: 'queued' | 'handed' };
    photo_alt?: string[];
    filtered?: Filtered;
  };
}

/** One of my mute filters: a word, a tag, a person (diaspora* ID) or a pod (host). */
export interface MuteFilter {
  id: string;
  kind: 'word' | 'tag' | 'person' | 'pod';
  value: string;
}

/** Why a post is shown collapsed: the filters of mine that match it. */
export interface Filtered {
  action: 'collapse';
  filters: MuteFilter[];
}

export interface Aspect {
  id: number;
  name: string;
  order: number;
}

export interface Counts {
  notifications_unread: number;
  conversations_unread: number;
  drafts: number;
  outbox_pending: number;
}

export interface RelayStatus {
  state: 'off' | 'connecting' | 'connected' | 'error';
  relay?: string;
  diaspora_id?: string;
  inbox_backlog?: number;
  outbox_pending?: number;
  last_contact?: string;
  last_error?: string;
}

export interface OutboxEntry {
  guid: string;
  state: 'queued' | 'handed';
  [k: string]: unknown;
}

export interface NewPost {
  body: string;
  public: boolean;
  aspects?: number[];
  photos?: string[];
  poll?: { question: string; poll_answers: string[] };
  location?: { address: string; lat: number; lng: number };
  /** Seedpod: marks the post not safe for work (the pod adds #nsfw). */
  nsfw?: boolean;
}

/** The streams the stream screen offers (v1 names; public and tag are Seedpod's). */
export type StreamName = 'main' | 'activity' | 'aspects' | 'tags' | 'mentions' | 'liked' | 'commented' | 'public';

export const V1 = '/api/v1';

/** The path of a stream page: newest first, `before` a post's created_at. */
export function streamPath(name: StreamName, opts: { before?: string; perPage?: number; aspectIds?: number[] } = {}): string {
  const base = name === 'public' ? '/streams/public' : `${V1}/streams/${name}`;
  const q = new URLSearchParams();
  if (opts.before) q.set('before', opts.before);
  q.set('per_page', String(opts.perPage ?? 30));
  if (name === 'aspects' && opts.aspectIds) q.set('aspect_ids', JSON.stringify(opts.aspectIds));
  return `${base}?${q}`;
}

/** Typed calls over a Client. Paths starting with /api/v1 leave the Seedpod prefix. */
export class Pod {
  constructor(readonly c: Client) {}

  private v1<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.c.request<T>(method, path, body, true);
  }

  identity(): Promise<Identity> {
    return this.c.request<Identity>('GET', '/identity');
  }
  createIdentity(name: string, username: string): Promise<Identity> {
    return this.c.request<Identity>('POST', '/identity', { name, username });
  }
  stream(name: StreamName, opts: { before?: string; perPage?: number; aspectIds?: number[] } = {}): Promise<Post[]> {
    const p = streamPath(name, opts);
    return p.startsWith(V1) ? this.v1<Post[]>('GET', p) : this.c.request<Post[]>('GET', p);
  }
  post(guid: string): Promise<Post> {
    return this.v1<Post>('GET', `${V1}/posts/${encodeURIComponent(guid)}`);
  }
  createPost(p: NewPost): Promise<Post> {
    return this.v1<Post>('POST', `${V1}/posts`, p);
  }
  aspects(): Promise<Aspect[]> {
    return this.v1<Aspect[]>('GET', `${V1}/aspects`);
  }
  counts(): Promise<Counts> {
    return this.c.request<Counts>('GET', '/counts');
  }
  relay(): Promise<RelayStatus> {
    return this.c.request<RelayStatus>('GET', '/relay');
  }
  outbox(): Promise<OutboxEntry[]> {
    return this.c.request<OutboxEntry[]>('GET', '/outbox');
  }
}
