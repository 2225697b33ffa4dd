import { expect, test } from 'vitest';
import { devicesInSync } from './pod.svelte';

const d = (x: Partial<{ this: boolean; revoked: boolean; connected: boolean; caught_up: boolean }>) => ({
  this: false,
  revoked: false,
  connected: true,
  caught_up: true,
  ...x,
});

test.each([
  [[d({ this: true })], { others: 0, inSync: 0 }],
  [[d({ this: true }), d({})], { others: 1, inSync: 1 }],
  [[d({ this: true }), d({}), d({ connected: false })], { others: 2, inSync: 1 }],
  [[d({ this: true }), d({ caught_up: false }), d({ revoked: true })], { others: 1, inSync: 0 }],
])('%j → %j', (ds, want) => expect(devicesInSync(ds)).toEqual(want));
