// Live updates: the pod's server-sent events (GET /api/seedpod/v1/events)
// in a browser; in the desktop window, whose webview does not stream
// responses, the same events come as Wails events (app.EventName).
// Subscribers get each event's type and data; `reset` means "reload what
// you show" (the stream was resumed too late, or fell behind).
import { API } from './api';

/** The Wails runtime the desktop window injects (only what is used here). */
interface WailsRuntime {
  EventsOn(name: string, cb: (e: { type: string; data: Record<string, string> }) => void): (() => void) | void;
  EventsOff(name: string): void;
}

export const WAILS_EVENT = 'seedpod:event';

function wailsRuntime(): WailsRuntime | undefined {
  const rt = (globalThis as { runtime?: Partial<WailsRuntime> }).runtime;
  return rt && typeof rt.EventsOn === 'function' ? (rt as WailsRuntime) : undefined;
}

export type Handler = (type: string, data: Record<string, string>) => void;

const TYPES = ['post', 'notification', 'conversation', 'draft', 'profile', 'aspects', 'contacts', 'federation', 'filters', 'reset'];

export class LiveEvents {
  private src: EventSource | null = null;
  private stopWails: (() => void) | null = null;
  private handlers = new Set<Handler>();

  constructor(
    private readonly make: (url: string) => EventSource = (u) => new EventSource(u, { withCredentials: true }),
    private readonly runtime: () => WailsRuntime | undefined = wailsRuntime,
  ) {}

  subscribe(h: Handler): () => void {
    this.handlers.add(h);
    if (!this.src && !this.stopWails) this.open();
    return () => {
      this.handlers.delete(h);
      if (this.handlers.size === 0) this.close();
    };
  }

  private open(): void {
    const rt = this.runtime();
    if (rt) {
      const off = rt.EventsOn(WAILS_EVENT, (e) => this.handlers.forEach((h) => h(e.type, e.data ?? {})));
      this.stopWails = typeof off === 'function' ? off : () => rt.EventsOff(WAILS_EVENT);
      return;
    }
    this.src = this.make(API + '/events');
    for (const t of TYPES) {
      this.src.addEventListener(t, (e) => {
        let data: Record<string, string> = {};
        try {
          const parsed = JSON.parse((e as MessageEvent<string>).data || '{}') as { data?: Record<string, string> };
          data = parsed.data ?? (parsed as Record<string, string>);
        } catch {
          // an event we cannot read still says "something changed"
        }
        this.handlers.forEach((h) => h(t, data));
      });
    }
  }

  close(): void {
    this.src?.close();
    this.src = null;
    this.stopWails?.();
    this.stopWails = null;
  }
}
