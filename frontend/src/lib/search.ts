// Search: results and the marking of matches in snippets.
import type { Client, Person } from './api';

export interface Highlight {
  start: number;
  end: number;
}

export interface SearchResult {
  kind: 'post' | 'comment' | 'message' | 'person' | 'draft' | string;
  guid: string;
  post_guid?: string;
  conversation_guid?: string;
  snippet: string;
  highlights: Highlight[];
  score?: number;
  created_at: string;
  item: unknown;
}

export interface Segment {
  text: string;
  mark: boolean;
}

/**
 * Splits a snippet into plain and marked parts. Highlights are UTF-16
 * offsets (as String.slice takes them); out-of-range, empty, unsorted and
 * overlapping ones are tolerated: overlaps merge.
 */
export function segments(snippet: string, hs: Highlight[]): Segment[] {
  const n = snippet.length;
  const ranges = hs
    .map((h) => ({ start: Math.max(0, Math.min(n, h.start)), end: Math.max(0, Math.min(n, h.end)) }))
    .filter((h) => h.end > h.start)
    .sort((a, b) => a.start - b.start);
  const merged: Highlight[] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  const out: Segment[] = [];
  let at = 0;
  for (const r of merged) {
    if (r.start > at) out.push({ text: snippet.slice(at, r.start), mark: false });
    out.push({ text: snippet.slice(r.start, r.end), mark: true });
    at = r.end;
  }
  if (at < n || out.length === 0) out.push({ text: snippet.slice(at), mark: false });
  return out;
}

/** Where a result leads: [route, ...params]. */
export function resultRoute(r: SearchResult): string[] {
  switch (r.kind) {
    case 'post':
      return ['post', r.guid];
    case 'comment':
      return ['post', r.post_guid ?? r.guid];
    case 'message':
      return ['conversations', r.conversation_guid ?? r.guid];
    case 'person':
      return ['people', r.guid];
    case 'draft':
      return ['drafts', r.guid];
    default:
      return ['search'];
  }
}

/** A tag as the user may type it: "#Café " → "café"; '' when it is no tag. */
export function normaliseTag(t: string): string {
  const s = t.trim().replace(/^#+/, '').toLowerCase();
  return /^[\p{L}\p{N}_-]+$/u.test(s) ? s : '';
}

export const KINDS = ['posts', 'comments', 'messages', 'people', 'drafts'] as const;

export const search = {
  query: (c: Client, q: string, opts: { in?: string[]; sort?: 'recent' | 'relevance' } = {}) => {
    const p = new URLSearchParams({ q, per_page: '40' });
    if (opts.in && opts.in.length) p.set('in', opts.in.join(','));
    if (opts.sort) p.set('sort', opts.sort);
    return c.request<SearchResult[]>('GET', `/search?${p}`);
  },
  people: (c: Client, q: string) =>
    c.request<Person[]>('GET', `/api/v1/search/users?${new URLSearchParams({ name_or_handle: q, per_page: '10' })}`, undefined, true),
  tags: (c: Client, q: string) =>
    c.request<string[]>('GET', `/api/v1/search/tags?${new URLSearchParams({ query: q, per_page: '10' })}`, undefined, true),
  followedTags: (c: Client) => c.request<string[]>('GET', '/api/v1/tag_followings', undefined, true),
  follow: (c: Client, tag: string) => c.request<void>('POST', '/api/v1/tag_followings', { name: tag }, true),
  unfollow: (c: Client, tag: string) => c.request<void>('DELETE', `/api/v1/tag_followings/${encodeURIComponent(tag)}`, undefined, true),
};
