import { ApiError, Client, Pod, type Counts, type Identity, type RelayStatus, type SessionInfo, type Status } from './api';

export type Connection = 'connecting' | 'online' | 'signed-out' | 'unreachable';

/** How often the status is refreshed while the pod answers. */
export const POLL_MS = 5000;

/**
 * Live pod state for the UI: the session, the last status and whether the
 * pod answers. It polls the status, and between polls the uptime ticks on
 * locally so the status bar stays alive without a request a second.
 */
/** The other (not revoked) devices, and those connected and caught up. */
export function devicesInSync(ds: { this: boolean; revoked: boolean; connected: boolean; caught_up: boolean }[]): {
  others: number;
  inSync: number;
} {
  const others = ds.filter((d) => !d.this && !d.revoked);
  return { others: others.length, inSync: others.filter((d) => d.connected && d.caught_up).length };
}

export class PodState {
  connection = $state<Connection>('connecting');
  session = $state<SessionInfo | null>(null);
  status = $state<Status | null>(null);
  error = $state('');
  uptime = $state(0);
  identity = $state<Identity | null>(null);
  counts = $state<Counts | null>(null);
  relay = $state<RelayStatus | null>(null);
  /** The identity's other devices: how many, and how many are connected and caught up (null: sync is off). */
  devices = $state<{ others: number; inSync: number } | null>(null);
  readonly api: Pod;

  private fetchedAt = 0;
  private timers: ReturnType<typeof setInterval>[] = [];

  constructor(
    readonly client: Client = new Client(),
    private readonly now: () => number = () => Date.now(),
  ) {
    this.api = new Pod(client);
  }

  async refresh(): Promise<void> {
    try {
      if (!this.session) this.session = await this.client.session();
      // The status and the identity together, and the shell shows as soon
      // as they are here; the status bar's counts follow.
      const [st, identity] = await Promise.all([this.client.status(), this.api.identity()]);
      this.status = st;
      this.fetchedAt = this.now();
      this.uptime = st.uptime_seconds;
      this.identity = identity;
      this.connection = 'online';
      this.error = '';
      if (identity.exists) await this.refreshFederation().catch(() => {});
    } catch (e) {
      if (e instanceof ApiError && e.loginRequired) {
        this.session = null;
        this.connection = 'signed-out';
      } else {
        this.connection = 'unreachable';
      }
      this.error = (e as Error).message;
    }
  }

  /** The status bar's counts, the relay's state and what waits in the outbox. */
  async refreshFederation(): Promise<void> {
    // (Own posts say themselves whether they are queued: seedpod.delivery.)
    const [counts, relay, devices] = await Promise.all([
      this.api.counts(),
      this.api.relay().catch(() => null),
      this.client
        .request<{ sync: { on: boolean }; devices: { this: boolean; revoked: boolean; connected: boolean; caught_up: boolean }[] }>(
          'GET',
          '/devices',
        )
        .catch(() => null),
    ]);
    this.counts = counts;
    this.relay = relay;
    this.devices = devices?.sync.on ? devicesInSync(devices.devices) : null;
  }

  tick(): void {
    if (this.status && this.connection === 'online') {
      this.uptime = this.status.uptime_seconds + Math.floor((this.now() - this.fetchedAt) / 1000);
    }
  }

  start(): void {
    void this.refresh();
    this.timers.push(setInterval(() => void this.refresh(), POLL_MS));
    this.timers.push(setInterval(() => this.tick(), 1000));
  }

  stop(): void {
    this.timers.forEach(clearInterval);
    this.timers = [];
  }
}
