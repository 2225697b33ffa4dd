// Line icons on a 24×24 grid, stroked with currentColor.
export const ICONS = {
  stream: ['M3 10.5 12 3l9 7.5V21H3z', 'M9 21v-6h6v6'],
  contacts: [
    'M13 8a4 4 0 1 1-8 0 4 4 0 0 1 8 0z',
    'M2 21c0-3.9 3.1-7 7-7s7 3.1 7 7',
    'M16 4.1a4 4 0 0 1 0 7.8',
    'M22 21c0-3-1.8-5.6-4.5-6.6',
  ],
  conversations: ['M21 12a8 8 0 0 1-11.6 7.1L4 21l1.9-5.4A8 8 0 1 1 21 12z'],
  notifications: ['M18 8a6 6 0 0 0-12 0c0 7-3 9-3 9h18s-3-2-3-9', 'M13.7 21a2 2 0 0 1-3.4 0'],
  drafts: ['M12 20h9', 'M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z'],
  search: ['M18 11a7 7 0 1 1-14 0 7 7 0 0 1 14 0z', 'M21 21l-4.3-4.3'],
  settings: ['M4 21v-7', 'M4 10V3', 'M12 21v-9', 'M12 8V3', 'M20 21v-5', 'M20 12V3', 'M1 14h6', 'M9 8h6', 'M17 16h6'],
  person: ['M16 8a4 4 0 1 1-8 0 4 4 0 0 1 8 0z', 'M4 21c0-4 3.6-7 8-7s8 3 8 7'],
} as const;

export type IconName = keyof typeof ICONS;
