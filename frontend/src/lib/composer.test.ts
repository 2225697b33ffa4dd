import { expect, test } from 'vitest';
import { audienceLabel } from './composer';

const aspects = [
  { id: 1, name: 'Family', order: 1 },
  { id: 2, name: 'Friends', order: 2 },
  { id: 3, name: 'Work', order: 3 },
];

test.each([
  [{ kind: 'public' as const }, 'Public'],
  [{ kind: 'all' as const }, 'All aspects'],
  [{ kind: 'aspects' as const, ids: [] }, 'Choose aspects'],
  [{ kind: 'aspects' as const, ids: [3] }, 'Work'],
  [{ kind: 'aspects' as const, ids: [1, 3] }, 'Family, Work'],
  [{ kind: 'aspects' as const, ids: [2, 1, 3] }, 'Friends +2'],
  [{ kind: 'aspects' as const, ids: [99] }, 'Choose aspects'],
])('%j → %s', (a, want) => expect(audienceLabel(a, aspects)).toBe(want));
