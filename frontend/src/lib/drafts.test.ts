import { expect, test } from 'vitest';
import { draftTitle, fileName } from './drafts';

test.each([
  ['# A walk in the park\n\nIt was cold.', 'A walk in the park'],
  ['\n\n   \nSecond line first', 'Second line first'],
  ['', 'Empty draft'],
  ['   \n  ', 'Empty draft'],
  ['cw: spiders\n\nthey are fine', 'CW: spiders'],
  ['x'.repeat(100), 'x'.repeat(79) + '…'],
  ['😀'.repeat(90), '😀'.repeat(79) + '…'],
  ['####### seven hashes is text', '####### seven hashes is text'],
])('draftTitle(%j) → %s', (body, want) => expect(draftTitle(body)).toBe(want));

test.each([
  ['/home/ana/Seedpod/Drafts/walk.md', 'walk.md'],
  ['C:\\Users\\ana\\Drafts\\walk.md', 'walk.md'],
  ['walk.md', 'walk.md'],
])('fileName(%s) → %s', (p, want) => expect(fileName(p)).toBe(want));
