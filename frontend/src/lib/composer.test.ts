import { expect, test } from 'vitest';
import { audienceLabel, fileProblem, findTrigger, locationInput, mentionText, mergePeople, pollProblem, postText, replaceTrigger } from './composer';

const aspects = [
  { id: 1, name: 'Family', order: 1 },
  { id: 2, name: 'Friends', order: 2 },
  { id: 3, name: 'Work', order: 3 },
];

test.each([
  [{ kind: 'public' as const }, 'Public'],
  [{ kind: 'all' as const }, 'All aspects'],
  [{ kind: 'aspects' as const, ids: [] }, 'Choose aspects'],
  [{ kind: 'aspects' as const, ids: [3] }, 'Work'],
  [{ kind: 'aspects' as const, ids: [1, 3] }, 'Family, Work'],
  [{ kind: 'aspects' as const, ids: [2, 1, 3] }, 'Friends +2'],
  [{ kind: 'aspects' as const, ids: [99] }, 'Choose aspects'],
])('%j → %s', (a, want) => expect(audienceLabel(a, aspects)).toBe(want));



test.each([
  ['@ana', 4, { kind: 'person', query: 'ana', start: 0, end: 4 }],
  ['hi @ana', 7, { kind: 'person', query: 'ana', start: 3, end: 7 }],
  ['hi @ana@pod.example', 19, { kind: 'person', query: 'ana@pod.example', start: 3, end: 19 }],
  ['(#gar', 5, { kind: 'tag', query: 'gar', start: 1, end: 5 }],
  ['x #garden-club', 14, { kind: 'tag', query: 'garden-club', start: 2, end: 14 }],
  ['hi @ana more', 7, { kind: 'person', query: 'ana', start: 3, end: 7 }],
  ['hi @ana more', 12, null],
  ["@o'bri", 6, { kind: 'person', query: "o'bri", start: 0, end: 6 }],
  ['a@ana', 5, null],
  ['mail x@y', 8, null],
  ['@', 1, null],
  ['##', 2, null],
  ['@{Ana; ana@x}', 13, null],
  ['#tag.', 5, null],
  ['', 0, null],
  ['@ana', 9, null],
])('findTrigger(%j, %i)', (text, cursor, want) => expect(findTrigger(text, cursor)).toEqual(want));

test.each([
  [{ diaspora_id: 'ana@pod.example', name: 'Ana Pérez' }, '@{Ana Pérez; ana@pod.example}'],
  [{ diaspora_id: 'ana@pod.example' }, '@{ana@pod.example}'],
  [{ diaspora_id: 'ana@pod.example', name: '  ' }, '@{ana@pod.example}'],
  [{ diaspora_id: 'ana@pod.example', name: 'A}b' }, '@{ana@pod.example}'],
  [{ diaspora_id: 'ana@pod.example', name: 'A; b' }, '@{ana@pod.example}'],
])('mentionText(%j)', (p, want) => expect(mentionText(p)).toBe(want));

test.each([
  ['hi @an', { kind: 'person' as const, query: 'an', start: 3, end: 6 }, '@{Ana; ana@x}', 'hi @{Ana; ana@x} ', 17],
  ['@an and', { kind: 'person' as const, query: 'an', start: 0, end: 3 }, '@{ana@x}', '@{ana@x} and', 9],
  ['#ga', { kind: 'tag' as const, query: 'ga', start: 0, end: 3 }, '#garden', '#garden ', 8],
])('replaceTrigger(%j)', (text, t, ins, want, cursor) => expect(replaceTrigger(text, t, ins)).toEqual({ text: want, cursor }));

test('mergePeople puts contacts first, once, capped', () => {
  const c = [{ diaspora_id: 'b@x', contact: true }];
  const all = [{ diaspora_id: 'a@x' }, { diaspora_id: 'B@x' }, { diaspora_id: 'c@x' }];
  expect(mergePeople(c, all, 2).map((p) => p.diaspora_id)).toEqual(['b@x', 'a@x']);
  expect(mergePeople(c, all).map((p) => p.diaspora_id)).toEqual(['b@x', 'a@x', 'c@x']);
});

test.each([
  [{ question: 'Tea?', answers: ['Yes', 'No'] }, ''],
  [{ question: ' ', answers: ['Yes', 'No'] }, 'The poll needs a question.'],
  [{ question: 'Tea?', answers: ['Yes'] }, 'A poll needs at least two answers.'],
  [{ question: 'Tea?', answers: ['Yes', ' '] }, 'Answer 2 is blank: fill it in or remove it.'],
  [{ question: 'Tea?', answers: ['Yes', 'yes '] }, 'Answer 2 repeats an earlier answer.'],
  [{ question: 'Tea?', answers: Array.from({ length: 21 }, (_, i) => String(i)) }, 'A poll has at most 20 answers.'],
  [{ question: 'x'.repeat(256), answers: ['a', 'b'] }, 'The poll question is longer than 255 characters.'],
])('pollProblem(%j)', (p, want) => expect(pollProblem(p)).toBe(want));

test.each([
  [{ name: 'a.png', type: 'image/png', size: 100 }, ''],
  [{ name: 'a.webp', type: 'image/webp', size: 100 }, ''],
  [{ name: 'a.svg', type: 'image/svg+xml', size: 100 }, 'a.svg is not a photo the pod takes (JPEG, PNG, GIF or WebP).'],
  [{ name: 'a.pdf', type: '', size: 100 }, 'a.pdf is not a photo the pod takes (JPEG, PNG, GIF or WebP).'],
  [{ name: 'e.png', type: 'image/png', size: 0 }, 'e.png is empty.'],
  [{ name: 'big.jpg', type: 'image/jpeg', size: 21 << 20 }, 'big.jpg is 21.0 MiB; photos may be at most 20 MiB.'],
  [{ name: 'ok.jpg', type: 'image/jpeg', size: 20 << 20 }, ''],
])('fileProblem(%j)', (f, want) => expect(fileProblem(f)).toBe(want));

test.each([
  [{ address: 'Berlin', lat: '52.5', lng: '13,4' }, { value: { address: 'Berlin', lat: 52.5, lng: 13.4 }, problem: '' }],
  [{ address: '', lat: '1', lng: '1' }, { problem: 'Enter the place’s name or address.' }],
  [{ address: 'X', lat: '', lng: '1' }, { problem: 'The pod needs the latitude and longitude too.' }],
  [{ address: 'X', lat: '91', lng: '1' }, { problem: 'Latitude is a number between -90 and 90.' }],
  [{ address: 'X', lat: '1', lng: 'east' }, { problem: 'Longitude is a number between -180 and 180.' }],
])('locationInput(%j)', (l, want) => expect(locationInput(l)).toEqual(want));

test.each([
  ['hi', '', false, 'hi'],
  ['hi', 'spiders', false, 'CW: spiders\n\nhi'],
  ['hi', ' a\nb ', false, 'CW: a b\n\nhi'],
  ['hi', '', true, 'hi\n\n#nsfw'],
  ['hi #NSFW', '', true, 'hi #NSFW'],
  ['hi #nsfwx', '', true, 'hi #nsfwx\n\n#nsfw'],
  ['', '', true, '#nsfw'],
])('postText(%j, %j, %j)', (b, cw, nsfw, want) => expect(postText(b, cw, nsfw)).toBe(want));
