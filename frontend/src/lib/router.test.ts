import { describe, expect, test } from 'vitest';
import { parseHash, parseParams } from './router.svelte';

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
    ['#/post/abc', 'post'],
    ['#/people/g1', 'people'],
    ['#/tags/cats', 'tags'],
  ])('%s → %s', (hash, want) => {
    expect(parseHash(hash)).toBe(want);
  });
});

describe('parseParams', () => {
  test.each([
    ['', []],
    ['#/stream', []],
    ['#/stream/aspects/3', ['aspects', '3']],
    ['#/stream/tag/caf%C3%A9', ['tag', 'café']],
    ['#/stream/tag/%E0%A4%A', ['tag', '%E0%A4%A']],
    ['#/search/x?q=1', ['x']],
    ['#/stream//public/', ['public']],
  ])('%s → %j', (hash, want) => {
    expect(parseParams(hash)).toEqual(want);
  });
});
