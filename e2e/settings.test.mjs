// Settings end to end on a seeded `seedpod serve`: profile (with a cropped
// avatar), relay refusals, drafts folder, export (download, cancel) and the
// import refusal, key backup and lock, appearance; each section screenshot.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { BIN, api, launchBrowser, shotBoth, startServe } from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('settings', () => {
  let pod;
  let ctx;
  let page;
  const problems = [];
  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 20, contacts: 5 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && !/status of (409|422|502|403)/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => r.status() === 404 && problems.push(`404 ${r.url()}`));
    await page.goto(pod.login);
    await page.locator('.identity').waitFor();
  });
  after(async () => {
    await ctx?.close();
    const { code } = await pod.stop();
    assert.equal(code, 0);
  });

  const open = async (section, heading) => {
    await page.evaluate((s) => (location.hash = `#/settings/${s}`), section);
    await page.getByRole('heading', { name: heading, exact: true }).waitFor();
  };

  test('the section menu routes to #/settings/<section>', async () => {
    await page.evaluate(() => (location.hash = '#/settings'));
    await page.getByRole('heading', { name: 'Profile', exact: true }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Settings sections' });
    await nav.getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    assert.equal(new URL(page.url()).hash, '#/settings/devices');
    assert.equal(await nav.getByRole('link', { name: 'Devices' }).getAttribute('aria-current'), 'page');
  });

  test('profile: fields saved through PATCH /api/v1/user, tag limit explained', async () => {
    await open('profile', 'Profile');
    await page.getByLabel('Name', { exact: true }).fill('Seed Gardener');
    await page.getByLabel('Location').fill('Lisbon');
    await page.getByLabel('Birthday').fill('1990-04-12');
    await page.getByLabel('About you').fill('I grow *tomatoes*.');
    await page.getByLabel('Tags', { exact: true }).fill('#a #b #c #d #e #f');
    await page.getByText('At most 5 tags: remove 1.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Save profile' }).isDisabled(), true);
    await page.getByLabel('Tags', { exact: true }).fill('#garden, #Tomatoes');
    await page.getByLabel('Show my full profile to everyone').check();
    await page.getByLabel('Let people find me in search').uncheck();
    await page.getByRole('button', { name: 'Save profile' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const me = (await api(page, 'GET', '/api/v1/user')).body;
    assert.equal(me.name, 'Seed Gardener');
    assert.equal(me.location, 'Lisbon');
    assert.equal(me.birthday, '1990-04-12');
    assert.equal(me.bio, 'I grow *tomatoes*.');
    assert.deepEqual(me.tags, ['garden', 'tomatoes']);
    assert.equal(me.show_profile_info, true);
    assert.equal(me.searchable, false);
  });

  test('profile: a picture is cropped square in the browser and becomes the avatar', async () => {
    const png = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 300;
      c.height = 150;
      const g = c.getContext('2d');
      g.fillStyle = '#2f7d5b';
      g.fillRect(0, 0, 150, 150);
      g.fillStyle = '#c98a14';
      g.fillRect(150, 0, 150, 150);
      return c.toDataURL('image/png').split(',')[1];
    });
    await page.getByRole('button', { name: 'Add a photo' }).click();
    await page.getByLabel('Choose a picture').setInputFiles({ name: 'wide.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
    await page.getByLabel('Zoom').waitFor();
    await page.getByLabel('Position').fill('1');
    await shotBoth(page, 'settings-profile-crop');
    await page.getByRole('button', { name: 'Use this photo' }).click();
    await page.getByRole('button', { name: 'Change photo' }).waitFor();
    const me = (await api(page, 'GET', '/api/v1/user')).body;
    assert.ok(me.avatar?.medium, 'the profile has an avatar');
    // The crop kept the right half: the uploaded square is the orange side.
    const px = await page.evaluate(async (src) => {
      const img = new Image();
      img.crossOrigin = 'anonymous';
      img.src = src;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      c.getContext('2d').drawImage(img, 0, 0);
      return { w: img.naturalWidth, h: img.naturalHeight, p: [...c.getContext('2d').getImageData(c.width / 2, c.height / 2, 1, 1).data] };
    }, me.avatar.large);
    assert.equal(px.w, px.h, 'square');
    assert.ok(px.p[0] > 150 && px.p[2] < 80, `orange, not green: ${px.p}`);
    await page.locator('.avatar-row img').waitFor();
    await shotBoth(page, 'settings-profile');
  });

  test('relay: not set up; a bad address and an unreachable relay are explained, nothing changes', async () => {
    await open('relay', 'Relay');
    assert.equal(await page.getByTestId('relay-section-state').textContent(), 'Not set up');
    await page.getByLabel('Relay address').fill('http://relay.example');
    await page.getByText('The relay must use https://.').waitFor();
    await page.getByLabel('Relay address').fill('https://127.0.0.1:1');
    await page.getByLabel('Enrolment code').fill('not-a-real-code');
    await page.getByRole('button', { name: 'Connect' }).click();
    const err = page.getByRole('alert').filter({ hasText: /relay did not answer|refused this/ });
    await err.waitFor({ timeout: 30_000 });
    const r = await api(page, 'GET', '/api/seedpod/v1/relay');
    assert.equal(r.body.state, 'off');
    await shotBoth(page, 'settings-relay');
  });

  test('drafts folder: shown read-only with how to change it', async () => {
    await open('drafts', 'Drafts folder');
    assert.equal(await page.getByTestId('drafts-path').textContent(), join(pod.dataDir, 'Drafts'));
    await page.getByTestId('drafts-watching').filter({ hasText: 'Watching for changes' }).waitFor();
    await page.getByText('--drafts /path/to/folder').waitFor();
    await shotBoth(page, 'settings-drafts');
  });

  test('export: a job with progress ends in a download; an import is refused plainly', async () => {
    await open('export', 'Export');
    await page.getByLabel(/diaspora\* account archive/).first().check();
    await page.getByRole('button', { name: 'Start export' }).click();
    const link = page.getByRole('link', { name: /^Download / });
    await link.waitFor({ timeout: 60_000 });
    const href = await link.getAttribute('href');
    const got = await page.evaluate(async (h) => {
      const r = await fetch(h);
      const buf = new Uint8Array(await r.arrayBuffer());
      let bin = '';
      for (const x of buf) bin += String.fromCharCode(x);
      return { status: r.status, size: buf.byteLength, cd: r.headers.get('content-disposition'), b64: btoa(bin) };
    }, href);
    assert.equal(got.status, 200);
    assert.ok(got.size > 100, `a real file: ${got.size} bytes`);
    assert.match(got.cd ?? '', /attachment/);
    await shotBoth(page, 'settings-export');
    await page.getByRole('button', { name: 'Done' }).click();
    await link.waitFor({ state: 'detached' });

    // Cancel: the snapshot job is cancelled, or had already finished.
    await page.getByLabel(/Seedpod snapshot/).check();
    await page.getByRole('button', { name: 'Start export' }).click();
    const cancel = page.getByRole('button', { name: 'Cancel export' });
    if (await cancel.isVisible().catch(() => false)) {
      await cancel.click().catch(() => {});
    }
    await page.getByTestId('export-job').filter({ hasText: /cancelled|ready/ }).waitFor({ timeout: 60_000 });

    // The pod's own archive, imported back: refused, the pod has an identity.
    await page.getByLabel('diaspora* account archive', { exact: true }).setInputFiles({
      name: 'archive.json.gz',
      mimeType: 'application/gzip',
      buffer: Buffer.from(got.b64, 'base64'),
    });
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    const importError = page.getByTestId('import-error');
    await importError.waitFor();
    assert.match(await importError.textContent(), /already has an identity/);
    await shotBoth(page, 'settings-import-refused');
    assert.equal((await api(page, 'GET', '/api/seedpod/v1/identity')).body.username, 'seed');
  });

  test('key backup: state, paper page, lock and remove the lock', async () => {
    await open('keys', 'Key backup');
    const keys = (await api(page, 'GET', '/api/seedpod/v1/keys')).body;
    assert.equal(await page.getByTestId('key-state').textContent(), 'Ready');
    assert.equal((await page.getByTestId('key-fingerprint').textContent()).replace(/ /g, ''), keys.fingerprint);
    assert.match(await page.getByTestId('key-locked').textContent(), /^Off/);
    await shotBoth(page, 'settings-keys');

    const [paper] = await Promise.all([ctx.waitForEvent('page'), page.getByRole('link', { name: 'Open the plain backup page' }).click()]);
    await paper.waitForLoadState();
    assert.ok((await paper.content()).length > 500, 'the paper page has content');
    await paper.close();

    await page.getByLabel('New passphrase').fill('correct horse battery');
    await page.getByLabel('The same passphrase again').fill('correct horse battery!');
    await page.getByText('The two passphrases differ.').waitFor();
    await page.getByLabel('The same passphrase again').fill('correct horse battery');
    await page.getByRole('button', { name: 'Lock the key' }).click();
    await page.getByRole('status').filter({ hasText: 'Locked.' }).waitFor({ timeout: 30_000 });
    assert.equal((await api(page, 'GET', '/api/seedpod/v1/keys')).body.locked, true);
    await page.getByRole('link', { name: 'Open the sealed backup page' }).waitFor();
    await shotBoth(page, 'settings-keys-locked');

    await page.getByLabel('Passphrase').fill('wrong passphrase here');
    await page.getByRole('button', { name: 'Remove the lock' }).click();
    await page.getByRole('alert').filter({ hasText: 'The lock was not removed' }).waitFor({ timeout: 30_000 });
    assert.equal((await api(page, 'GET', '/api/seedpod/v1/keys')).body.locked, true);
    await page.getByLabel('Passphrase').fill('correct horse battery');
    await page.getByRole('button', { name: 'Remove the lock' }).click();
    await page.getByRole('status').filter({ hasText: 'The lock is removed' }).waitFor({ timeout: 30_000 });
    assert.equal((await api(page, 'GET', '/api/seedpod/v1/keys')).body.locked, false);
  });

  test('appearance and this pod; the devices section; a 360 px window', async () => {
    await open('appearance', 'Appearance');
    await page.getByTestId('about-version').waitFor();
    await shotBoth(page, 'settings-appearance');
    await open('devices', 'Devices');
    await page.getByTestId('this-device').waitFor();
    await page.setViewportSize({ width: 360, height: 740 });
    await open('profile', 'Profile');
    await page.waitForTimeout(200);
    await page.screenshot({ path: join(import.meta.dirname, 'screenshots', 'settings-profile-360.png') });
    const overflow = await page.evaluate(() => document.querySelector('.settings').scrollWidth - document.querySelector('.settings').clientWidth);
    assert.ok(overflow <= 1, `no sideways scrolling (${overflow}px)`);
    await page.setViewportSize({ width: 1280, height: 860 });
    assert.deepEqual(problems, []);
  });
});

// Two real relays on loopback (`seedpod relay` with a test certificate for
// relay.example and relay2.example; the pod resolves every name to
// 127.0.0.1 and trusts that certificate with its hidden test flags).
describe('settings: relay set-up and move with real relays', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seedpod-relay-e2e-'));
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const relays = [];
  let pod;
  let ctx;
  let page;

  const freePort = () =>
    new Promise((res) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const { port } = srv.address();
        srv.close(() => res(port));
      });
    });

  const startRelay = async (name) => {
    // The relay's domain carries the port: identities are user@name:port.
    const domain = `${name}:${await freePort()}`;
    const data = join(dir, name);
    const proc = spawn(BIN, ['relay', '--domain', domain, '--listen', `127.0.0.1:${domain.split(':')[1]}`, '--p2p-listen', 'off', '--data', data,
      '--tls-cert', cert, '--tls-key', key, '--rate', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    const exited = new Promise((res) => proc.on('exit', res));
    relays.push({ proc, exited });
    const port = await new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`relay ${domain} did not start: ${err}`)), 15_000);
      createInterface({ input: proc.stdout }).on('line', (l) => {
        const m = l.match(/listening on https:\/\/127\.0\.0\.1:(\d+)\//);
        if (m) {
          clearTimeout(t);
          res(m[1]);
        }
      });
    });
    const invite = (user) => execFileSync(BIN, ['relay', 'invite', user, '--data', data]).toString().trim();
    assert.equal(port, domain.split(':')[1]);
    return { url: `https://${domain}`, host: domain, invite };
  };

  before(async () => {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=relay.example', '-addext', 'subjectAltName=DNS:relay.example,DNS:relay2.example',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    pod = await startServe(['--test-key-bits', '2048', '--test-outbound-loopback', '--test-outbound-ca', cert, '--test-poll-wait', '2s'],
      { seed: { posts: 5, contacts: 2 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await ctx.newPage();
    await page.goto(pod.login);
    await page.locator('.identity').waitFor();
  });
  after(async () => {
    await ctx?.close();
    const r = await pod?.stop();
    for (const { proc, exited } of relays) {
      proc.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r?.code, 0);
  });

  test('a refused code is explained; the right one connects, live', async () => {
    const one = await startRelay('relay.example');
    await page.evaluate(() => (location.hash = '#/settings/relay'));
    await page.getByRole('heading', { name: 'Relay', exact: true }).waitFor();
    await page.getByLabel('Relay address').fill(one.url);
    await page.getByLabel('Enrolment code').fill('wrongcodewrongcodewrongcode00000');
    await page.getByRole('button', { name: 'Connect' }).click();
    await page.getByRole('alert').filter({ hasText: /refused this/ }).waitFor({ timeout: 30_000 });
    assert.equal((await api(page, 'GET', '/api/seedpod/v1/relay')).body.state, 'off');

    await page.getByLabel('Enrolment code').fill(one.invite('seed'));
    await page.getByRole('button', { name: 'Connect' }).click();
    const ok = page.getByRole('status').filter({ hasText: 'Connected to the relay.' });
    const bad = page.locator('.form-error[role="alert"]');
    const t0 = Date.now();
    await ok.or(bad).first().waitFor({ timeout: 60_000 }).catch(async (e) => {
      await page.screenshot({ path: join(import.meta.dirname, 'screenshots', 'debug-relay.png') });
      console.log('# relay:', JSON.stringify((await api(page, 'GET', '/api/seedpod/v1/relay')).body));
      console.log('# serve stderr:', pod.stderr().slice(-3000));
      throw e;
    });
    if (Date.now() - t0 > 10_000) console.log(`# enrolment took ${Date.now() - t0} ms`);
    if (await bad.isVisible()) assert.fail(`enrolment refused: ${await bad.textContent()}`);
    await page.getByTestId('relay-section-state').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
    const st = (await api(page, 'GET', '/api/seedpod/v1/relay')).body;
    assert.equal(st.diaspora_id, `seed@${one.host}`);
    await page.getByText(`seed@${one.host}`).first().waitFor();
    await shotBoth(page, 'settings-relay-connected');
  });

  test('move to another relay', async () => {
    const two = await startRelay('relay2.example');
    await page.getByRole('button', { name: 'Move to another relay…' }).click();
    await page.getByLabel('Relay address').fill(two.url);
    await page.getByLabel('Enrolment code').fill(two.invite('seed'));
    await shotBoth(page, 'settings-relay-move');
    await page.getByRole('button', { name: 'Move', exact: true }).click();
    await page.getByRole('status').filter({ hasText: `Moved: you are now seed@${two.host}.` }).waitFor({ timeout: 30_000 });
    const st = (await api(page, 'GET', '/api/seedpod/v1/relay')).body;
    assert.equal(st.diaspora_id, `seed@${two.host}`);
    await page.getByTestId('relay-section-state').filter({ hasText: 'Connected' }).waitFor({ timeout: 30_000 });
  });
});
