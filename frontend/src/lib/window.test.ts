import { afterEach, expect, test, vi } from 'vitest';
import { bindWindow, FOCUS_EVENT, hasAttention, OPEN_EVENT, openRoute, type WindowRuntime } from './window';

test.each([
  [{ route: '#/post/2b1e4c80a1f0013f' }, '#/post/2b1e4c80a1f0013f'],
  [{ route: '#/conversations/abc123' }, '#/conversations/abc123'],
  [{ route: '#/people/f00d' }, '#/people/f00d'],
  [{ route: '#/notifications' }, '#/notifications'],
  ['#/settings/filters', '#/settings/filters'],
  [{ route: '#/tags/caf%C3%A9' }, '#/tags/caf%C3%A9'],
  [{ route: '#/tags/café' }, ''], // anything beyond ASCII comes percent-encoded
  [{ route: '#/nowhere/1' }, ''], // not a route of the app
  [{ route: 'https://evil.example/#/post/1' }, ''],
  [{ route: 'javascript:alert(1)' }, ''],
  [{ route: '#/post/../../etc' }, ''],
  [{ route: '#/post/<img>' }, ''],
  [{ route: '#/post/' + 'a'.repeat(400) }, ''],
  [{ route: 42 }, ''],
  [null, ''],
  [undefined, ''],
])('openRoute(%j) = %j', (data, want) => {
  expect(openRoute(data)).toBe(want);
});

test.each([
  [{ hasFocus: () => true, visibilityState: 'visible' as const }, true],
  [{ hasFocus: () => false, visibilityState: 'visible' as const }, false],
  [{ hasFocus: () => true, visibilityState: 'hidden' as const }, false],
])('hasAttention %#', (doc, want) => {
  expect(hasAttention(doc)).toBe(want);
});

afterEach(() => vi.useRealTimers());

function fakeRuntime() {
  const handlers = new Map<string, (d: unknown) => void>();
  const emitted: [string, unknown][] = [];
  const rt: WindowRuntime = {
    EventsOn: (name, cb) => {
      handlers.set(name, cb);
      return () => handlers.delete(name);
    },
    EventsOff: (name) => handlers.delete(name),
    EventsEmit: (name, data) => emitted.push([name, data]),
  };
  return { rt, handlers, emitted };
}

test('open requests navigate, refused ones do not; focus is reported once per change', () => {
  vi.useFakeTimers();
  const { rt, handlers, emitted } = fakeRuntime();
  let focused = true;
  vi.spyOn(document, 'hasFocus').mockImplementation(() => focused);
  const went: string[] = [];
  const off = bindWindow(window, rt, (r) => went.push(r));
  expect(emitted).toEqual([[FOCUS_EVENT, { focused: true }]]);
  handlers.get(OPEN_EVENT)?.({ route: '#/post/abc' });
  handlers.get(OPEN_EVENT)?.({ route: 'https://evil.example/' });
  expect(went).toEqual(['#/post/abc']);
  focused = false;
  window.dispatchEvent(new Event('blur'));
  window.dispatchEvent(new Event('blur'));
  vi.runAllTimers();
  focused = true;
  window.dispatchEvent(new Event('focus'));
  vi.runAllTimers();
  expect(emitted.map((e) => e[1])).toEqual([{ focused: true }, { focused: false }, { focused: true }]);
  off();
  expect(handlers.has(OPEN_EVENT)).toBe(false);
  focused = false;
  window.dispatchEvent(new Event('blur'));
  vi.runAllTimers();
  expect(emitted).toHaveLength(3);
});

test('in a browser tab (no runtime) nothing is bound', () => {
  expect(bindWindow(window, undefined)).toBeTypeOf('function');
});
