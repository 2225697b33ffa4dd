// Devices end to end with two real `seedpod serve`s on loopback: pod A
// (seeded) opens pairing in Settings → Devices; pod B (fresh) joins through
// the first run with that code and gets A's identity and posts; A sees B
// connected, renames it, revokes it; B is then disconnected.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, launchBrowser, shotBoth, startServe } from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

const until = async (what, fn, timeoutMs = 60_000) => {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('devices', () => {
  let podA;
  let podB;
  let ctxA;
  let ctxB;
  let a;
  let b;
  let code;
  let keyB;
  const problems = [];
  before(async () => {
    [podA, podB] = await Promise.all([
      startServe(['--test-key-bits', '2048'], { seed: { posts: 12, contacts: 3 } }),
      startServe(['--test-key-bits', '2048']),
    ]);
    ctxA = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ctxB = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctxA.grantPermissions(['clipboard-read', 'clipboard-write']);
    a = await ctxA.newPage();
    b = await ctxB.newPage();
    for (const p of [a, b]) {
      p.on('pageerror', (e) => problems.push(e.message));
    }
    await a.goto(podA.login);
    await a.locator('.identity').waitFor();
    await b.goto(podB.login);
  });
  after(async () => {
    await ctxA?.close();
    await ctxB?.close();
    const r = await Promise.all([podA?.stop(), podB?.stop()]);
    assert.deepEqual(
      r.map((x) => x?.code),
      [0, 0],
    );
  });

  test('A opens pairing: QR, code with copy, countdown', async () => {
    await a.evaluate(() => (location.hash = '#/settings/devices'));
    await a.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    await a.getByTestId('sync-state').filter({ hasText: 'On' }).waitFor();
    await a.getByRole('button', { name: 'Pair a device' }).click();
    await a.getByTestId('pairing').waitFor();
    code = await a.getByLabel('Pairing code').inputValue();
    assert.match(code, /^seedpod-pair:/);
    const qr = a.getByRole('img', { name: 'QR code of the pairing code' });
    assert.ok(await qr.evaluate((img) => img.complete && img.naturalWidth > 50), 'the QR image loads');
    assert.match(await a.getByTestId('pair-countdown').textContent(), /^Expires in (10:00|9:5\d)$/);
    await a.getByRole('button', { name: 'Copy code' }).click();
    await a.getByRole('button', { name: 'Copied' }).waitFor();
    assert.equal(await a.evaluate(() => navigator.clipboard.readText()), code);
    const devs = (await api(a, 'GET', '/api/seedpod/v1/devices')).body;
    assert.ok(devs.sync.pairing_until, 'the pod has a pairing window open');
    await shotBoth(a, 'settings-devices-pairing');
  });

  test('B joins through the first run and becomes A', async () => {
    await b.getByRole('button', { name: 'Add this device to my identity' }).click();
    await b.getByLabel('Pairing code').fill(code);
    await b.getByRole('button', { name: 'Join' }).click();
    await b.getByRole('heading', { name: 'Your identity is ready' }).waitFor({ timeout: 60_000 });
    const idA = (await api(a, 'GET', '/api/seedpod/v1/identity')).body;
    const idB = (await api(b, 'GET', '/api/seedpod/v1/identity')).body;
    assert.equal(idB.guid, idA.guid);
    assert.equal(idB.handle, idA.handle);
    // A's posts arrive on B.
    const posts = (await api(a, 'GET', '/api/v1/streams/main?per_page=5')).body;
    assert.ok(posts.length > 0, 'A has posts');
    await until('A\'s posts on B', async () => (await api(b, 'GET', `/api/v1/posts/${posts[0].guid}`)).status === 200);
    await until('B\'s stream', async () => (await api(b, 'GET', '/api/v1/streams/main?per_page=5')).body.length > 0);
  });

  test('A lists B as connected; the pairing window closed', async () => {
    await a.getByRole('button', { name: 'Pair a device' }).waitFor({ timeout: 30_000 }).catch(async () => {
      await a.getByRole('button', { name: 'Stop pairing' }).click();
    });
    const devs = await until('B connected on A', async () => {
      const d = (await api(a, 'GET', '/api/seedpod/v1/devices')).body;
      const other = d.devices.find((x) => !x.this && x.connected);
      return other ? d : null;
    });
    keyB = devs.devices.find((x) => !x.this).key;
    const row = a.locator(`[data-testid="device"][data-key="${keyB}"]`);
    await row.getByTestId('device-state').filter({ hasText: /^Connected/ }).waitFor({ timeout: 15_000 });
    // The status bar says the other device is in sync once it caught up (polled every 5 s).
    await a.getByTestId('devices-state').filter({ hasText: 'Your other device is in sync' }).waitFor({ timeout: 20_000 });
    await shotBoth(a, 'settings-devices');
  });

  test('rename B', async () => {
    const row = a.locator(`[data-testid="device"][data-key="${keyB}"]`);
    await row.getByRole('button', { name: /^Rename/ }).click();
    await row.getByRole('textbox').fill('Laptop upstairs');
    await row.getByRole('button', { name: 'Save' }).click();
    await row.locator('.name').filter({ hasText: 'Laptop upstairs' }).waitFor();
    const d = (await api(a, 'GET', '/api/seedpod/v1/devices')).body.devices.find((x) => x.key === keyB);
    assert.equal(d.name, 'Laptop upstairs');
  });

  test('revoke B after confirming; B is disconnected', async (t) => {
    const row = a.locator(`[data-testid="device"][data-key="${keyB}"]`);
    await row.getByRole('button', { name: 'Revoke Laptop upstairs', exact: true }).first().click();
    await row.getByRole('alertdialog').waitFor();
    await shotBoth(a, 'settings-devices-revoke');
    await row.getByRole('button', { name: 'Keep it' }).click();
    assert.equal((await api(a, 'GET', '/api/seedpod/v1/devices')).body.devices.find((x) => x.key === keyB).revoked, false);
    await row.getByRole('button', { name: 'Revoke Laptop upstairs' }).click();
    await row.getByRole('alertdialog').getByRole('button', { name: 'Revoke Laptop upstairs' }).click();
    await row.getByTestId('device-state').filter({ hasText: 'Revoked' }).waitFor();
    const d = (await api(a, 'GET', '/api/seedpod/v1/devices')).body.devices.find((x) => x.key === keyB);
    assert.equal(d.revoked, true);
    await until('B disconnected on A', async () => {
      const x = (await api(a, 'GET', '/api/seedpod/v1/devices')).body.devices.find((y) => y.key === keyB);
      return !x.connected;
    });
    await until('A disconnected on B', async () => {
      const x = (await api(b, 'GET', '/api/seedpod/v1/devices')).body.devices.filter((y) => !y.this);
      return x.every((y) => !y.connected);
    }, 30_000);
    await b.reload();
    await b.evaluate(() => (location.hash = '#/settings/devices'));
    await b.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    await b.getByTestId('device').first().waitFor();
    const states = await b.getByTestId('device-state').allTextContents();
    assert.ok(!states.some((s) => s.startsWith('Connected')), `B shows nothing connected: ${states}`);
    // B learns of its revocation only if the op reached it before A cut it off.
    const bKnows = (await api(b, 'GET', '/api/seedpod/v1/devices')).body.devices.find((y) => y.this)?.revoked;
    if (bKnows) {
      await b.getByTestId('this-revoked').waitFor();
      assert.equal(await b.getByRole('button', { name: 'Pair a device' }).count(), 0);
    } else {
      t.diagnostic('B was cut off before it heard of its revocation: it still lists itself as not revoked');
    }
    await shotBoth(b, 'settings-devices-revoked-b');
    assert.deepEqual(problems, []);
  });
});
