import { describe, expect, test } from 'vitest';
import type { Person } from './api';
import { mergeNotifications, notificationsPath, sentence, whoText, type Notification } from './notifications';

const p = (name: string | undefined, id = (name ?? 'x').toLowerCase() + '@pod.example'): Person => ({ guid: id, diaspora_id: id, name });

describe('whoText', () => {
  test.each([
    [[], 'Someone'],
    [[p('Ana')], 'Ana'],
    [[p(undefined, 'bo@pod.example')], 'bo'],
    [[p('Ana'), p('Bo')], 'Ana and Bo'],
    [[p('Ana'), p('Bo'), p('Cy')], 'Ana, Bo and Cy'],
    [[p('Ana'), p('Bo'), p('Cy'), p('Di')], 'Ana and 3 others'],
  ] as [Person[], string][])('%#', (people, want) => {
    expect(whoText(people)).toBe(want);
  });
});

describe('sentence', () => {
  test.each([
    ['liked', [p('Ana'), p('Bo'), p('Cy'), p('Di')].slice(0, 4), 'Ana and 3 others liked your post.'],
    ['liked', [p('Ana'), p('Bo'), p('Cy')], 'Ana, Bo and Cy liked your post.'],
    ['comment_on_post', [p('Ana')], 'Ana commented on your post.'],
    ['also_commented', [p('Ana')], 'Ana also commented on a post you commented on.'],
    ['reshared', [p('Ana'), p('Bo')], 'Ana and Bo reshared your post.'],
    ['mentioned', [p('Ana')], 'Ana mentioned you in a post.'],
    ['started_sharing', [p('Ana')], 'Ana started sharing with you.'],
    ['contacts_birthday', [p('Ana'), p('Bo')], 'Ana and Bo have birthdays today.'],
    [null, [p('Ana')], 'Ana sent you something.'],
  ] as [Notification['type'], Person[], string][])('%s %#', (type, who, want) => {
    expect(sentence({ type, event_creators: who })).toBe(want);
  });
});

describe('mergeNotifications', () => {
  const n = (guid: string, at: string, read = false): Notification => ({ guid, type: 'liked', read, created_at: at, event_creators: [] });
  test('fresh entries replace shown ones and all stay newest first', () => {
    const shown = [n('b', '2026-01-02T00:00:00Z'), n('a', '2026-01-01T00:00:00Z')];
    const fresh = [n('c', '2026-01-03T00:00:00Z'), n('b', '2026-01-02T00:00:00Z', true)];
    const out = mergeNotifications(shown, fresh);
    expect(out.map((x) => x.guid)).toEqual(['c', 'b', 'a']);
    expect(out[1]!.read).toBe(true);
  });
});

test('notificationsPath', () => {
  expect(notificationsPath({ before: '2026-01-01T00:00:00Z', onlyUnread: true, perPage: 5 })).toBe(
    '/api/v1/notifications?before=2026-01-01T00%3A00%3A00Z&only_unread=true&per_page=5',
  );
});
