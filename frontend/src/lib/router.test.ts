import { describe, expect, test } from 'vitest';
import { parseHash } from './router.svelte';

describe('parseHash', () => {
  test.each([
    ['', 'stream'],
    ['#', 'stream'],
    ['#/contacts', 'contacts'],
    ['#contacts', 'contacts'],
    ['#/settings/relay', 'settings'],
    ['#/search?q=x', 'search'],
    ['#/nowhere', 'stream'],
    ['#/__proto__', 'stream'],
  ])('%s → %s', (hash, want) => {
    expect(parseHash(hash)).toBe(want);
  });
});
