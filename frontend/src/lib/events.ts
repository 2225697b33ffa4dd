// Live updates: the pod's server-sent events (GET /api/seedpod/v1/events).
// Subscribers get each event's type and data; `reset` means "reload what
// you show" (the stream was resumed too late, or fell behind).
import { API } from './api';

export type Handler = (type: string, data: Record<string, string>) => void;

const TYPES = ['post', 'notification', 'conversation', 'draft', 'profile', 'aspects', 'contacts', 'federation', 'reset'];

export class LiveEvents {
  private src: EventSource | null = null;
  private handlers = new Set<Handler>();

  constructor(private readonly make: (url: string) => EventSource = (u) => new EventSource(u, { withCredentials: true })) {}

  subscribe(h: Handler): () => void {
    this.handlers.add(h);
    if (!this.src) this.open();
    return () => {
      this.handlers.delete(h);
      if (this.handlers.size === 0) this.close();
    };
  }

  private open(): void {
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
  }
}
