// The desktop window's side channel (Wails events), beside the live events
// in lib/events.ts: Go asks the page to open a route when the user clicks
// an OS notification (`seedpod:open`), and the page tells Go whether the
// window has the user's attention (`seedpod:focus`), so that notifications
// are shown only while it has not. In a browser tab there is no runtime and
// nothing here does anything.
import { parseHash } from './router.svelte';

export const OPEN_EVENT = 'seedpod:open';
export const FOCUS_EVENT = 'seedpod:focus';

/** The part of the Wails runtime used here. */
export interface WindowRuntime {
  EventsOn(name: string, cb: (data: unknown) => void): (() => void) | void;
  EventsOff(name: string): void;
  EventsEmit(name: string, data: unknown): void;
}

function runtime(): WindowRuntime | undefined {
  const rt = (globalThis as { runtime?: Partial<WindowRuntime> }).runtime;
  return rt && typeof rt.EventsOn === 'function' && typeof rt.EventsEmit === 'function' ? (rt as WindowRuntime) : undefined;
}

/**
 * The route an open request names, or '' when it is not one the app has:
 * only "#/<area or page>[/<segment>…]" with plain segments, so a payload
 * can never become a URL, a script or a path outside the hash.
 */
export function openRoute(data: unknown): string {
  const route = typeof data === 'string' ? data : (data as { route?: unknown } | null)?.route;
  if (typeof route !== 'string' || route.length > 300) return '';
  if (!/^#\/[a-z]+(\/[A-Za-z0-9@._:%-]+)*$/.test(route)) return '';
  if (route.split('/').some((s) => s === '.' || s === '..')) return '';
  const id = route.slice(2).split('/')[0];
  return parseHash(route) === id ? route : '';
}

/** Whether the page has the user's attention. */
export function hasAttention(doc: Pick<Document, 'hasFocus' | 'visibilityState'>): boolean {
  return doc.visibilityState !== 'hidden' && doc.hasFocus();
}

/**
 * Connects the page to the window: follows open requests and reports
 * focus changes (once at the start, then on each change). Returns the
 * disconnect function.
 */
export function bindWindow(
  win: Window = window,
  rt: WindowRuntime | undefined = runtime(),
  navigate: (route: string) => void = (r) => (win.location.hash = r),
): () => void {
  if (!rt) return () => {};
  const offOpen = rt.EventsOn(OPEN_EVENT, (data) => {
    const route = openRoute(data);
    if (route) navigate(route);
  });
  let last: boolean | undefined;
  const report = () => {
    const focused = hasAttention(win.document);
    if (focused === last) return;
    last = focused;
    rt.EventsEmit(FOCUS_EVENT, { focused });
  };
  // blur fires before the new focus lands: read it after the event.
  const later = () => setTimeout(report, 0);
  win.addEventListener('focus', later);
  win.addEventListener('blur', later);
  win.document.addEventListener('visibilitychange', later);
  report();
  return () => {
    if (typeof offOpen === 'function') offOpen();
    else rt.EventsOff(OPEN_EVENT);
    win.removeEventListener('focus', later);
    win.removeEventListener('blur', later);
    win.document.removeEventListener('visibilitychange', later);
  };
}
