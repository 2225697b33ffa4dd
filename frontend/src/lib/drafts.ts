// Drafts: the API's shapes and the small rules the drafts screen shows.
import type { Client, Post } from './api';

export interface DraftConflict {
  device: string;
  body: string;
  updated_at: string;
}

export interface Draft {
  id: string;
  body: string;
  public: boolean;
  aspects: number[];
  photos: string[];
  poll?: { question: string; poll_answers: string[] };
  tags?: string[];
  nsfw?: boolean;
  content_warning?: string;
  file_path?: string;
  file_error?: string;
  created_at: string;
  updated_at: string;
  revision: string;
  conflicts: DraftConflict[];
}

export interface DraftsFolder {
  path: string;
  watching: boolean;
  problem?: string;
}

/** A draft's title in the list: its first non-empty line without Markdown heading marks, or "Empty draft". */
export function draftTitle(body: string, max = 80): string {
  const line = body
    .split('\n')
    .map((l) => l.replace(/^\s{0,3}#{1,6}\s+/, '').replace(/^\s*(CW:\s*)/i, 'CW: ').trim())
    .find((l) => l !== '');
  if (!line) return 'Empty draft';
  const chars = Array.from(line);
  return chars.length > max ? chars.slice(0, max - 1).join('') + '…' : line;
}

/** The file's name in a path, for the list ("…/Drafts/walk.md" → "walk.md"). */
export function fileName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

const quote = (rev: string) => ({ 'If-Match': `"${rev}"` });

export const drafts = {
  list: (c: Client) => c.request<Draft[]>('GET', '/drafts?per_page=100'),
  get: (c: Client, id: string) => c.request<Draft>('GET', `/drafts/${encodeURIComponent(id)}`),
  create: (c: Client, d: Partial<Draft>) => c.request<Draft>('POST', '/drafts', d),
  /** A merge patch on the newest version; naming the revision the user saw resolves conflicts. */
  update: (c: Client, d: Draft, patch: Partial<Draft>) =>
    c.request<Draft>('PATCH', `/drafts/${encodeURIComponent(d.id)}`, patch, false, quote(d.revision)),
  remove: (c: Client, d: Draft) => c.request<void>('DELETE', `/drafts/${encodeURIComponent(d.id)}`, undefined, false, quote(d.revision)),
  publish: (c: Client, d: Draft) => c.request<Post>('POST', `/drafts/${encodeURIComponent(d.id)}/publish`, undefined, false, quote(d.revision)),
  folder: (c: Client) => c.request<DraftsFolder>('GET', '/drafts/folder'),
};
