import { expect, test } from 'vitest';
import { applyTheme, loadTheme } from './theme';

test('themes round-trip through storage and the root attribute', () => {
  const m = new Map<string, string>();
  const st = { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
  const root = document.createElement('html');
  expect(loadTheme(st)).toBe('system');
  applyTheme('dark', root, st);
  expect(root.getAttribute('data-theme')).toBe('dark');
  expect(loadTheme(st)).toBe('dark');
  applyTheme('system', root, st);
  expect(root.hasAttribute('data-theme')).toBe(false);
  m.set('seedpod.theme', 'neon');
  expect(loadTheme(st)).toBe('system');
});
