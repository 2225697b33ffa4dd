import type { IconName } from './icons';

/** The areas of the app, in navigation order. */
export interface Area {
  id: string;
  label: string;
  icon: IconName;
  title: string;
  blurb: string;
}

export const AREAS: readonly Area[] = [
  {
    id: 'stream',
    label: 'Stream',
    icon: 'stream',
    title: 'Your stream is quiet',
    blurb: 'Posts from the people you share with, your aspects and the tags you follow will gather here — readable offline, always.',
  },
  {
    id: 'contacts',
    label: 'Contacts',
    icon: 'contacts',
    title: 'No contacts yet',
    blurb: 'Find people anywhere on the diaspora* network by their ID, and sort them into aspects: Family, Friends, Work, Acquaintances, or your own.',
  },
  {
    id: 'conversations',
    label: 'Conversations',
    icon: 'conversations',
    title: 'No conversations',
    blurb: 'Private conversations with your contacts, end-to-end encrypted to each recipient.',
  },
  {
    id: 'notifications',
    label: 'Notifications',
    icon: 'notifications',
    title: 'You are all caught up',
    blurb: 'Comments, likes, reshares, mentions and new contacts will show up here.',
  },
  {
    id: 'drafts',
    label: 'Drafts',
    icon: 'drafts',
    title: 'No drafts',
    blurb: 'Write anywhere, offline. Drafts — also Markdown files in your drafts folder — wait here until you publish them.',
  },
  {
    id: 'search',
    label: 'Search',
    icon: 'search',
    title: 'Search your pod',
    blurb: 'Full-text search over posts, comments, conversations, people and tags — all on this machine.',
  },
  {
    id: 'settings',
    label: 'Settings',
    icon: 'settings',
    title: 'Settings',
    blurb: 'Profile, relay, devices, drafts folder, export and import, key backup.',
  },
];

export const DEFAULT_AREA = 'stream';

export function areaById(id: string): Area {
  return AREAS.find((a) => a.id === id) ?? (AREAS[0] as Area);
}
