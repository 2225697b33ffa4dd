// Contacts, aspects and profiles: the calls and the pure logic behind the
// contacts screen and a person's profile.
import { ApiError, V1, type Aspect, type Client, type Person, type Photo, type Post } from './api';

/** receiving: I share with them; sharing: they share with me (v1's words). */
export interface Relationship {
  receiving: boolean;
  sharing: boolean;
}

export interface AspectRef {
  id: number;
  name: string;
}

/** An entry of GET /api/seedpod/v1/contacts. */
export interface ContactEntry {
  person: Person;
  relationship: Relationship;
  aspects: AspectRef[];
  closed?: boolean;
  moved_to?: string;
}

/** GET /api/v1/users/:guid for someone else (the own profile lacks relationship and aspects). */
export interface UserProfile {
  guid: string;
  diaspora_id: string;
  name?: string;
  avatar?: { small: string; medium: string; large: string; raw: string } | null;
  tags: string[];
  bio?: string;
  location?: string;
  blocked?: boolean;
  relationship?: Relationship;
  aspects?: AspectRef[];
  closed?: boolean;
  moved_to?: string;
  /** Seedpod: the user ignores them (absent when not). */
  ignored?: boolean;
}

export interface UserPhoto extends Photo {
  guid: string;
  created_at: string;
  post?: string;
}

export type RelationshipFilter = '' | 'mutual' | 'sharing' | 'receiving';

export interface ContactsFilter {
  relationship: RelationshipFilter;
  aspect: number | null;
}

export const PER_PAGE = 50;

/** A short, plain label of how two people share. */
export function relationshipLabel(r: Relationship | undefined): string {
  if (!r) return 'Not a contact';
  if (r.receiving && r.sharing) return 'Mutual';
  if (r.receiving) return 'You share with them';
  if (r.sharing) return 'Shares with you';
  return 'Not sharing';
}

export function isMutual(r: Relationship | undefined): boolean {
  return !!r && r.receiving && r.sharing;
}

export const RELATIONSHIP_FILTERS: { value: RelationshipFilter; label: string }[] = [
  { value: '', label: 'All' },
  { value: 'mutual', label: 'Mutual' },
  { value: 'sharing', label: 'Share with you' },
  { value: 'receiving', label: 'You share with' },
];

/** Route params → filter: #/contacts/mutual/aspect/3, #/contacts/aspect/3, #/contacts/sharing. */
export function parseContactsParams(params: readonly string[]): ContactsFilter {
  const out: ContactsFilter = { relationship: '', aspect: null };
  for (let i = 0; i < params.length; i++) {
    const p = params[i];
    if (p === 'mutual' || p === 'sharing' || p === 'receiving') out.relationship = p;
    else if (p === 'aspect') {
      const n = Number(params[i + 1]);
      if (Number.isInteger(n) && n > 0) out.aspect = n;
      i++;
    }
  }
  return out;
}

/** Filter → route params, the inverse of parseContactsParams. */
export function contactsParams(f: ContactsFilter): string[] {
  const out: string[] = [];
  if (f.relationship) out.push(f.relationship);
  if (f.aspect) out.push('aspect', String(f.aspect));
  return out;
}

/** The API path of a page of contacts. */
export function contactsPath(f: ContactsFilter, page = 1, perPage = PER_PAGE): string {
  const q = new URLSearchParams();
  if (f.relationship) q.set('relationship', f.relationship);
  if (f.aspect) q.set('aspect', String(f.aspect));
  q.set('page', String(page));
  q.set('per_page', String(perPage));
  return `/contacts?${q}`;
}

/** Lower case without accents, for matching "jose" to "José". */
export function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Keeps the contacts whose name or diaspora* ID holds every word of the text. */
export function filterContacts(list: readonly ContactEntry[], text: string): ContactEntry[] {
  const words = fold(text).split(/\s+/).filter(Boolean);
  if (!words.length) return [...list];
  return list.filter((c) => {
    const hay = fold(`${c.person.name ?? ''} ${c.person.diaspora_id}`);
    return words.every((w) => hay.includes(w));
  });
}

/** What to add and remove to go from the aspects a person is in to the wanted ones. */
export function aspectChanges(current: readonly number[], wanted: readonly number[]): { add: number[]; remove: number[] } {
  return { add: wanted.filter((id) => !current.includes(id)), remove: current.filter((id) => !wanted.includes(id)) };
}

/** "Friends, Work" or "In no aspect". */
export function aspectsLabel(refs: readonly AspectRef[] | undefined): string {
  if (!refs || refs.length === 0) return 'In no aspect';
  return refs.map((a) => a.name).join(', ');
}

/** Roughly user@host: the pod checks the rest (and answers 422). */
export function validDiasporaId(s: string): boolean {
  return /^[^\s@]+@[^\s@]+$/.test(s.trim());
}

/** What a failed people discovery means, in words. */
export function discoverMessage(e: unknown, id: string): string {
  if (e instanceof ApiError) {
    if (e.status === 404) return `Nobody answers to ${id}. Check the spelling of the diaspora* ID.`;
    if (e.status === 422) return `${id} is not a diaspora* ID the pod can use (${e.message}). An ID looks like name@pod.example.`;
    if (e.status === 502 || e.status === 0) return `The pod of ${id} could not be reached. Check your connection, or try again later.`;
    return `Looking up ${id} failed: ${e.message}`;
  }
  return `Looking up ${id} failed: ${(e as Error).message}`;
}

/** Moves an aspect from one index to another, returning the new order. */
export function moveAspect<T>(list: readonly T[], from: number, to: number): T[] {
  const out = [...list];
  if (from < 0 || from >= out.length || to < 0 || to >= out.length) return out;
  const [x] = out.splice(from, 1);
  out.splice(to, 0, x as T);
  return out;
}

/** The typed people calls, over the shared Client. */
export class PeopleApi {
  constructor(private readonly c: Client) {}

  private v1<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.c.request<T>(method, V1 + path, body, true);
  }

  contacts(f: ContactsFilter, page = 1, perPage = PER_PAGE): Promise<ContactEntry[]> {
    return this.c.request<ContactEntry[]>('GET', contactsPath(f, page, perPage));
  }
  aspects(): Promise<Aspect[]> {
    return this.v1<Aspect[]>('GET', '/aspects?per_page=100');
  }
  createAspect(name: string): Promise<Aspect> {
    return this.v1<Aspect>('POST', '/aspects', { name });
  }
  updateAspect(id: number, u: { name?: string; order?: number }): Promise<Aspect> {
    return this.v1<Aspect>('PATCH', `/aspects/${id}`, u);
  }
  deleteAspect(id: number): Promise<void> {
    return this.v1<void>('DELETE', `/aspects/${id}`);
  }
  addToAspect(id: number, guid: string): Promise<void> {
    return this.v1<void>('POST', `/aspects/${id}/contacts`, { person_guid: guid });
  }
  removeFromAspect(id: number, guid: string): Promise<void> {
    return this.v1<void>('DELETE', `/aspects/${id}/contacts/${encodeURIComponent(guid)}`);
  }
  /** Applies a wanted set of aspects; returns the ids that failed with their errors. */
  async setAspects(guid: string, current: readonly number[], wanted: readonly number[]): Promise<string[]> {
    const { add, remove } = aspectChanges(current, wanted);
    const errors: string[] = [];
    for (const id of add) await this.addToAspect(id, guid).catch((e: Error) => errors.push(e.message));
    for (const id of remove) await this.removeFromAspect(id, guid).catch((e: Error) => errors.push(e.message));
    return errors;
  }
  user(guid: string): Promise<UserProfile> {
    return this.v1<UserProfile>('GET', `/users/${encodeURIComponent(guid)}`);
  }
  posts(guid: string, before?: string, perPage = 20): Promise<Post[]> {
    const q = new URLSearchParams({ per_page: String(perPage) });
    if (before) q.set('before', before);
    return this.v1<Post[]>('GET', `/users/${encodeURIComponent(guid)}/posts?${q}`);
  }
  photos(guid: string, perPage = 12): Promise<UserPhoto[]> {
    return this.v1<UserPhoto[]>('GET', `/users/${encodeURIComponent(guid)}/photos?per_page=${perPage}`);
  }
  block(guid: string): Promise<void> {
    return this.v1<void>('POST', `/users/${encodeURIComponent(guid)}/block`);
  }
  unblock(guid: string): Promise<void> {
    return this.v1<void>('DELETE', `/users/${encodeURIComponent(guid)}/block`);
  }
  ignore(guid: string): Promise<void> {
    return this.c.request<void>('POST', `/people/${encodeURIComponent(guid)}/ignore`);
  }
  unignore(guid: string): Promise<void> {
    return this.c.request<void>('DELETE', `/people/${encodeURIComponent(guid)}/ignore`);
  }
  discover(diasporaId: string): Promise<Person> {
    return this.c.request<Person>('POST', '/people/discover', { diaspora_id: diasporaId.trim() });
  }
}
