// The theme: the OS's (system), or light or dark chosen in Settings, kept
// in localStorage and applied as <html data-theme>.
export type Theme = 'system' | 'light' | 'dark';

const KEY = 'seedpod.theme';

export function loadTheme(storage: Pick<Storage, 'getItem'> = localStorage): Theme {
  const t = storage.getItem(KEY);
  return t === 'light' || t === 'dark' ? t : 'system';
}

export function applyTheme(t: Theme, root: HTMLElement = document.documentElement, storage: Pick<Storage, 'setItem'> = localStorage): void {
  if (t === 'system') root.removeAttribute('data-theme');
  else root.setAttribute('data-theme', t);
  storage.setItem(KEY, t);
}
