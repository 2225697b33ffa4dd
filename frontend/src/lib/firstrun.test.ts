import { describe, expect, test } from 'vitest';
import { keyPercent, relayURLProblem, suggestUsername, usernameProblem } from './firstrun';

describe('suggestUsername', () => {
  test.each([
    ['Ana Lúcia Pérez', 'ana_lucia_perez'],
    ['  Bob  ', 'bob'],
    ['Ωmega', 'mega'],
    ['日本', ''],
    ['a'.repeat(40), 'a'.repeat(32)],
    ['-dash first', 'dash_first'],
  ])('%s → %s', (name, want) => expect(suggestUsername(name)).toBe(want));
});

describe('usernameProblem', () => {
  test.each([
    ['alice', ''],
    ['al.ice-2_', ''],
    ['', 'Choose a username.'],
    ['Alice', 'Lowercase letters only.'],
    ['.alice', 'Letters a–z, digits, and _ . - (not first).'],
    ['al ice', 'Letters a–z, digits, and _ . - (not first).'],
    ['a'.repeat(33), 'At most 32 characters.'],
  ])('%s → %s', (u, want) => expect(usernameProblem(u)).toBe(want));
});

describe('relayURLProblem', () => {
  test.each([
    ['https://relay.example', ''],
    ['https://relay.example:8443/', ''],
    ['http://relay.example', 'The relay must use https://.'],
    ['relay.example', 'Enter the relay’s address, like https://relay.example.'],
    ['https://relay.example/inbox', 'Only the origin: https://host[:port], nothing after it.'],
    ['https://u:p@relay.example', 'Only the origin: https://host[:port], nothing after it.'],
  ])('%s → %s', (u, want) => expect(relayURLProblem(u)).toBe(want));
});

test('keyPercent', () => {
  expect(keyPercent('generating', 0.999)).toBe(99);
  expect(keyPercent('generating', -1)).toBe(0);
  expect(keyPercent('ready', 0.2)).toBe(100);
});
