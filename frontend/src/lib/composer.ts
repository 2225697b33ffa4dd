import { ApiError, type Aspect, type Client } from './api';
import type { Draft } from './drafts';

/** Who sees a post: everyone, every aspect, or chosen aspects. */
export type Audience = { kind: 'public' } | { kind: 'all' } | { kind: 'aspects'; ids: number[] };

/** The audience button's text: "Public", "All aspects", "Family, Work", "Family +2", "Choose aspects". */
export function audienceLabel(a: Audience, aspects: Aspect[]): string {
  if (a.kind === 'public') return 'Public';
  if (a.kind === 'all') return 'All aspects';
  const names = a.ids.map((id) => aspects.find((x) => x.id === id)?.name).filter((n): n is string => !!n);
  if (names.length === 0) return 'Choose aspects';
  if (names.length <= 2) return names.join(', ');
  return `${names[0]} +${names.length - 1}`;
}

// ---- The full composer: autocomplete, poll, photos, location, content warning.

/** An autocomplete trigger at the cursor: "@ana" (people) or "#gar" (tags). */
export interface Trigger {
  kind: 'person' | 'tag';
  /** What was typed after @ or #. */
  query: string;
  /** Where the @ or # is, and where the typed word ends (the cursor). */
  start: number;
  end: number;
}

const PERSON_CHARS = /^[\p{L}\p{N}._@'’-]+$/u;
const TAG_CHARS = /^[\p{L}\p{N}_-]+$/u;

/**
 * The trigger the cursor is in, or null: an @ or # at the start of the text
 * or after a space or an opening bracket, followed by at least one word
 * character up to the cursor (so "a@b", "@{…}", "##" and "@" alone do not
 * open anything).
 */
export function findTrigger(text: string, cursor: number): Trigger | null {
  if (cursor < 1 || cursor > text.length) return null;
  let start = cursor;
  while (start > 0 && !/[\s([]/.test(text[start - 1] ?? "")) start--;
  const word = text.slice(start, cursor);
  const query = word.slice(1);
  if (query === '') return null;
  if (word[0] === '@' && PERSON_CHARS.test(query) && !query.startsWith('@')) return { kind: 'person', query, start, end: cursor };
  if (word[0] === '#' && TAG_CHARS.test(query)) return { kind: 'tag', query, start, end: cursor };
  return null;
}

/** The diaspora mention the pod parses: "@{Name; handle}", or "@{handle}" when the name cannot be written in it. */
export function mentionText(p: { diaspora_id: string; name?: string }): string {
  const name = (p.name ?? '').replace(/\s+/g, ' ').trim();
  if (name === '' || name.includes('}') || name.includes('; ') || name.endsWith(';')) return `@{${p.diaspora_id}}`;
  return `@{${name}; ${p.diaspora_id}}`;
}

/** A tag as typed: "#garden". */
export function tagText(tag: string): string {
  return '#' + tag.replace(/^#+/, '');
}

/** Replaces the trigger's word with `insert` and a space; returns the text and the new cursor. */
export function replaceTrigger(text: string, t: Trigger, insert: string): { text: string; cursor: number } {
  const after = text.slice(t.end);
  const sep = after.startsWith(' ') ? '' : ' ';
  const out = text.slice(0, t.start) + insert + sep + after;
  return { text: out, cursor: t.start + insert.length + 1 };
}

/** Contacts first, then the others, each person once (by diaspora ID), at most `max`. */
export function mergePeople<P extends { diaspora_id: string }>(contacts: P[], all: P[], max = 8): P[] {
  const seen = new Set<string>();
  const out: P[] = [];
  for (const p of [...contacts, ...all]) {
    const k = p.diaspora_id.toLowerCase();
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(p);
    if (out.length >= max) break;
  }
  return out;
}

export interface PollDraft {
  question: string;
  answers: string[];
}

/** The pod's limits (pod/posts.go): at most 20 answers, 255 characters each. */
export const MAX_POLL_ANSWERS = 20;
export const MAX_POLL_TEXT = 255;

/** Why the poll cannot be sent yet, or "" when it can. */
export function pollProblem(p: PollDraft): string {
  if (p.question.trim() === '') return 'The poll needs a question.';
  if (Array.from(p.question.trim()).length > MAX_POLL_TEXT) return `The poll question is longer than ${MAX_POLL_TEXT} characters.`;
  if (p.answers.length < 2) return 'A poll needs at least two answers.';
  if (p.answers.length > MAX_POLL_ANSWERS) return `A poll has at most ${MAX_POLL_ANSWERS} answers.`;
  const blank = p.answers.findIndex((a) => a.trim() === '');
  if (blank >= 0) return `Answer ${blank + 1} is blank: fill it in or remove it.`;
  const long = p.answers.findIndex((a) => Array.from(a.trim()).length > MAX_POLL_TEXT);
  if (long >= 0) return `Answer ${long + 1} is longer than ${MAX_POLL_TEXT} characters.`;
  const seen = new Set<string>();
  for (const [i, a] of p.answers.entries()) {
    const k = a.trim().toLowerCase();
    if (seen.has(k)) return `Answer ${i + 1} repeats an earlier answer.`;
    seen.add(k);
  }
  return '';
}

/** The poll as the v1 post input takes it. */
export function pollInput(p: PollDraft): { question: string; poll_answers: string[] } {
  return { question: p.question.trim(), poll_answers: p.answers.map((a) => a.trim()) };
}

/** Photo files the pod takes (pod/media): JPEG, PNG, GIF, WebP, at most 20 MiB. */
export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];
export const MAX_PHOTO_BYTES = 20 << 20;

/** Why a file cannot be attached, or "". */
export function fileProblem(f: { name: string; type: string; size: number }): string {
  if (!PHOTO_TYPES.includes(f.type.toLowerCase())) return `${f.name} is not a photo the pod takes (JPEG, PNG, GIF or WebP).`;
  if (f.size === 0) return `${f.name} is empty.`;
  if (f.size > MAX_PHOTO_BYTES) return `${f.name} is ${(f.size / (1 << 20)).toFixed(1)} MiB; photos may be at most 20 MiB.`;
  return '';
}

export interface LocationDraft {
  address: string;
  lat: string;
  lng: string;
}

/**
 * The location as the v1 post input takes it ({address, lat, lng}: the pod
 * requires both coordinates and has no geocoder), or a problem to show.
 */
export function locationInput(l: LocationDraft): { value?: { address: string; lat: number; lng: number }; problem: string } {
  const address = l.address.trim();
  if (address === '') return { problem: 'Enter the place’s name or address.' };
  if (address.length > 255) return { problem: 'The address is longer than 255 characters.' };
  if (l.lat.trim() === '' || l.lng.trim() === '') return { problem: 'The pod needs the latitude and longitude too.' };
  const lat = Number(l.lat.trim().replace(',', '.'));
  const lng = Number(l.lng.trim().replace(',', '.'));
  if (!Number.isFinite(lat) || lat < -90 || lat > 90) return { problem: 'Latitude is a number between -90 and 90.' };
  if (!Number.isFinite(lng) || lng < -180 || lng > 180) return { problem: 'Longitude is a number between -180 and 180.' };
  return { value: { address, lat, lng }, problem: '' };
}

/**
 * The text the pod will store, as it builds it: a content warning is a first
 * line "CW: <warning>" and a blank line (as drafts are published), and nsfw
 * adds "#nsfw" on a last line when the text lacks the tag (pod/posts.go).
 */
export function postText(body: string, cw: string, nsfw: boolean): string {
  let text = body;
  const w = cw.replace(/[\r\n]+/g, ' ').trim();
  if (w !== '') text = `CW: ${w}\n\n${text}`;
  if (nsfw && !/(^|[^\p{L}\p{N}_#&])#nsfw(?![\p{L}\p{N}_-])/iu.test(text)) text = text.trim() === '' ? '#nsfw' : text + '\n\n#nsfw';
  return text;
}

// ---- The composer's API calls.

/** A person the autocomplete offers; `contact` when they are in my contacts. */
export interface PersonHit {
  guid: string;
  diaspora_id: string;
  name?: string;
  avatar?: string;
  contact?: boolean;
}

/** A photo uploaded as pending (POST /api/v1/photos, pending=true). */
export interface UploadedPhoto {
  guid: string;
  sizes: { small: string; medium: string; large: string; raw: string };
}

/** The draft body the composer saves (the drafts API's keys: location too). */
export interface ComposerDraft {
  body: string;
  public: boolean;
  aspects: number[];
  photos: string[];
  poll?: { question: string; poll_answers: string[] };
  location?: { address: string; lat: number; lng: number };
  nsfw?: boolean;
  content_warning?: string;
}

export const composerApi = {
  /** The HTML the pod renders for text (POST /markup/preview). */
  preview: (c: Client, text: string) => c.request<{ html: string }>('POST', '/markup/preview', { text }),
  /** People for "@query": my contacts first, then everyone the pod knows. */
  async people(c: Client, query: string, max = 8): Promise<PersonHit[]> {
    const q = encodeURIComponent(query);
    const [contacts, all] = await Promise.all([
      c.request<PersonHit[]>('GET', `/api/v1/search/users?name_or_handle=${q}&filter=contacts&per_page=${max}`, undefined, true),
      c.request<PersonHit[]>('GET', `/api/v1/search/users?name_or_handle=${q}&per_page=${max}`, undefined, true),
    ]);
    return mergePeople(
      contacts.map((p) => ({ ...p, contact: true })),
      all,
      max,
    );
  },
  /** Known tags starting with query. */
  tags: (c: Client, query: string, max = 8) =>
    c.request<string[]>('GET', `/api/v1/search/tags?query=${encodeURIComponent(query)}&per_page=${max}`, undefined, true),
  deletePhoto: (c: Client, guid: string) => c.request<void>('DELETE', `/api/v1/photos/${encodeURIComponent(guid)}`, undefined, true),
  saveDraft: (c: Client, d: ComposerDraft) => c.request<Draft>('POST', '/drafts', d),
};

/**
 * Uploads a photo as pending, reporting progress (0..1). XMLHttpRequest,
 * since fetch reports no upload progress; the CSRF token comes from the
 * session, as lib/post.ts does it.
 */
export function uploadPhoto(
  file: Blob,
  filename: string,
  alt: string,
  onprogress: (fraction: number) => void,
): { done: Promise<UploadedPhoto>; abort: () => void } {
  const xhr = new XMLHttpRequest();
  const done = (async () => {
    let csrf = '';
    try {
      const r = await fetch('/api/seedpod/v1/session', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (r.ok) csrf = ((await r.json()) as { csrf_token?: string }).csrf_token ?? '';
    } catch {
      throw new ApiError(0, 'unreachable', 'The pod is not reachable; try again.');
    }
    const form = new FormData();
    form.append('pending', 'true');
    if (alt.trim() !== '') form.append('alt', alt.trim());
    form.append('image', file, filename);
    return new Promise<UploadedPhoto>((resolve, reject) => {
      xhr.open('POST', '/api/v1/photos');
      xhr.setRequestHeader('Accept', 'application/json');
      if (csrf) xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.upload.onprogress = (e) => e.lengthComputable && onprogress(e.loaded / e.total);
      xhr.onload = () => {
        let data: { guid?: string; message?: string; error?: string } & Partial<UploadedPhoto> = {};
        try {
          data = JSON.parse(xhr.responseText);
        } catch {
          /* not JSON */
        }
        if (xhr.status >= 200 && xhr.status < 300 && data.guid) resolve(data as UploadedPhoto);
        else reject(new ApiError(xhr.status, data.error ?? 'http_' + xhr.status, data.message ?? `The pod answered ${xhr.status}.`));
      };
      xhr.onerror = () => reject(new ApiError(0, 'unreachable', 'The upload failed: the pod is not reachable.'));
      xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
      xhr.send(form);
    });
  })();
  return { done, abort: () => xhr.abort() };
}
