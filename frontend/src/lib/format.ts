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
