// Windowing for long lists of items of different heights: only what is on
// screen (plus a margin) is in the DOM. Heights are estimated until an item
// has been measured.

export class Heights {
  private h: number[] = [];
  private offsets: number[] = [0];
  private dirtyFrom = 0;

  constructor(private readonly estimate: number) {}

  /** Keeps n items; new ones start at the estimate. */
  resize(n: number): void {
    if (n < this.h.length) {
      this.h.length = n;
      this.offsets.length = n + 1;
      this.dirtyFrom = Math.min(this.dirtyFrom, n);
    }
    while (this.h.length < n) this.h.push(this.estimate);
    this.dirtyFrom = Math.min(this.dirtyFrom, Math.max(0, this.offsets.length - 1));
  }

  /** Inserts k items at the front (new posts arriving at the top). */
  prepend(k: number): void {
    this.h.unshift(...new Array<number>(k).fill(this.estimate));
    this.dirtyFrom = 0;
  }

  get length(): number {
    return this.h.length;
  }

  /** Records a measured height; returns the change. */
  set(i: number, px: number): number {
    const d = px - (this.h[i] ?? this.estimate);
    if (d !== 0) {
      this.h[i] = px;
      this.dirtyFrom = Math.min(this.dirtyFrom, i);
    }
    return d;
  }

  private fix(): void {
    for (let i = this.dirtyFrom; i < this.h.length; i++) this.offsets[i + 1] = (this.offsets[i] ?? 0) + (this.h[i] ?? 0);
    this.offsets.length = this.h.length + 1;
    this.dirtyFrom = this.h.length;
  }

  /** The top of item i (i = length: the total height). */
  offset(i: number): number {
    this.fix();
    return this.offsets[Math.max(0, Math.min(i, this.h.length))] ?? 0;
  }

  /** The index of the item at y (binary search over the offsets). */
  indexAt(y: number): number {
    this.fix();
    let lo = 0;
    let hi = this.h.length - 1;
    if (hi < 0) return 0;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.offsets[mid] ?? 0) <= y) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The items to render for a viewport [top, top+height), with overscan px on each side. */
  window(top: number, height: number, overscan: number): { start: number; end: number } {
    if (this.h.length === 0) return { start: 0, end: 0 };
    const start = this.indexAt(Math.max(0, top - overscan));
    const end = Math.min(this.h.length, this.indexAt(top + height + overscan) + 1);
    return { start, end };
  }
}
