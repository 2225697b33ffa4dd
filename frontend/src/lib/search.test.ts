import { describe, expect, test } from 'vitest';
import { normaliseTag, resultRoute, segments, type SearchResult } from './search';

const marked = (s: string, hs: { start: number; end: number }[]) =>
  segments(s, hs)
    .map((x) => (x.mark ? `[${x.text}]` : x.text))
    .join('');

describe('segments', () => {
  test.each([
    ['a cat sat', [{ start: 2, end: 5 }], 'a [cat] sat'],
    ['a cat sat', [], 'a cat sat'],
    ['a cat sat', [{ start: 6, end: 9 }, { start: 2, end: 5 }], 'a [cat] [sat]'],
    ['a cat sat', [{ start: 2, end: 5 }, { start: 4, end: 7 }], 'a [cat s]at'],
    ['a cat sat', [{ start: -5, end: 1 }, { start: 8, end: 99 }], '[a] cat sa[t]'],
    ['a cat sat', [{ start: 3, end: 3 }, { start: 5, end: 2 }], 'a cat sat'],
    ['café 😀 bread', [{ start: 5, end: 7 }, { start: 8, end: 13 }], 'café [😀] [bread]'],
    ['', [{ start: 0, end: 4 }], ''],
  ])('%s %j → %s', (s, hs, want) => expect(marked(s, hs)).toBe(want));

  test('segments put together give the snippet back', () => {
    const s = 'one two three four';
    expect(segments(s, [{ start: 4, end: 7 }, { start: 14, end: 18 }]).map((x) => x.text).join('')).toBe(s);
  });
});

describe('resultRoute', () => {
  const r = (x: Partial<SearchResult>) => ({ kind: 'post', guid: 'g', snippet: '', highlights: [], created_at: '', item: null, ...x }) as SearchResult;
  test.each([
    [r({ kind: 'post' }), ['post', 'g']],
    [r({ kind: 'comment', post_guid: 'p' }), ['post', 'p']],
    [r({ kind: 'message', conversation_guid: 'c' }), ['conversations', 'c']],
    [r({ kind: 'person' }), ['people', 'g']],
    [r({ kind: 'draft' }), ['drafts', 'g']],
    [r({ kind: 'alien' }), ['search']],
  ])('%j → %j', (x, want) => expect(resultRoute(x)).toEqual(want));
});

test.each([
  ['#Café ', 'café'],
  ['##cats', 'cats'],
  ['two words', ''],
  ['#', ''],
  ['<script>', ''],
])('normaliseTag(%s) → %s', (t, want) => expect(normaliseTag(t)).toBe(want));
