import type { Aspect } from './api';

/** Who sees a post: everyone, every aspect, or chosen aspects. */
export type Audience = { kind: 'public' } | { kind: 'all' } | { kind: 'aspects'; ids: number[] };

/** The audience button's text: "Public", "All aspects", "Family, Work", "Family +2", "Choose aspects". */
export function audienceLabel(a: Audience, aspects: Aspect[]): string {
  if (a.kind === 'public') return 'Public';
  if (a.kind === 'all') return 'All aspects';
  const names = a.ids.map((id) => aspects.find((x) => x.id === id)?.name).filter((n): n is string => !!n);
  if (names.length === 0) return 'Choose aspects';
  if (names.length <= 2) return names.join(', ');
  return `${names[0]} +${names.length - 1}`;
}
