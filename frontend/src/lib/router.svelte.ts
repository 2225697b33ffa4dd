import { AREAS, DEFAULT_AREA } from './areas';

/** Parses "#/contacts" into an area id, falling back to the stream. */
export function parseHash(hash: string): string {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return AREAS.some((a) => a.id === id) ? id : DEFAULT_AREA;
}

/** Hash routing: the address bar keeps the area, back/forward work. */
export class Router {
  current = $state(DEFAULT_AREA);

  constructor(private readonly win: Window = window) {
    this.current = parseHash(win.location.hash);
    win.addEventListener('hashchange', () => {
      this.current = parseHash(win.location.hash);
    });
  }

  go(id: string): void {
    this.win.location.hash = '#/' + id;
    this.current = parseHash('#/' + id);
  }
}
