// Test harness: real `seedpod serve` processes on loopback and Debian's
// Chromium driven by playwright-core (no browser download).
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.SEEDPOD_BIN ?? resolve(here, '..', 'bin', 'seedpod');
export const SHOTS = resolve(here, 'screenshots');

/** Starts `seedpod serve` on a free loopback port with a fresh data dir. */
export async function startServe() {
  const dataDir = mkdtempSync(join(tmpdir(), 'seedpod-e2e-'));
  const proc = spawn(BIN, ['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--drafts', join(dataDir, 'Drafts'),
    '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--mdns=false'], {
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
      rmSync(dataDir, { recursive: true, force: true });
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
