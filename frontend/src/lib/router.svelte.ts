import { AREAS, DEFAULT_AREA } from './areas';

/** Routes that are not in the navigation: a post, a person's profile, a tag's stream. */
export const HIDDEN_ROUTES = ['post', 'people', 'tags'] as const;

/** Parses "#/contacts" into a route id, falling back to the stream. */
export function parseHash(hash: string): string {
  const id = hash.replace(/^#\/?/, '').split(/[/?]/)[0] ?? '';
  return AREAS.some((a) => a.id === id) || (HIDDEN_ROUTES as readonly string[]).includes(id) ? id : DEFAULT_AREA;
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
