// One post and what can be done with it: comments, likes, reshares, poll
// votes, edits (with If-Match), history, delivery, subscribe/mute, hide,
// report. Pure helpers first (tested in post.test.ts), then the calls.
import { API, ApiError, V1, type Client, type Person, type Poll, type MuteFilter, type Post, type Reply, addPage, type Paged } from './api';

export { addPage, type Paged };

export interface Comment {
  guid: string;
  created_at: string;
  author: Person;
  body: string;
  html?: string;
  reported: boolean;
  interactions: { liked: boolean; likes_count: number };
}

export interface Like {
  guid: string;
  author: Person;
}

export interface ReshareEntry {
  guid: string;
  created_at: string;
  author: Person;
}

export interface PostVersion {
  body: string;
  edited_at: string;
  device: string;
}

export interface DeliveryPod {
  host: string;
  people: string[];
  state: 'queued' | 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status?: number;
  last_error?: string;
  next_attempt_at?: string;
}

export interface Delivery {
  summary: { total: number; delivered: number; pending: number; failed: number };
  pods: DeliveryPod[];
}

// ---- Pure logic.

/** A like button's state: whether I like it and how many do. */
export interface LikeState {
  liked: boolean;
  count: number;
}

/** The state after a click, shown before the pod answers. */
export function toggledLike(s: LikeState): LikeState {
  return s.liked ? { liked: false, count: Math.max(0, s.count - 1) } : { liked: true, count: s.count + 1 };
}

/**
 * Likes at once, then asks the pod: `show` gets the optimistic state, and
 * the previous one again if the pod refuses (the error is rethrown).
 */
export async function optimisticLike(
  s: LikeState,
  send: (like: boolean) => Promise<unknown>,
  show: (s: LikeState) => void,
): Promise<LikeState> {
  const next = toggledLike(s);
  show(next);
  try {
    await send(next.liked);
    return next;
  } catch (e) {
    show(s);
    throw e;
  }
}

/**
 * Whole percentages of a poll's answers that add up to 100 (largest
 * remainder), 0 for every answer when nobody voted.
 */
export function pollPercents(poll: Pick<Poll, 'poll_answers'>): number[] {
  const counts = poll.poll_answers.map((a) => Math.max(0, a.vote_count));
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return counts.map(() => 0);
  const exact = counts.map((c) => (c * 100) / total);
  const out = exact.map(Math.floor);
  let left = 100 - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
    left--;
  }
  return out;
}

/** Words added and removed from one text to the next (a word-level LCS). */
export function wordDiff(before: string, after: string): { added: number; removed: number } {
  const a = before.split(/\s+/).filter(Boolean);
  const b = after.split(/\s+/).filter(Boolean);
  if (a.length * b.length > 4_000_000) {
    // too long to compare word by word: count what differs in the multiset
    const m = new Map<string, number>();
    a.forEach((w) => m.set(w, (m.get(w) ?? 0) + 1));
    let added = 0;
    for (const w of b) {
      const n = m.get(w) ?? 0;
      if (n > 0) m.set(w, n - 1);
      else added++;
    }
    return { added, removed: [...m.values()].reduce((x, y) => x + y, 0) };
  }
  let prev = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    const cur = new Array<number>(b.length + 1).fill(0);
    for (let j = 1; j <= b.length; j++) {
      cur[j] = a[i - 1] === b[j - 1] ? (prev[j - 1] ?? 0) + 1 : Math.max(prev[j] ?? 0, cur[j - 1] ?? 0);
    }
    prev = cur;
  }
  const common = prev[b.length] ?? 0;
  return { added: b.length - common, removed: a.length - common };
}

const words = (n: number) => `${n} ${n === 1 ? 'word' : 'words'}`;

/** "Original", "Edit 1", … with what each version changed: "+2 words, −1 word". */
export function versionLabels(versions: Pick<PostVersion, 'body'>[]): { title: string; change: string }[] {
  return versions.map((v, i) => {
    if (i === 0) return { title: 'Original', change: '' };
    const d = wordDiff(versions[i - 1]?.body ?? '', v.body);
    const parts = [];
    if (d.added) parts.push('+' + words(d.added));
    if (d.removed) parts.push('−' + words(d.removed));
    return { title: `Edit ${i}`, change: parts.length ? parts.join(', ') : 'no change to the words' };
  });
}

/** A plain sentence about where a post's delivery stands. */
export function deliverySentence(d: Delivery, relayOn: boolean): string {
  const { total, delivered, failed } = d.summary;
  if (total === 0 || d.pods.length === 0) return 'No one on another pod receives this post, so there is nothing to deliver.';
  const queued = d.pods.filter((p) => p.state === 'queued').reduce((n, p) => n + p.people.length, 0);
  const people = (n: number) => `${n} ${n === 1 ? 'person' : 'people'}`;
  if (queued === total) {
    return relayOn
      ? `Waiting to go out to ${people(total)} on ${d.pods.length} ${d.pods.length === 1 ? 'pod' : 'pods'}: the relay has not taken it yet.`
      : `Queued on this device for ${people(total)}: without a relay nothing leaves. It goes out as soon as you connect one in Settings.`;
  }
  const parts = [`Delivered to ${delivered} of ${people(total)}`];
  if (failed) parts.push(`${failed} failed`);
  const waiting = total - delivered - failed;
  if (waiting) parts.push(`${waiting} still on the way`);
  return parts.join(', ') + '.';
}

/** Pods in the order a reader expects: trouble first, then by host, pod2 before pod10. */
export function sortedPods(pods: DeliveryPod[]): DeliveryPod[] {
  const rank = { failed: 0, pending: 1, queued: 2, delivered: 3 };
  return [...pods].sort((a, b) => rank[a.state] - rank[b.state] || a.host.localeCompare(b.host, 'en', { numeric: true }));
}

/** Words for a pod's delivery state. */
export const DELIVERY_STATE: Record<DeliveryPod['state'], string> = {
  queued: 'Queued here',
  pending: 'On the way',
  delivered: 'Delivered',
  failed: 'Failed',
};

/** Why resharing this post is not possible, or "" when it is. */
export function reshareBlock(post: Pick<Post, 'public' | 'post_type' | 'root' | 'author'>, me: string): string {
  const root = post.post_type === 'Reshare' && post.root ? post.root : post;
  if (!root.public) return 'Limited posts can’t be reshared: only the people it was shared with may see it.';
  if (me && root.author.diaspora_id === me) return 'This is your own post; it is already in your followers’ streams.';
  return '';
}

/** The pod's reason without its error class: "invalid input: Failed to reshare: x" → "x". */
export function podReason(msg: string): string {
  const m = msg.replace(/^(invalid input|not found|not allowed|conflict|gone|stale version): /i, '').replace(/^failed to [^:]*: /i, '');
  return m.charAt(0).toLowerCase() + m.slice(1);
}

/** A refused action in words: what failed, and the pod's reason. */
export function failure(what: string, e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 0) return `${what} failed: the pod is not reachable. Try again in a moment.`;
    if (e.status === 412) return `${what} failed: the post changed since you opened it. Reload it and try again.`;
    return `${what} failed: ${podReason(e.message)}`;
  }
  return `${what} failed: ${(e as Error)?.message ?? String(e)}`;
}

/** Keys typed into a field are text, not shortcuts. */
export function typing(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  return !!el?.closest?.('input, textarea, select, [contenteditable]');
}

/** The hash that opens a post with its comment box focused. */
export function commentHash(guid: string): string {
  return '#/post/' + encodeURIComponent(guid) + '/comment';
}

/** One mute filter in words: the word “x”, the tag #x, posts from x@pod, the pod pod.example. */
export function filterLabel(f: Pick<MuteFilter, 'kind' | 'value'>): string {
  const v = f.value.trim();
  switch (f.kind) {
    case 'word':
      return `the word “${v}”`;
    case 'tag':
      return `the tag #${v.replace(/^#+/, '')}`;
    case 'person':
      return `posts from ${v.replace(/^@/, '')}`;
    case 'pod':
      return `the pod ${v}`;
    default:
      return `“${v}”`;
  }
}

/** Why a post is collapsed: "Collapsed by your filter: the word “spoiler”" (several: "filters: a, b and c"). */
export function filteredReason(filters: readonly Pick<MuteFilter, 'kind' | 'value'>[]): string {
  const parts = filters.map(filterLabel);
  if (parts.length === 0) return 'Collapsed by your filters.';
  const list = parts.length === 1 ? parts[0] : `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
  return `Collapsed by your ${parts.length === 1 ? 'filter' : 'filters'}: ${list}`;
}

// ---- Paging.

/** Comments come oldest first, this many a page; likes and reshares too. */
export const COMMENTS_PAGE = 50;
export const PEOPLE_PAGE = 100;

// ---- The calls.

/**
 * The post calls, over the window's Client (its session, CSRF token and
 * errors): reply() gives the ETag for If-Match and the Link pages.
 */
export class PostApi {
  private me: Promise<string> | null = null;

  constructor(private readonly c: Client) {}

  private send<T>(method: string, path: string, body?: unknown, extra: Record<string, string> = {}): Promise<Reply<T>> {
    return this.c.reply<T>(method, path, body, true, extra);
  }

  private v<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.c.request<T>(method, path, body, true);
  }

  /** My diaspora* handle, asked once. */
  myHandle(): Promise<string> {
    this.me ??= this.v<{ handle?: string }>('GET', API + '/identity')
      .then((i) => i.handle ?? '')
      .catch(() => {
        this.me = null;
        return '';
      });
    return this.me;
  }

  private p(guid: string): string {
    return `${V1}/posts/${encodeURIComponent(guid)}`;
  }

  async post(guid: string): Promise<{ data: Post; etag: string }> {
    const r = await this.send<Post>('GET', this.p(guid));
    return { data: r.data, etag: r.etag };
  }
  async edit(guid: string, body: string, etag: string): Promise<{ data: Post; etag: string }> {
    const r = await this.send<Post>('PATCH', `${API}/posts/${encodeURIComponent(guid)}`, { body }, etag ? { 'If-Match': etag } : {});
    return { data: r.data, etag: r.etag };
  }
  versions(guid: string): Promise<PostVersion[]> {
    return this.v('GET', `${API}/posts/${encodeURIComponent(guid)}/versions`);
  }
  remove(guid: string): Promise<void> {
    return this.v('DELETE', this.p(guid));
  }
  /**
   * A page of comments, oldest first: the first page, or the one at `next`
   * (a path from the previous page's Link header).
   */
  async comments(guid: string, next = ''): Promise<Paged<Comment>> {
    const r = await this.send<Comment[]>('GET', next || `${this.p(guid)}/comments?html=1&per_page=${COMMENTS_PAGE}`);
    return addPage([], r.data, r.links.next, COMMENTS_PAGE);
  }
  /**
   * The comments again, as many pages as it takes to cover `atLeast` of them
   * (what is shown already), so a refresh keeps what was loaded.
   */
  async commentsCovering(guid: string, atLeast: number): Promise<Paged<Comment>> {
    let got = await this.comments(guid);
    for (let n = 1; got.next && got.items.length < atLeast && n < 100; n++) {
      const more = await this.comments(guid, got.next);
      got = addPage(got.items, more.items, more.next, 1);
    }
    return got;
  }
  addComment(guid: string, body: string): Promise<Comment> {
    return this.v('POST', `${this.p(guid)}/comments?html=1`, { body });
  }
  deleteComment(guid: string, cguid: string): Promise<void> {
    return this.v('DELETE', `${this.p(guid)}/comments/${encodeURIComponent(cguid)}`);
  }
  like(guid: string, on: boolean, cguid?: string): Promise<void> {
    const base = cguid ? `${this.p(guid)}/comments/${encodeURIComponent(cguid)}` : this.p(guid);
    return this.v(on ? 'POST' : 'DELETE', `${base}/likes`);
  }
  /** A page of the post's likes (page-numbered; Link next only when more follow). */
  async likes(guid: string, next = ''): Promise<Paged<Like>> {
    const r = await this.send<Like[]>('GET', next || `${this.p(guid)}/likes?per_page=${PEOPLE_PAGE}`);
    return { items: r.data, next: r.links.next ?? '' };
  }
  /** A page of the post's reshares, as likes. */
  async reshares(guid: string, next = ''): Promise<Paged<ReshareEntry>> {
    const r = await this.send<ReshareEntry[]>('GET', next || `${this.p(guid)}/reshares?per_page=${PEOPLE_PAGE}`);
    return { items: r.data, next: r.links.next ?? '' };
  }
  reshare(guid: string): Promise<Post> {
    return this.v('POST', `${this.p(guid)}/reshares`);
  }
  vote(guid: string, answer: number): Promise<void> {
    return this.v('POST', `${this.p(guid)}/vote`, { poll_answer: answer });
  }
  subscribe(guid: string, on: boolean): Promise<void> {
    return this.v('POST', `${this.p(guid)}/${on ? 'subscribe' : 'mute'}`);
  }
  hide(guid: string, hide: boolean): Promise<void> {
    return this.v('POST', `${this.p(guid)}/hide`, { hide });
  }
  report(guid: string, reason: string): Promise<void> {
    return this.v('POST', `${this.p(guid)}/report`, { reason });
  }
  delivery(guid: string): Promise<Delivery> {
    return this.v('GET', `${API}/deliveries/${encodeURIComponent(guid)}`);
  }
}

/** One PostApi per Client (it remembers my handle). */
const shared = new WeakMap<Client, PostApi>();
export function postApi(c: Client): PostApi {
  let a = shared.get(c);
  if (!a) {
    a = new PostApi(c);
    shared.set(c, a);
  }
  return a;
}
