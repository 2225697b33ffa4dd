// End to end: a real `seedpod serve` process, Debian's Chromium, the built UI.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { BIN, launchBrowser, readyIdentity, shotPath, startServe } from './harness.mjs';

const version = execFileSync(BIN, ['version']).toString().trim().replace(/^seedpod /, '');

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('seedpod serve in the browser', () => {
  let pod;
  before(async () => {
    pod = await startServe(['--test-key-bits', '2048']);
  });
  after(async () => {
    const { code } = await pod.stop();
    assert.equal(code, 0, 'serve exits cleanly on SIGTERM');
  });

  test('without a session the UI asks to sign in and the API refuses', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(pod.base + '/');
    await page.getByRole('heading', { name: 'Sign in to your pod' }).waitFor();
    const res = await page.evaluate(async () => {
      const r = await fetch('/api/seedpod/v1/status');
      return { status: r.status, body: await r.json() };
    });
    assert.equal(res.status, 401);
    assert.equal(res.body.error, 'login_required');
    await page.screenshot({ path: shotPath('serve-signin.png') });
    await ctx.close();
  });

  test('the one-time link signs in and the UI shows the live status', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await ctx.newPage();
    // Script errors and Content-Security-Policy violations both land here.
    const problems = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pod.login);
    assert.equal(new URL(page.url()).pathname, '/', 'the token leaves the address bar');
    assert.equal(new URL(page.url()).search, '');

    const cookies = await ctx.cookies();
    assert.equal(cookies.length, 1);
    assert.equal(cookies[0].httpOnly, true);
    assert.equal(cookies[0].sameSite, 'Strict');

    // A fresh pod opens on the first run (firstrun.test.mjs walks it); here
    // the identity is made through the API and the shell comes next.
    await page.getByRole('heading', { name: 'Welcome to Seedpod' }).waitFor();
    await readyIdentity(page);
    await page.reload();

    await page.getByTestId('pod-state').filter({ hasText: 'Pod running' }).waitFor();
    await page.getByTestId('version').filter({ hasText: version }).waitFor();
    await page.getByRole('heading', { name: 'Stream', level: 1 }).waitFor();
    await page.screenshot({ path: shotPath('serve-stream.png') });

    // Navigation: every area is reachable and keeps its place in the URL.
    for (const label of ['Contacts', 'Conversations', 'Notifications', 'Drafts', 'Search']) {
      await page.getByRole('link', { name: label }).click();
      await page.getByRole('heading', { name: label, level: 1 }).waitFor();
      assert.equal(new URL(page.url()).hash, '#/' + label.toLowerCase());
    }
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('link', { name: 'Appearance and this pod' }).click();
    const status = await page.evaluate(async () => (await fetch('/api/seedpod/v1/status')).json());
    assert.ok(status.schema_version > 1, `schema version ${status.schema_version}`);
    await page.getByTestId('about-schema').filter({ hasText: `version ${status.schema_version}` }).waitFor();
    await page.getByRole('code').filter({ hasText: pod.dataDir }).waitFor();
    assert.equal(await page.getByTestId('about-version').textContent(), version);

    // The uptime is live: it moves on without a reload.
    const first = await page.getByTestId('uptime').textContent();
    await page.waitForFunction(
      (prev) => document.querySelector('[data-testid=uptime]')?.textContent !== prev,
      first,
      { timeout: 5000 },
    );
    await page.screenshot({ path: shotPath('serve-settings-light.png') });

    // Dark theme follows the OS.
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(bg, 'rgb(17, 23, 20)');
    await page.screenshot({ path: shotPath('serve-settings-dark.png') });

    // Back and forward work with hash routing.
    await page.goBack();
    await page.goBack();
    await page.getByRole('heading', { name: 'Search', level: 1 }).waitFor();
    assert.deepEqual(problems, [], 'no script errors or CSP violations');
    await ctx.close();
  });

  test('a used login link is refused, and the fresh one printed after it works', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    const res = await page.goto(pod.login);
    assert.equal(res.status(), 403);
    await page.getByRole('heading', { name: 'This login link is not valid' }).waitFor();

    const fresh = await pod.nextLink();
    await page.goto(fresh);
    await page.getByTestId('pod-state').filter({ hasText: 'Pod running' }).waitFor();
    await ctx.close();
  });

  test('unsafe requests need the CSRF token; signing out ends the session', async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    await page.goto(await pod.nextLink());
    await page.getByTestId('pod-state').filter({ hasText: 'Pod running' }).waitFor();
    const results = await page.evaluate(async () => {
      const api = '/api/seedpod/v1';
      const noToken = await fetch(api + '/session', { method: 'DELETE' });
      const bad = await fetch(api + '/session', { method: 'DELETE', headers: { 'X-CSRF-Token': 'nope' } });
      const { csrf_token } = await (await fetch(api + '/session')).json();
      const good = await fetch(api + '/session', { method: 'DELETE', headers: { 'X-CSRF-Token': csrf_token } });
      const afterwards = await fetch(api + '/status');
      return [noToken.status, bad.status, good.status, afterwards.status];
    });
    assert.deepEqual(results, [403, 403, 204, 401]);
    await page.reload();
    await page.getByRole('heading', { name: 'Sign in to your pod' }).waitFor();
    await ctx.close();
  });

  test('requests for another Host are refused (DNS rebinding)', async () => {
    const { port } = new URL(pod.base);
    const status = await new Promise((res, rej) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/', headers: { Host: `rebind.example:${port}` } },
        (r) => {
          r.resume();
          res(r.statusCode);
        },
      );
      req.on('error', rej);
      req.end();
    });
    assert.equal(status, 403);
  });
});
