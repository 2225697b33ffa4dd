// Settings: the API calls and the pure logic behind the settings screen
// (profile, relay, devices, drafts folder, export, key backup).
import { ApiError, type Client, type RelayStatus } from './api';

export const V1 = '/api/v1';

/** The sections of the settings screen, in menu order: #/settings/<id>. */
export const SECTIONS = [
  { id: 'profile', label: 'Profile' },
  { id: 'relay', label: 'Relay' },
  { id: 'devices', label: 'Devices' },
  { id: 'notifications', label: 'Notifications' },
  { id: 'filters', label: 'Mute filters' },
  { id: 'drafts', label: 'Drafts folder' },
  { id: 'export', label: 'Export and import' },
  { id: 'keys', label: 'Key backup' },
  { id: 'appearance', label: 'Appearance and this pod' },
] as const;

export type SectionId = (typeof SECTIONS)[number]['id'];

/** The section a route names, the profile when it names none or an unknown one. */
export function sectionFromParams(params: string[]): SectionId {
  const p = params[0] ?? '';
  return (SECTIONS.find((s) => s.id === p)?.id ?? 'profile') as SectionId;
}

// ---- Profile

export interface OwnProfile {
  guid: string;
  diaspora_id: string;
  name?: string | null;
  avatar?: { small: string; medium: string; large: string; raw?: string } | null;
  tags: string[];
  birthday: string | null;
  gender: string | null;
  location: string | null;
  bio: string | null;
  searchable: boolean;
  show_profile_info: boolean;
  nsfw: boolean;
}

export interface ProfilePatch {
  name?: string;
  bio?: string;
  location?: string;
  birthday?: string | null;
  gender?: string;
  tags?: string[];
  searchable?: boolean;
  show_profile_info?: boolean;
  nsfw?: boolean;
}

/** "#garden, art  ,#art" → ["garden", "art"]: without '#', lowercased, unique, at most 5. */
export function parseTags(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/[\s,]+/)) {
    const t = raw.replace(/^#+/, '').trim().toLowerCase();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** Why a tag list cannot be saved, or '' when it can. */
export function tagsProblem(tags: string[]): string {
  if (tags.length > 5) return `At most 5 tags: remove ${tags.length - 5}.`;
  const bad = tags.find((t) => !/^[\p{L}\p{N}_-]+$/u.test(t));
  return bad ? `“${bad}” is not a tag: letters, digits, - and _ only.` : '';
}

/** A square crop of a w×h image: the largest square, moved by offset (−1…1) along the long side and shrunk by zoom (≥1). */
export function squareCrop(w: number, h: number, zoom = 1, offset = 0): { sx: number; sy: number; size: number } {
  const z = Math.max(1, zoom);
  const size = Math.max(1, Math.floor(Math.min(w, h) / z));
  const o = Math.max(-1, Math.min(1, offset));
  const freeX = w - size;
  const freeY = h - size;
  // The offset moves along the longer side; with zoom both sides have room, the short side stays centred.
  const along = (free: number) => Math.round((free / 2) * (1 + o));
  const centre = (free: number) => Math.round(free / 2);
  const sx = w >= h ? along(freeX) : centre(freeX);
  const sy = w >= h ? centre(freeY) : along(freeY);
  return { sx, sy, size };
}

// ---- Relay

export interface Relay extends RelayStatus {
  handed?: number;
  received?: number;
  rejected?: number;
}

/** A person's words for the relay's state. */
export function relayStateLabel(state: string | undefined): string {
  switch (state) {
    case 'off':
      return 'Not set up';
    case 'connecting':
      return 'Connecting…';
    case 'connected':
      return 'Connected';
    case 'error':
      return 'Trouble reaching the relay';
    default:
      return 'Unknown';
  }
}

/** Why a relay address cannot be used, or '' when it can. */
export function relayURLProblem(url: string): string {
  const u = url.trim();
  if (!u) return '';
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return 'That is not a web address: it looks like https://relay.example.org.';
  }
  if (parsed.protocol !== 'https:') return 'The relay must use https://.';
  if (parsed.pathname !== '/' || parsed.search || parsed.hash) return 'Give only the relay’s origin, without a path.';
  return '';
}

/** The plain sentence for a refused relay set-up or move. */
export function relayError(e: unknown): string {
  if (e instanceof ApiError) {
    const m = sentenceEnd(e.message);
    if (e.status === 422) return `The relay or the pod refused this: ${m} Check the address and the code.`;
    if (e.status === 502) return `The relay did not answer: ${m} Check the address, or try again later.`;
    if (e.status === 409) return `A relay is already set up: ${m}`;
    return m;
  }
  return sentenceEnd((e as Error).message);
}

/** Ends a message with a full stop when it has no closing punctuation. */
export function sentenceEnd(m: string): string {
  const t = m.trim();
  return t === '' || /[.!?…]$/.test(t) ? t : t + '.';
}

// ---- Devices

export interface SyncStatus {
  on: boolean;
  peer_id?: string;
  addrs: string[];
  pairing_until?: string;
  error?: string;
}

export interface Device {
  id: string;
  key: string;
  name: string;
  this: boolean;
  revoked: boolean;
  connected: boolean;
  path?: string;
  syncing: boolean;
  caught_up: boolean;
  last_seen?: string;
  ops_sent: number;
  ops_received: number;
  last_error?: string;
  fork?: { log: string; seq: number };
}

export interface Devices {
  sync: SyncStatus;
  devices: Device[];
}

export interface Pairing {
  code: string;
  qr_png: string;
  expires_at: string;
}

/** Time left as "9:05", "0:07", "0:00" (never negative). */
export function formatCountdown(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const m = Math.floor(s / 60);
  return `${m}:${String(s % 60).padStart(2, '0')}`;
}

/** A device's state in a few words. */
export function deviceState(d: Device): string {
  if (d.revoked) return 'Revoked';
  if (d.this) return 'This device';
  if (d.connected) return d.caught_up ? 'Connected, up to date' : d.syncing ? 'Connected, syncing…' : 'Connected';
  return 'Not connected';
}

/** "…3f9a2b" — the end of a long ID, for a glance. */
export function shortID(id: string, n = 10): string {
  return id.length <= n ? id : '…' + id.slice(-n);
}

// ---- Drafts folder

export interface DraftsFolder {
  path: string;
  watching: boolean;
  problem?: string;
}

// ---- Export

export type ExportFormat = 'diaspora_v2' | 'diaspora_photos' | 'seedpod_snapshot';

export const EXPORT_FORMATS: { id: ExportFormat; label: string; hint: string }[] = [
  { id: 'diaspora_v2', label: 'diaspora* account archive', hint: 'Your profile, contacts, posts and comments, as any diaspora* pod imports them.' },
  { id: 'diaspora_photos', label: 'Photos', hint: 'A zip of every photo you posted.' },
  { id: 'seedpod_snapshot', label: 'Seedpod snapshot', hint: 'A full copy of this pod, to restore Seedpod exactly as it is.' },
];

export interface Job {
  id: string;
  kind: 'import' | 'export';
  format?: string;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  progress: { phase: string; done: number; total: number };
  warnings: string[];
  error?: string;
  error_code?: string;
  result?: { format: string; filename: string; size: number; sha256: string; url: string };
  created_at: string;
}

/** 0…100, or null when the total is not known yet. */
export function jobPercent(p: { done: number; total: number }): number | null {
  if (!p.total || p.total <= 0) return null;
  return Math.max(0, Math.min(100, Math.round((p.done / p.total) * 100)));
}

/** 1536 → "1.5 KB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

// ---- Keys

export interface Keys {
  state: 'none' | 'generating' | 'ready' | 'locked' | 'failed';
  fingerprint?: string;
  storage?: string;
  locked: boolean;
  backed_up_at?: string;
}

/** "AB12CD34…" → "AB12 CD34 …": groups of four, for reading aloud. */
export function groupFingerprint(fp: string): string {
  return (fp.replace(/\s+/g, '').match(/.{1,4}/g) ?? []).join(' ');
}

/** Why a new passphrase cannot be used, or ''. */
export function passphraseProblem(p: string, again: string): string {
  if (p.length < 10) return 'Use at least 10 characters: a few words you will remember.';
  if (p !== again) return 'The two passphrases differ.';
  return '';
}

// ---- Calls

export function settingsApi(c: Client) {
  const v1 = <T>(method: string, path: string, body?: unknown) => c.request<T>(method, V1 + path, body, true);
  return {
    profile: () => v1<OwnProfile>('GET', '/user'),
    updateProfile: (p: ProfilePatch) => v1<OwnProfile>('PATCH', '/user', p),
    relay: () => c.request<Relay>('GET', '/relay'),
    enrolRelay: (url: string, code: string) => c.request<Relay>('POST', '/relay', { url: url.trim(), code: code.trim() }),
    moveRelay: (url: string, code: string) => c.request<Relay>('POST', '/relay/move', { url: url.trim(), code: code.trim() }),
    devices: () => c.request<Devices>('GET', '/devices'),
    openPairing: () => c.request<Pairing>('POST', '/devices/pair'),
    closePairing: () => c.request<void>('DELETE', '/devices/pair'),
    renameDevice: (key: string, name: string) => c.request<void>('PATCH', `/devices/${encodeURIComponent(key)}`, { name }),
    revokeDevice: (key: string) => c.request<void>('DELETE', `/devices/${encodeURIComponent(key)}`),
    draftsFolder: () => c.request<DraftsFolder>('GET', '/drafts/folder'),
    startExport: (format: ExportFormat) => c.request<Job>('POST', '/exports', { format }),
    job: (id: string) => c.request<Job>('GET', `/jobs/${encodeURIComponent(id)}`),
    cancelJob: (id: string) => c.request<void>('DELETE', `/jobs/${encodeURIComponent(id)}`),
    keys: () => c.request<Keys>('GET', '/keys'),
    lockKey: (passphrase: string) => c.request<Keys>('POST', '/keys/lock', { passphrase }),
    removeLock: (passphrase: string) => c.request<Keys>('DELETE', '/keys/lock', { passphrase }),
  };
}

export type SettingsApi = ReturnType<typeof settingsApi>;

/** The text of any error, for a form. */
export function explain(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
