// Private conversations: the calls and the pure logic behind the
// conversations screen.
import { V1, addPage, type Client, type Paged, type Person } from './api';
import { isMutual, type ContactEntry } from './people';

export interface Conversation {
  guid: string;
  subject: string;
  created_at: string;
  read: boolean;
  participants: Person[];
}

export interface Message {
  guid: string;
  created_at: string;
  body: string;
  author: Person;
  html?: string;
}

/** Consecutive messages of one author, close in time, shown under one name. */
export interface MessageGroup {
  author: Person;
  mine: boolean;
  messages: Message[];
}

export const MAX_SUBJECT = 255;
/** Conversations a page of the list holds. */
export const CONVERSATIONS_PAGE = 30;
export const MAX_MESSAGE = 65535;

/** Groups messages (oldest first) by author, starting a new group after a gap. */
export function groupMessages(msgs: readonly Message[], meGuid: string | undefined, gapMs = 10 * 60_000): MessageGroup[] {
  const out: MessageGroup[] = [];
  let last: MessageGroup | undefined;
  let lastAt = 0;
  for (const m of msgs) {
    const at = Date.parse(m.created_at);
    if (last && last.author.guid === m.author.guid && at - lastAt <= gapMs) {
      last.messages.push(m);
    } else {
      last = { author: m.author, mine: m.author.guid === meGuid, messages: [m] };
      out.push(last);
    }
    lastAt = at;
  }
  return out;
}

/** The people in a conversation other than me: "Ana, Bob and 2 others". */
export function participantsLabel(ps: readonly Person[], meGuid: string | undefined, max = 2): string {
  const others = ps.filter((p) => p.guid !== meGuid).map((p) => p.name || p.diaspora_id);
  if (others.length === 0) return 'Only you';
  if (others.length <= max + 1) {
    return others.length === 1 ? (others[0] as string) : `${others.slice(0, -1).join(', ')} and ${others[others.length - 1]}`;
  }
  const rest = others.length - max;
  return `${others.slice(0, max).join(', ')} and ${rest} others`;
}

/**
 * Why a new conversation cannot be sent yet, or '' when it can. Only mutual
 * contacts (I share with them, they share with me) can be recipients: the
 * pod refuses the rest with 422.
 */
export function newConversationProblem(p: { subject: string; body: string; recipients: readonly ContactEntry[] }): string {
  if (p.recipients.length === 0) return 'Choose at least one person to write to.';
  const notMutual = p.recipients.filter((r) => !isMutual(r.relationship) || r.closed);
  if (notMutual.length) {
    const names = notMutual.map((r) => r.person.name || r.person.diaspora_id).join(', ');
    return `Only mutual contacts can be in a conversation — you share with them and they share with you. Not mutual: ${names}.`;
  }
  if (!p.subject.trim()) return 'Give the conversation a subject.';
  if (p.subject.length > MAX_SUBJECT) return `The subject is ${p.subject.length} characters long (at most ${MAX_SUBJECT}).`;
  if (!p.body.trim()) return 'Write the first message.';
  if (p.body.length > MAX_MESSAGE) return `The message is too long (at most ${MAX_MESSAGE} characters).`;
  return '';
}

/** The contacts the picker offers for a query: mutual, not chosen, not closed, matching the text. */
export function pickable(contacts: readonly ContactEntry[], chosen: readonly string[], query: string): ContactEntry[] {
  const q = query.trim().toLowerCase();
  return contacts.filter(
    (c) =>
      isMutual(c.relationship) &&
      !c.closed &&
      !chosen.includes(c.person.guid) &&
      (!q || `${c.person.name ?? ''} ${c.person.diaspora_id}`.toLowerCase().includes(q)),
  );
}

/** Adds a message once (a live reload may bring back one already shown). */
export function appendMessage(list: readonly Message[], m: Message): Message[] {
  return list.some((x) => x.guid === m.guid) ? [...list] : [...list, m];
}

/** Ctrl+Enter (or Cmd+Enter) sends. */
export function isSendKey(e: { key: string; ctrlKey: boolean; metaKey: boolean }): boolean {
  return e.key === 'Enter' && (e.ctrlKey || e.metaKey);
}

export class ConversationsApi {
  constructor(private readonly c: Client) {}

  private v1<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.c.request<T>(method, V1 + path, body, true);
  }

  /**
   * A page of the list, latest activity first: the first one, or the one at
   * `next` (a path from the previous page's Link header, which carries the
   * cursor). The pod pages on last activity, so a conversation can move
   * between pages meanwhile: addPage keeps each one once.
   */
  async list(next = '', perPage = CONVERSATIONS_PAGE): Promise<Paged<Conversation>> {
    const r = await this.c.reply<Conversation[]>('GET', next || `${V1}/conversations?per_page=${perPage}`, undefined, true);
    return addPage([], r.data, r.links.next, perPage);
  }
  /** The list again, as many pages as it takes to cover `atLeast` conversations (what is shown). */
  async listCovering(atLeast: number, perPage = CONVERSATIONS_PAGE): Promise<Paged<Conversation>> {
    let got = await this.list('', perPage);
    for (let n = 1; got.next && got.items.length < atLeast && n < 100; n++) {
      const more = await this.list(got.next, perPage);
      got = addPage(got.items, more.items, more.next, 1);
    }
    return got;
  }
  get(guid: string): Promise<Conversation> {
    return this.v1<Conversation>('GET', `/conversations/${encodeURIComponent(guid)}`);
  }
  /** Every message, oldest first (index-paged, 100 a page). */
  async messages(guid: string): Promise<Message[]> {
    const out: Message[] = [];
    for (let page = 1; page < 50; page++) {
      const ms = await this.v1<Message[]>('GET', `/conversations/${encodeURIComponent(guid)}/messages?html=1&per_page=100&page=${page}`);
      out.push(...ms);
      if (ms.length < 100) break;
    }
    return out;
  }
  send(guid: string, body: string): Promise<Message> {
    return this.v1<Message>('POST', `/conversations/${encodeURIComponent(guid)}/messages?html=1`, { body });
  }
  create(subject: string, body: string, recipients: string[]): Promise<Conversation> {
    return this.v1<Conversation>('POST', '/conversations', { subject, body, recipients });
  }
  markRead(guid: string, read = true): Promise<Conversation> {
    return this.v1<Conversation>('PATCH', `/conversations/${encodeURIComponent(guid)}`, { read });
  }
  hide(guid: string): Promise<void> {
    return this.v1<void>('DELETE', `/conversations/${encodeURIComponent(guid)}`);
  }
}
