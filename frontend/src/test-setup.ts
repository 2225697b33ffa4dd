// jsdom has no layout: ResizeObserver (used by bind:clientHeight and the
// stream's measuring) is absent. This one reports nothing, as a page whose
// elements never change size would; layout is tested in Chromium (e2e).
class NoLayoutResizeObserver {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}
globalThis.ResizeObserver ??= NoLayoutResizeObserver as unknown as typeof ResizeObserver;
