import { describe, expect, test } from 'vitest';
import { ApiError } from './api';
import {
  aspectChanges,
  aspectsLabel,
  contactsParams,
  contactsPath,
  discoverMessage,
  filterContacts,
  moveAspect,
  parseContactsParams,
  relationshipLabel,
  validDiasporaId,
  type ContactEntry,
} from './people';

const entry = (name: string, id: string, receiving = true, sharing = true): ContactEntry => ({
  person: { guid: id, diaspora_id: id, name },
  relationship: { receiving, sharing },
  aspects: [],
});

describe('relationshipLabel', () => {
  test.each([
    [{ receiving: true, sharing: true }, 'Mutual'],
    [{ receiving: true, sharing: false }, 'You share with them'],
    [{ receiving: false, sharing: true }, 'Shares with you'],
    [{ receiving: false, sharing: false }, 'Not sharing'],
    [undefined, 'Not a contact'],
  ])('%o → %s', (r, want) => expect(relationshipLabel(r)).toBe(want));
});

describe('contacts route params', () => {
  test.each([
    [[], { relationship: '', aspect: null }],
    [['mutual'], { relationship: 'mutual', aspect: null }],
    [['aspect', '3'], { relationship: '', aspect: 3 }],
    [['sharing', 'aspect', '7'], { relationship: 'sharing', aspect: 7 }],
    [['bogus', 'aspect', 'x'], { relationship: '', aspect: null }],
  ])('%o', (params, want) => {
    const f = parseContactsParams(params);
    expect(f).toEqual(want);
    expect(parseContactsParams(contactsParams(f))).toEqual(f);
  });
  test('the API path carries the filter and the page', () => {
    expect(contactsPath({ relationship: 'receiving', aspect: 4 }, 2, 10)).toBe('/contacts?relationship=receiving&aspect=4&page=2&per_page=10');
    expect(contactsPath({ relationship: '', aspect: null })).toBe('/contacts?page=1&per_page=50');
  });
});

describe('filterContacts', () => {
  const list = [entry('José Álvarez', 'jose@a.example'), entry('Bob Stone', 'bob@b.example'), entry('', 'carla@pod.example')];
  test.each([
    ['', 3],
    ['jose', 1],
    ['ÁLV', 1],
    ['b.example', 1],
    ['carla pod', 1],
    ['bob jose', 0],
    ['   ', 3],
  ])('%s → %i', (q, n) => expect(filterContacts(list, q)).toHaveLength(n));
});

test('aspectChanges adds the new and removes the dropped', () => {
  expect(aspectChanges([1, 2], [2, 3])).toEqual({ add: [3], remove: [1] });
  expect(aspectChanges([], [1])).toEqual({ add: [1], remove: [] });
  expect(aspectChanges([4], [])).toEqual({ add: [], remove: [4] });
  expect(aspectChanges([1], [1])).toEqual({ add: [], remove: [] });
});

test('aspectsLabel', () => {
  expect(aspectsLabel([])).toBe('In no aspect');
  expect(aspectsLabel([{ id: 1, name: 'Family' }, { id: 2, name: 'Work' }])).toBe('Family, Work');
});

describe('validDiasporaId', () => {
  test.each([
    ['alice@pod.example', true],
    ['alice@127.0.0.1:8080', true],
    [' bob_1@joindiaspora.com ', true],
    ['alice', false],
    ['@pod.example', false],
    ['alice@', false],
    ['a b@pod.example', false],
    ['a@b@pod.example', false],
  ])('%s → %s', (s, ok) => expect(validDiasporaId(s)).toBe(ok));
});

describe('discoverMessage', () => {
  test.each([
    [404, 'Nobody answers to x@y.z'],
    [422, 'is not a diaspora* ID'],
    [502, 'could not be reached'],
    [0, 'could not be reached'],
    [500, 'Looking up x@y.z failed'],
  ])('%i', (status, part) => expect(discoverMessage(new ApiError(status, 'e', 'boom'), 'x@y.z')).toContain(part));
});

test('moveAspect', () => {
  expect(moveAspect(['a', 'b', 'c'], 0, 2)).toEqual(['b', 'c', 'a']);
  expect(moveAspect(['a', 'b', 'c'], 2, 1)).toEqual(['a', 'c', 'b']);
  expect(moveAspect(['a', 'b'], 0, 5)).toEqual(['a', 'b']);
});
