import { describe, expect, test } from 'vitest';
import { ApiError } from './api';
import {
  deviceState,
  formatBytes,
  formatCountdown,
  groupFingerprint,
  jobPercent,
  parseTags,
  passphraseProblem,
  relayError,
  relayStateLabel,
  relayURLProblem,
  sectionFromParams,
  squareCrop,
  tagsProblem,
  type Device,
} from './settings';

describe('sectionFromParams', () => {
  test.each([
    [[], 'profile'],
    [['devices'], 'devices'],
    [['keys', 'x'], 'keys'],
    [['nope'], 'profile'],
  ] as [string[], string][])('%j → %s', (params, want) => {
    expect(sectionFromParams(params)).toBe(want);
  });
});

describe('formatCountdown', () => {
  test.each([
    [600_000, '10:00'],
    [599_001, '10:00'],
    [545_000, '9:05'],
    [7_000, '0:07'],
    [1, '0:01'],
    [0, '0:00'],
    [-5000, '0:00'],
  ])('%i ms → %s', (ms, want) => {
    expect(formatCountdown(ms)).toBe(want);
  });
});

describe('squareCrop', () => {
  test.each([
    // w, h, zoom, offset → sx, sy, size
    [400, 200, 1, 0, { sx: 100, sy: 0, size: 200 }],
    [400, 200, 1, -1, { sx: 0, sy: 0, size: 200 }],
    [400, 200, 1, 1, { sx: 200, sy: 0, size: 200 }],
    [200, 400, 1, 1, { sx: 0, sy: 200, size: 200 }],
    [300, 300, 1, 0.7, { sx: 0, sy: 0, size: 300 }],
    [300, 300, 2, 0, { sx: 75, sy: 75, size: 150 }],
    [400, 200, 2, -1, { sx: 0, sy: 50, size: 100 }],
    [400, 200, 0.5, 5, { sx: 200, sy: 0, size: 200 }],
  ])('%i×%i zoom %f offset %f', (w, h, zoom, offset, want) => {
    expect(squareCrop(w, h, zoom, offset)).toEqual(want);
  });
});

describe('relay', () => {
  test.each([
    ['off', 'Not set up'],
    ['connecting', 'Connecting…'],
    ['connected', 'Connected'],
    ['error', 'Trouble reaching the relay'],
    ['weird', 'Unknown'],
  ])('label %s → %s', (s, want) => {
    expect(relayStateLabel(s)).toBe(want);
  });
  test.each([
    ['', ''],
    ['https://relay.example', ''],
    ['https://relay.example:8443/', ''],
    ['http://relay.example', 'The relay must use https://.'],
    ['relay.example', 'That is not a web address: it looks like https://relay.example.org.'],
    ['https://relay.example/path', 'Give only the relay’s origin, without a path.'],
  ])('url %j', (u, want) => {
    expect(relayURLProblem(u)).toBe(want);
  });
  test('errors by status', () => {
    expect(relayError(new ApiError(422, 'invalid', 'bad code.'))).toMatch(/^The relay or the pod refused this: bad code\./);
    expect(relayError(new ApiError(502, 'unavailable', 'no answer.'))).toMatch(/^The relay did not answer/);
    expect(relayError(new ApiError(502, 'unavailable', 'dial tcp: refused'))).toBe(
      'The relay did not answer: dial tcp: refused. Check the address, or try again later.',
    );
    expect(relayError(new Error('x'))).toBe('x.');
  });
});

describe('tags', () => {
  test.each([
    ['#garden, art  ,#art', ['garden', 'art']],
    ['', []],
    ['  #A #b', ['a', 'b']],
  ])('%j', (t, want) => {
    expect(parseTags(t)).toEqual(want);
  });
  test('problems', () => {
    expect(tagsProblem(['a', 'b'])).toBe('');
    expect(tagsProblem(['a', 'b', 'c', 'd', 'e', 'f'])).toBe('At most 5 tags: remove 1.');
    expect(tagsProblem(['ok', 'no!'])).toMatch(/“no!” is not a tag/);
    expect(tagsProblem(['jardín'])).toBe('');
  });
});

describe('devices and jobs', () => {
  const d: Device = { id: 'p', key: 'k', name: 'n', this: false, revoked: false, connected: true, syncing: false, caught_up: true, ops_sent: 0, ops_received: 0 };
  test.each([
    [{}, 'Connected, up to date'],
    [{ caught_up: false, syncing: true }, 'Connected, syncing…'],
    [{ connected: false }, 'Not connected'],
    [{ this: true }, 'This device'],
    [{ revoked: true, this: true }, 'Revoked'],
  ] as [Partial<Device>, string][])('%j → %s', (over, want) => {
    expect(deviceState({ ...d, ...over })).toBe(want);
  });
  test.each([
    [{ done: 0, total: 0 }, null],
    [{ done: 1, total: 3 }, 33],
    [{ done: 5, total: 4 }, 100],
  ])('%j → %s', (p, want) => {
    expect(jobPercent(p)).toBe(want);
  });
  test.each([
    [10, '10 B'],
    [1536, '1.5 KB'],
    [20 * 1024 * 1024, '20 MB'],
    [3 * 1024 ** 3, '3.0 GB'],
  ])('%i → %s', (n, want) => {
    expect(formatBytes(n)).toBe(want);
  });
});

describe('keys', () => {
  test('fingerprint groups', () => {
    expect(groupFingerprint('AB12CD34EF')).toBe('AB12 CD34 EF');
  });
  test.each([
    ['short', 'short', 'Use at least 10 characters: a few words you will remember.'],
    ['long enough words', 'long enough word', 'The two passphrases differ.'],
    ['long enough words', 'long enough words', ''],
  ])('%j', (p, a, want) => {
    expect(passphraseProblem(p, a)).toBe(want);
  });
});
