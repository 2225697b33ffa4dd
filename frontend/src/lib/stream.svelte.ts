// The stream screen's state: pages of posts, newest first; new posts that
// arrive while the user reads wait in `pending` (shown as "N new posts")
// instead of pushing the reading position down; interactions refresh the
// post they belong to.
import { ApiError, type Pod, type Post, type StreamName } from './api';

export const PAGE = 30;

/** The kinds of post events that may bring a new post into a stream. */
const NEW_POST_KINDS = new Set(['post', 'reshare', 'status_message']);

export interface PostEvent {
  kind: string;
  guid?: string;
  post_guid?: string;
}

/**
 * Marks (performance.mark 'seedpod:first-posts') the first frame after the
 * first page of posts of this page load was rendered: the figure the UI
 * benchmark reports as the first stream paint (e2e/bench-ui.mjs).
 */
let marked = false;
function markFirstPosts(): void {
  if (marked || typeof requestAnimationFrame === 'undefined' || typeof performance === 'undefined') return;
  marked = true;
  requestAnimationFrame(() => setTimeout(() => performance.mark('seedpod:first-posts'), 0));
}

export class StreamState {
  posts = $state.raw<Post[]>([]);
  pending = $state.raw<Post[]>([]);
  loading = $state(false);
  done = $state(false);
  error = $state('');
  name = $state<StreamName>('main');
  aspectIds = $state.raw<number[] | undefined>(undefined);

  private gen = 0;

  constructor(private readonly api: Pod) {}

  /** Loads the first page of a stream, forgetting the previous one. */
  async open(name: StreamName, aspectIds?: number[]): Promise<void> {
    this.name = name;
    this.aspectIds = aspectIds;
    this.posts = [];
    this.pending = [];
    this.done = false;
    this.error = '';
    const gen = ++this.gen;
    await this.fetchPage(gen, undefined);
  }

  /** Loads the next (older) page, once at a time. */
  async more(): Promise<void> {
    if (this.loading || this.done) return;
    const last = this.posts[this.posts.length - 1];
    await this.fetchPage(this.gen, last?.created_at);
  }

  private async fetchPage(gen: number, before: string | undefined): Promise<void> {
    this.loading = true;
    try {
      const page = await this.api.stream(this.name, { before, perPage: PAGE, aspectIds: this.aspectIds });
      if (gen !== this.gen) return; // another stream was opened meanwhile
      const seen = new Set(this.posts.map((p) => p.guid));
      this.posts = [...this.posts, ...page.filter((p) => !seen.has(p.guid))];
      if (page.length < PAGE) this.done = true;
      this.error = '';
      if (before === undefined && page.length > 0) markFirstPosts();
    } catch (e) {
      if (gen === this.gen) this.error = e instanceof ApiError ? e.message : String(e);
    } finally {
      if (gen === this.gen) this.loading = false;
    }
  }

  /** Shows the waiting new posts at the top. */
  showPending(): void {
    if (this.pending.length === 0) return;
    const seen = new Set(this.pending.map((p) => p.guid));
    this.posts = [...this.pending, ...this.posts.filter((p) => !seen.has(p.guid))];
    this.pending = [];
  }

  /** Adds a post the user just wrote at the top, at once. */
  addOwn(p: Post): void {
    this.pending = this.pending.filter((x) => x.guid !== p.guid);
    this.posts = [p, ...this.posts.filter((x) => x.guid !== p.guid)];
  }

  /**
   * Handles a live `post` event. New posts: the first page is fetched again
   * and what is newer than the top post waits in `pending` (or is shown at
   * once when atTop). Interactions and edits: that post is fetched again.
   * Retractions: the post goes.
   */
  async onPostEvent(ev: PostEvent, atTop: boolean): Promise<void> {
    const gen = this.gen;
    if (ev.kind.startsWith('retracted_') && ev.guid) {
      this.posts = this.posts.filter((p) => p.guid !== ev.guid);
      this.pending = this.pending.filter((p) => p.guid !== ev.guid);
      return;
    }
    if (NEW_POST_KINDS.has(ev.kind) && ev.guid && !this.has(ev.guid)) {
      let page: Post[];
      try {
        page = await this.api.stream(this.name, { perPage: PAGE, aspectIds: this.aspectIds });
      } catch {
        return; // the next event or a reload catches up
      }
      if (gen !== this.gen) return;
      const top = this.posts[0]?.created_at ?? '';
      const fresh = page.filter((p) => !this.has(p.guid) && p.created_at >= top);
      if (fresh.length === 0) return;
      this.pending = [...fresh, ...this.pending.filter((p) => !fresh.some((f) => f.guid === p.guid))];
      if (atTop) this.showPending();
      return;
    }
    const target = ev.post_guid || ev.guid;
    if (target && this.posts.some((p) => p.guid === target)) {
      try {
        const fresh = await this.api.post(target);
        if (gen !== this.gen) return;
        this.posts = this.posts.map((p) => (p.guid === target ? fresh : p));
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) this.posts = this.posts.filter((p) => p.guid !== target);
      }
    }
  }

  private has(guid: string): boolean {
    return this.posts.some((p) => p.guid === guid) || this.pending.some((p) => p.guid === guid);
  }
}
