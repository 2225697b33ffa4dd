import { describe, expect, test } from 'vitest';
import { formatUptime, shortPath } from './format';

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
