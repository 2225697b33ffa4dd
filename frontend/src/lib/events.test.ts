import { expect, test } from 'vitest';
import { LiveEvents, WAILS_EVENT } from './events';

test('in a browser: one EventSource for all subscribers, closed with the last', () => {
  const listeners = new Map<string, (e: MessageEvent) => void>();
  let opened = 0;
  let closed = 0;
  const fake = () => {
    opened++;
    return {
      addEventListener: (t: string, fn: (e: MessageEvent) => void) => listeners.set(t, fn),
      close: () => void closed++,
    } as unknown as EventSource;
  };
  const live = new LiveEvents(fake, () => undefined);
  const got: string[] = [];
  const a = live.subscribe((t, d) => got.push(`a:${t}:${d.guid ?? ''}`));
  const b = live.subscribe((t) => got.push(`b:${t}`));
  expect(opened).toBe(1);
  listeners.get('post')?.(new MessageEvent('post', { data: '{"kind":"post","guid":"g1"}' }));
  listeners.get('reset')?.(new MessageEvent('reset', { data: 'not json' }));
  expect(got).toEqual(['a:post:g1', 'b:post', 'a:reset:', 'b:reset']);
  a();
  expect(closed).toBe(0);
  b();
  expect(closed).toBe(1);
});

test('in the desktop window: Wails events, no EventSource', () => {
  let cb: ((e: { type: string; data: Record<string, string> }) => void) | undefined;
  let offs = 0;
  const rt = {
    EventsOn: (name: string, f: typeof cb) => {
      expect(name).toBe(WAILS_EVENT);
      cb = f;
      return () => void offs++;
    },
    EventsOff: () => {},
  };
  const live = new LiveEvents(() => {
    throw new Error('no EventSource in the window');
  }, () => rt);
  const got: string[] = [];
  const stop = live.subscribe((t, d) => got.push(`${t}:${d.kind}`));
  cb?.({ type: 'federation', data: { kind: 'handed' } });
  expect(got).toEqual(['federation:handed']);
  stop();
  expect(offs).toBe(1);
});
