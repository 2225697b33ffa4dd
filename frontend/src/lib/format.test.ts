import { describe, expect, test } from 'vitest';
import { formatUptime, initials, relativeTime, shortPath } from './format';

describe('formatUptime', () => {
  test.each([
    [0, '0s'],
    [-5, '0s'],
    [59.9, '59s'],
    [60, '1m'],
    [3599, '59m'],
    [3600, '1h'],
    [3600 + 12 * 60, '1h 12m'],
    [86400, '1d'],
    [2 * 86400 + 4 * 3600 + 59, '2d 4h'],
  ])('%s seconds → %s', (s, want) => {
    expect(formatUptime(s)).toBe(want);
  });
});

describe('shortPath', () => {
  test('keeps short paths', () => {
    expect(shortPath('/home/ana/.local/share/seedpod')).toBe('/home/ana/.local/share/seedpod');
  });
  test('keeps the end of long paths within the limit', () => {
    const p = '/home/someone-with-a-long-name/.local/share/seedpod';
    const s = shortPath(p, 24);
    expect(s).toBe('…/.local/share/seedpod');
    expect(s.length).toBeLessThanOrEqual(24);
  });
  test('cuts a single long segment', () => {
    const s = shortPath('/' + 'x'.repeat(50), 20);
    expect(s.length).toBeLessThanOrEqual(20);
    expect(s.startsWith('…/')).toBe(true);
  });
});

describe('relativeTime', () => {
  const now = Date.parse('2026-11-27T12:00:00Z');
  test.each([
    ['2026-11-27T11:59:30Z', 'just now'],
    ['2026-11-27T11:55:00Z', '5 min'],
    ['2026-11-27T09:00:00Z', '3 h'],
    ['2026-11-25T12:00:00Z', '2 d'],
    ['2026-10-01T12:00:00Z', '1 Oct'],
    ['2025-10-01T12:00:00Z', '1 Oct 2025'],
    ['not a date', ''],
  ])('%s → %s', (iso, want) => expect(relativeTime(iso, now)).toBe(want));
});

describe('initials', () => {
  test.each([
    ['Ana Pérez', 'ana@x', 'AP'],
    ['  ', 'bob@x', 'B'],
    [undefined, 'carol@x', 'C'],
    ['Émile Zola Jr', 'e@x', 'ÉJ'],
  ])('%s/%s → %s', (name, handle, want) => expect(initials(name, handle)).toBe(want));
});
