import { describe, expect, test } from 'vitest';
import { Heights } from './virtual';

describe('Heights', () => {
  test('offsets follow estimates, then measurements', () => {
    const h = new Heights(100);
    h.resize(5);
    expect(h.offset(5)).toBe(500);
    expect(h.set(1, 250)).toBe(150);
    expect(h.offset(2)).toBe(350);
    expect(h.offset(5)).toBe(650);
    expect(h.set(1, 250)).toBe(0);
  });

  test('indexAt finds the item under a y', () => {
    const h = new Heights(100);
    h.resize(4);
    h.set(0, 50);
    // tops: 0, 50, 150, 250; total 350
    expect([0, 49, 50, 149, 150, 349, 5000].map((y) => h.indexAt(y))).toEqual([0, 0, 1, 1, 2, 3, 3]);
  });

  test('window covers the viewport and the overscan, never past the end', () => {
    const h = new Heights(100);
    h.resize(1000);
    expect(h.window(0, 600, 0)).toEqual({ start: 0, end: 7 });
    expect(h.window(5000, 600, 200)).toEqual({ start: 48, end: 59 });
    expect(h.window(1e9, 600, 200)).toEqual({ start: 999, end: 1000 });
    expect(new Heights(10).window(0, 100, 0)).toEqual({ start: 0, end: 0 });
  });

  test('prepend shifts everything down by the new items', () => {
    const h = new Heights(100);
    h.resize(3);
    h.set(0, 40);
    h.prepend(2);
    expect(h.length).toBe(5);
    expect(h.offset(2)).toBe(200);
    expect(h.offset(3)).toBe(240);
  });

  test('shrinking forgets the removed items', () => {
    const h = new Heights(100);
    h.resize(10);
    h.set(9, 1000);
    h.resize(5);
    expect(h.offset(5)).toBe(500);
    h.resize(6);
    expect(h.offset(6)).toBe(600);
  });

  test('100k items: windows agree with a linear walk', () => {
    const h = new Heights(120);
    h.resize(100_000);
    for (let i = 0; i < 100_000; i += 7) h.set(i, 200);
    for (const y of [0, 119, 120, 999_999, 5_000_000, 12_559_879]) {
      let i = 0;
      let top = 0;
      while (i < 99_999 && top + (i % 7 === 0 ? 200 : 120) <= y) top += i++ % 7 === 0 ? 200 : 120;
      expect(h.indexAt(y)).toBe(i);
      expect(h.offset(i)).toBe(top);
    }
  });
});
