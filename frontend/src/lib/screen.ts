import type { LiveEvents } from './events';
import type { PodState } from './pod.svelte';
import type { Router } from './router.svelte';

/**
 * What every screen gets from the shell: the pod (its API as pod.api, the
 * identity, counts and relay state), the router (current route and params,
 * go()), and the live events (undefined where EventSource is missing).
 */
export interface ScreenProps {
  pod: PodState;
  router: Router;
  live?: LiveEvents;
}
