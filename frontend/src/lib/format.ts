/** "42s", "5m", "3h 12m", "2d 4h" — compact and stable as it ticks. */
export function formatUptime(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/** Shortens a path for a status bar, keeping its end: "…/share/seedpod". */
export function shortPath(path: string, max = 32): string {
  if (path.length <= max) return path;
  const parts = path.split('/');
  let out = '';
  for (let i = parts.length - 1; i >= 0; i--) {
    const next = parts[i] + (out ? '/' + out : '');
    if (next.length + 2 > max) break;
    out = next;
  }
  return '…/' + (out || path.slice(-(max - 2)));
}

/** "just now", "5 min", "3 h", "Mon 14:05"-ish: short relative times for posts. */
export function relativeTime(iso: string, now: number = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 45) return 'just now';
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h`;
  const d = Math.round(h / 24);
  if (d < 7) return `${d} d`;
  const date = new Date(t);
  const sameYear = date.getUTCFullYear() === new Date(now).getUTCFullYear();
  return date.toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: sameYear ? undefined : 'numeric', timeZone: 'UTC' });
}

/** Initials for an avatar placeholder: "Ana Pérez" → "AP", "bob@x" → "B". */
export function initials(name: string | undefined, handle: string): string {
  const src = (name ?? '').trim() || handle.split('@')[0] || '?';
  const parts = src.split(/\s+/).filter(Boolean);
  const chars = parts.length > 1 ? [parts[0], parts[parts.length - 1]] : [parts[0] ?? '?'];
  return chars.map((p) => Array.from(p as string)[0]?.toUpperCase() ?? '').join('');
}
