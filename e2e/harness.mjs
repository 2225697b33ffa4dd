// Test harness: real `seedpod serve` processes on loopback and Debian's
// Chromium driven by playwright-core (no browser download).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.SEEDPOD_BIN ?? resolve(here, '..', 'bin', 'seedpod');
export const SHOTS = resolve(here, 'screenshots');

/**
 * Starts `seedpod serve` on a free loopback port with a fresh data dir
 * (extra: more flags). opts.seed = {posts, contacts} fills the data dir first
 * with `seedpod dev seed` (an identity "Seed User" (seed@…), people in
 * aspects who mostly share back, their posts and comments, own posts, likes).
 */
export async function startServe(extra = [], opts = {}) {
  // opts.dataDir: a data dir to use (and keep); it is seeded only if it has no database yet.
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'seedpod-e2e-'));
  if (opts.seed && !(opts.dataDir && existsSync(join(opts.dataDir, 'pod.db')))) {
    execFileSync(BIN, ['dev', 'seed', '--data', dataDir, '--posts', String(opts.seed.posts ?? 100),
      '--contacts', String(opts.seed.contacts ?? 20), '--key-bits', '2048'], { stdio: ['ignore', 'ignore', 'pipe'] });
  }
  const proc = spawn(BIN, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--drafts', join(dataDir, 'Drafts'),
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--mdns=false', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  const lines = createInterface({ input: proc.stdout });
  const links = [];
  const waiters = [];
  let base = '';
  lines.on('line', (l) => {
    const m = l.match(/serving your pod at (http:\/\/\S+)\//);
    if (m) base = m[1];
    const link = l.match(/^\s+(http:\/\/\S+\/login\?token=\S+)$/);
    if (link) {
      links.push(link[1]);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const nextLink = (timeoutMs = 15000) =>
    new Promise((res, rej) => {
      if (links.length) return res(links.shift());
      const t = setTimeout(() => rej(new Error(`no login link within ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
      waiters.push(() => {
        clearTimeout(t);
        res(links.shift());
      });
    });
  const exited = new Promise((res) => proc.on('exit', (code, signal) => res({ code, signal })));
  const login = await Promise.race([
    nextLink(),
    exited.then(({ code }) => {
      throw new Error(`seedpod serve exited with ${code} before printing a login link:\n${stderr}`);
    }),
  ]);
  return {
    base,
    login,
    dataDir,
    nextLink,
    stderr: () => stderr,
    async stop() {
      proc.kill('SIGTERM');
      const r = await exited;
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
      return r;
    },
  };
}

/** Launches Debian's Chromium headless with the flags this machine needs. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function shotPath(name) {
  mkdirSync(SHOTS, { recursive: true });
  return join(SHOTS, name);
}

/** Calls the pod's API from the page, with the session's CSRF token. */
export async function api(page, method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const { csrf_token } = await (await fetch('/api/seedpod/v1/session')).json();
      const r = await fetch(path, {
        method,
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf_token ?? '' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await r.text();
      return { status: r.status, body: text ? JSON.parse(text) : undefined };
    },
    { method, path, body },
  );
}

/** Creates the identity through the API and waits until its key is ready. */
export async function readyIdentity(page, name = 'Ana Pérez', username = 'ana') {
  const r = await api(page, 'POST', '/api/seedpod/v1/identity', { name, username });
  if (r.status >= 300) throw new Error(`create identity: ${r.status} ${JSON.stringify(r.body)}`);
  for (let i = 0; i < 600; i++) {
    const id = await api(page, 'GET', '/api/seedpod/v1/identity');
    if (id.body.key.state === 'ready') return id.body;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the identity key was not ready within 60 s');
}

/** Screenshots the page in the light and the dark theme: NAME-light.png, NAME-dark.png. */
export async function shotBoth(page, name) {
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(50);
    await page.screenshot({ path: shotPath(`${name}-${scheme}.png`) });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}
