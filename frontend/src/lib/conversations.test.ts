import { describe, expect, test } from 'vitest';
import { Client } from './api';
import { CONVERSATIONS_PAGE, ConversationsApi, appendMessage, groupMessages, isSendKey, newConversationProblem, participantsLabel, pickable, type Message } from './conversations';
import type { ContactEntry } from './people';

const person = (guid: string, name = guid) => ({ guid, diaspora_id: `${guid}@pod.example`, name });
const msg = (guid: string, author: string, minute: number): Message => ({
  guid,
  author: person(author),
  body: guid,
  created_at: new Date(Date.UTC(2026, 0, 1, 12, minute)).toISOString(),
});
const contact = (guid: string, receiving: boolean, sharing: boolean, closed = false): ContactEntry => ({
  person: person(guid, guid.toUpperCase()),
  relationship: { receiving, sharing },
  aspects: [],
  closed,
});

describe('groupMessages', () => {
  test('groups runs of one author, splits on another author or a long gap', () => {
    const g = groupMessages([msg('1', 'a', 0), msg('2', 'a', 3), msg('3', 'me', 4), msg('4', 'me', 5), msg('5', 'me', 30), msg('6', 'a', 31)], 'me');
    expect(g.map((x) => x.messages.map((m) => m.guid))).toEqual([['1', '2'], ['3', '4'], ['5'], ['6']]);
    expect(g.map((x) => x.mine)).toEqual([false, true, true, false]);
  });
  test('empty', () => expect(groupMessages([], 'me')).toEqual([]));
});

describe('participantsLabel', () => {
  const ps = [person('me'), person('a', 'Ana'), person('b', 'Bob'), person('c', 'Cy'), person('d', 'Di')];
  test.each([
    [ps.slice(0, 1), 'Only you'],
    [ps.slice(0, 2), 'Ana'],
    [ps.slice(0, 3), 'Ana and Bob'],
    [ps.slice(0, 4), 'Ana, Bob and Cy'],
    [ps, 'Ana, Bob and 2 others'],
  ])('%#', (list, want) => expect(participantsLabel(list, 'me')).toBe(want));
});

describe('newConversationProblem', () => {
  const ok = { subject: 'Hi', body: 'Hello', recipients: [contact('a', true, true)] };
  test.each([
    [ok, ''],
    [{ ...ok, recipients: [] }, 'Choose at least one'],
    [{ ...ok, recipients: [contact('a', true, true), contact('b', true, false)] }, 'Not mutual: B.'],
    [{ ...ok, recipients: [contact('c', false, true)] }, 'Only mutual contacts'],
    [{ ...ok, recipients: [contact('d', true, true, true)] }, 'Not mutual: D.'],
    [{ ...ok, subject: '  ' }, 'subject'],
    [{ ...ok, subject: 'x'.repeat(256) }, 'at most 255'],
    [{ ...ok, body: '' }, 'first message'],
  ])('%#', (input, want) => {
    const got = newConversationProblem(input);
    if (want === '') expect(got).toBe('');
    else expect(got).toContain(want);
  });
});

test('pickable offers mutual, open, unchosen contacts matching the text', () => {
  const cs = [contact('ann', true, true), contact('ben', true, false), contact('cat', true, true, true), contact('dan', true, true)];
  expect(pickable(cs, [], '').map((c) => c.person.guid)).toEqual(['ann', 'dan']);
  expect(pickable(cs, ['ann'], '').map((c) => c.person.guid)).toEqual(['dan']);
  expect(pickable(cs, [], 'AN').map((c) => c.person.guid)).toEqual(['ann', 'dan']);
  expect(pickable(cs, [], 'dan@').map((c) => c.person.guid)).toEqual(['dan']);
});

test('appendMessage does not repeat a message', () => {
  const a = msg('1', 'a', 0);
  expect(appendMessage([a], a)).toHaveLength(1);
  expect(appendMessage([a], msg('2', 'a', 1))).toHaveLength(2);
});

test('isSendKey', () => {
  expect(isSendKey({ key: 'Enter', ctrlKey: true, metaKey: false })).toBe(true);
  expect(isSendKey({ key: 'Enter', ctrlKey: false, metaKey: true })).toBe(true);
  expect(isSendKey({ key: 'Enter', ctrlKey: false, metaKey: false })).toBe(false);
  expect(isSendKey({ key: 'a', ctrlKey: true, metaKey: false })).toBe(false);
});

describe('ConversationsApi.list', () => {
  const conv = (i: number) => ({ guid: 'c' + i, subject: 's' + i, created_at: '', read: true, participants: [] });
  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => conv(from + i));
  const P = CONVERSATIONS_PAGE;

  // The pod's pages: newest activity first, Link next after every non-empty page.
  function pod(pages: Record<string, unknown[]>) {
    const urls: string[] = [];
    const f = (async (url: string) => {
      urls.push(url);
      const items = pages[url];
      if (!items) return new Response('{"error":"not_found","message":"no such page"}', { status: 404 });
      const n = Object.keys(pages).indexOf(url) + 1;
      const headers: Record<string, string> = items.length
        ? { Link: `<http://127.0.0.1:4000/api/v1/conversations?per_page=${P}&before=T${n}&cursor=k${n}>; rel="next", </api/v1/conversations?after=z>; rel="previous"` }
        : {};
      return new Response(JSON.stringify(items), { headers });
    }) as unknown as typeof fetch;
    return { api: new ConversationsApi(new Client(f)), urls };
  }

  test('follows next pages to the end, each conversation once', async () => {
    const { api, urls } = pod({
      [`/api/v1/conversations?per_page=${P}`]: range(0, P),
      // c{P-1} got a new message meanwhile and shows up again
      [`/api/v1/conversations?per_page=${P}&before=T1&cursor=k1`]: [conv(P - 1), ...range(P, P - 1)],
      [`/api/v1/conversations?per_page=${P}&before=T2&cursor=k2`]: range(2 * P - 1, 2),
    });
    const first = await api.list();
    expect(first.items).toHaveLength(P);
    expect(first.next).toBe(`/api/v1/conversations?per_page=${P}&before=T1&cursor=k1`);
    const all = await api.listCovering(Infinity);
    expect(all.items.map((c) => c.guid)).toEqual(range(0, 2 * P + 1).map((c) => c.guid));
    expect(all.next).toBe('');
    expect(urls).toHaveLength(4);
  });

  test('a refresh reads as many pages as are shown, no more', async () => {
    const { api, urls } = pod({
      [`/api/v1/conversations?per_page=${P}`]: range(0, P),
      [`/api/v1/conversations?per_page=${P}&before=T1&cursor=k1`]: range(P, P),
      [`/api/v1/conversations?per_page=${P}&before=T2&cursor=k2`]: [],
    });
    expect((await api.listCovering(0)).items).toHaveLength(P);
    expect(urls).toHaveLength(1);
    const two = await api.listCovering(P + 1);
    expect(two.items).toHaveLength(2 * P);
    expect(two.next).not.toBe('');
    expect(urls).toHaveLength(3);
  });
});
