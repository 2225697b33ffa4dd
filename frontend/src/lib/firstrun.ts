// First run: the rules the forms check before asking the pod (which checks
// again and has the last word).

/** A diaspora* username as the pod accepts it (pod/identity.go usernameRE). */
export const USERNAME_RE = /^[a-z0-9_][a-z0-9_.-]{0,31}$/;

/** Suggests a username from a display name: "Ana Lúcia Pérez" → "ana_lucia_perez". */
export function suggestUsername(name: string): string {
  const s = name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9_.-]+/g, '_')
    .replace(/^[_.-]+|[_.-]+$/g, '')
    .replace(/_+/g, '_')
    .slice(0, 32);
  return USERNAME_RE.test(s) ? s : '';
}

/** Why a username is refused, or '' when it is fine. */
export function usernameProblem(u: string): string {
  if (u === '') return 'Choose a username.';
  if (u.length > 32) return 'At most 32 characters.';
  if (/[A-Z]/.test(u)) return 'Lowercase letters only.';
  if (!USERNAME_RE.test(u)) return 'Letters a–z, digits, and _ . - (not first).';
  return '';
}

/** Why a relay URL is refused, or '' when it is fine: an https origin. */
export function relayURLProblem(u: string): string {
  let url: URL;
  try {
    url = new URL(u);
  } catch {
    return 'Enter the relay’s address, like https://relay.example.';
  }
  if (url.protocol !== 'https:') return 'The relay must use https://.';
  if (url.pathname !== '/' || url.search || url.hash || url.username) return 'Only the origin: https://host[:port], nothing after it.';
  return '';
}

/** Key generation progress as a whole percentage, never 100 before it is ready. */
export function keyPercent(state: string, progress: number): number {
  if (state === 'ready') return 100;
  return Math.max(0, Math.min(99, Math.round(progress * 100)));
}
