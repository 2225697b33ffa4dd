import { AREAS, DEFAULT_AREA } from './areas';

/** Parses "#/contacts" into an area id, falling back to the stream. */
export function parseHash(hash: string): string {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return AREAS.some((a) => a.id === id) ? id : DEFAULT_AREA;
}

/** The path segments after the area: "#/stream/aspects/3" → ["aspects", "3"]. */
export function parseParams(hash: string): string[] {
  const path = hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  return path
    .split('/')
    .slice(1)
    .filter((s) => s !== '')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

/** Hash routing: the address bar keeps the area and its view, back/forward work. */
export class Router {
  current = $state(DEFAULT_AREA);
  params = $state<string[]>([]);

  constructor(private readonly win: Window = window) {
    this.read(win.location.hash);
    win.addEventListener('hashchange', () => this.read(win.location.hash));
  }

  private read(hash: string): void {
    this.current = parseHash(hash);
    this.params = parseParams(hash);
  }

  go(id: string, ...params: string[]): void {
    const hash = '#/' + [id, ...params.map(encodeURIComponent)].join('/');
    this.win.location.hash = hash;
    this.read(hash);
  }
}
