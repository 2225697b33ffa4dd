// Notifications: the v1 list, read state, and the sentences the screen shows.
import type { Client, Person } from './api';

export const V1 = '/api/v1';

export type NotificationType =
  | 'also_commented'
  | 'comment_on_post'
  | 'liked'
  | 'liked_comment'
  | 'mentioned'
  | 'mentioned_in_comment'
  | 'reshared'
  | 'started_sharing'
  | 'contacts_birthday';

export interface Notification {
  guid: string;
  type: NotificationType | null;
  read: boolean;
  created_at: string;
  event_creators: Person[];
  target?: { guid: string; author?: Person };
}

/** A person's display name: the name, else the handle's user part. */
export function personName(p: Person): string {
  return (p.name ?? '').trim() || p.diaspora_id.split('@')[0] || p.diaspora_id;
}

/** "Ana", "Ana and Bo", "Ana, Bo and Cy", "Ana and 3 others". */
export function whoText(people: Person[]): string {
  const names = people.map(personName);
  if (names.length === 0) return 'Someone';
  if (names.length === 1) return names[0]!;
  if (names.length === 2) return `${names[0]} and ${names[1]}`;
  if (names.length === 3) return `${names[0]}, ${names[1]} and ${names[2]}`;
  const rest = names.length - 1;
  return `${names[0]} and ${rest} others`;
}

/** What happened, after the names: "liked your post". */
export function actionText(type: Notification['type']): string {
  switch (type) {
    case 'comment_on_post':
      return 'commented on your post';
    case 'also_commented':
      return 'also commented on a post you commented on';
    case 'liked':
      return 'liked your post';
    case 'liked_comment':
      return 'liked your comment';
    case 'mentioned':
      return 'mentioned you in a post';
    case 'mentioned_in_comment':
      return 'mentioned you in a comment';
    case 'reshared':
      return 'reshared your post';
    case 'started_sharing':
      return 'started sharing with you';
    case 'contacts_birthday':
      return 'has a birthday today';
    default:
      return 'sent you something';
  }
}

/** "Ana and 2 others liked your post." */
export function sentence(n: Pick<Notification, 'type' | 'event_creators'>): string {
  let action = actionText(n.type);
  // A birthday of several people reads in the plural.
  if (n.type === 'contacts_birthday' && n.event_creators.length > 1) action = 'have birthdays today';
  return `${whoText(n.event_creators)} ${action}.`;
}

/** The icon name (lib/icons) for a type; falls back to the bell. */
export function typeIcon(type: Notification['type']): 'comment' | 'heart' | 'reshare' | 'person' | 'contacts' | 'notifications' {
  switch (type) {
    case 'comment_on_post':
    case 'also_commented':
      return 'comment';
    case 'liked':
    case 'liked_comment':
      return 'heart';
    case 'reshared':
      return 'reshare';
    case 'mentioned':
    case 'mentioned_in_comment':
      return 'person';
    case 'started_sharing':
      return 'contacts';
    default:
      return 'notifications';
  }
}

/** Merges a fresh first page into what is shown: newer entries win, order newest first, no duplicates. */
export function mergeNotifications(shown: Notification[], fresh: Notification[]): Notification[] {
  const byGuid = new Map<string, Notification>();
  for (const n of shown) byGuid.set(n.guid, n);
  for (const n of fresh) byGuid.set(n.guid, n);
  return [...byGuid.values()].sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.guid < b.guid ? -1 : 1));
}

export function notificationsPath(opts: { before?: string; onlyUnread?: boolean; perPage?: number } = {}): string {
  const q = new URLSearchParams();
  if (opts.before) q.set('before', opts.before);
  if (opts.onlyUnread) q.set('only_unread', 'true');
  q.set('per_page', String(opts.perPage ?? 30));
  return `${V1}/notifications?${q}`;
}

export function notificationsApi(c: Client) {
  return {
    list: (opts: { before?: string; onlyUnread?: boolean; perPage?: number } = {}) =>
      c.request<Notification[]>('GET', notificationsPath(opts), undefined, true),
    mark: (guid: string, read: boolean) => c.request<void>('PATCH', `${V1}/notifications/${encodeURIComponent(guid)}`, { read }, true),
    readAll: () => c.request<void>('POST', '/notifications/read_all'),
  };
}
