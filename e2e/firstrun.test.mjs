// First run and the stream, end to end: a fresh `seedpod serve`, Debian's
// Chromium, the real API. Identity → first post (queued, no relay) →
// live updates → reading position kept → stream views → keyboard.
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

describe('first run and the stream', () => {
  let pod;
  let ctx;
  let page;
  const problems = [];
  before(async () => {
    pod = await startServe(['--test-key-bits', '2048']);
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pod.login);
  });
  after(async () => {
    await ctx?.close();
    const { code } = await pod.stop();
    assert.equal(code, 0);
  });

  test('a fresh pod offers the three ways in', async () => {
    await page.getByRole('heading', { name: 'Welcome to Seedpod' }).waitFor();
    for (const name of ['Create a new identity', 'Add this device to my identity', 'Import a diaspora* account']) {
      await page.getByRole('button', { name }).waitFor();
    }
    await shotBoth(page, 'firstrun-welcome');
  });

  test('create: the username follows the name, bad input is refused, the key is made with progress', async () => {
    await page.getByRole('button', { name: 'Create a new identity' }).click();
    await page.getByLabel('Your name').fill('Ana Lúcia Pérez');
    assert.equal(await page.getByLabel('Username').inputValue(), 'ana_lucia_perez');
    await page.getByLabel('Username').fill('Ana!');
    await page.getByText('Lowercase letters only.').waitFor();
    await page.getByRole('button', { name: 'Create identity' }).click();
    await page.getByRole('alert').filter({ hasText: 'Lowercase letters only.' }).waitFor();
    let id = await api(page, 'GET', '/api/seedpod/v1/identity');
    assert.equal(id.body.exists, false, 'nothing was created from a refused form');
    await page.getByLabel('Username').fill('ana');
    await shotBoth(page, 'firstrun-create');
    await page.getByRole('button', { name: 'Create identity' }).click();
    await page.getByRole('progressbar', { name: 'Key generation' }).waitFor();
    await page.getByRole('heading', { name: 'Your identity is ready' }).waitFor({ timeout: 60_000 });
    assert.equal(await page.getByRole('progressbar').getAttribute('aria-valuenow'), '100');
    id = await api(page, 'GET', '/api/seedpod/v1/identity');
    assert.equal(id.body.username, 'ana');
    assert.equal(id.body.name, 'Ana Lúcia Pérez');
    // An avatar, cropped square in the browser, becomes the profile photo.
    const png = await page.evaluate(() => {
      const c = document.createElement('canvas');
      c.width = 200;
      c.height = 120;
      const g = c.getContext('2d');
      g.fillStyle = '#c98a14';
      g.fillRect(0, 0, 200, 120);
      return c.toDataURL('image/png').split(',')[1];
    });
    await page.getByRole('button', { name: 'Add a profile photo' }).click();
    await page.getByLabel('Choose a picture').setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: Buffer.from(png, 'base64') });
    await page.getByLabel('Zoom').waitFor();
    await shotBoth(page, 'firstrun-key');
    await page.getByRole('button', { name: 'Use this photo' }).click();
    await page.getByRole('status').filter({ hasText: 'Your profile photo is set.' }).waitFor();
    const me = await api(page, 'GET', '/api/v1/user');
    assert.ok(me.body.avatar?.medium, 'the new identity has an avatar');
  });

  test('relay and backup steps can be skipped; a bad relay address is explained', async () => {
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Reach the diaspora* network' }).waitFor();
    await page.getByLabel('Relay address').fill('http://relay.example');
    await page.getByText('The relay must use https://.').waitFor();
    await shotBoth(page, 'firstrun-relay');
    await page.getByRole('button', { name: 'Skip for now' }).click();
    await page.getByRole('heading', { name: 'Back up your key' }).waitFor();
    await shotBoth(page, 'firstrun-backup');
    await page.getByRole('button', { name: 'Start using Seedpod' }).click();
    await page.getByRole('feed', { name: 'Posts' }).waitFor({ state: 'attached' });
    assert.equal(new URL(page.url()).hash, '#/stream');
    await page.locator('.identity').filter({ hasText: 'Ana Lúcia Pérez' }).waitFor();
  });

  test('the first post: Markdown rendered, queued without a relay, counted in the status bar', async () => {
    await page.getByRole('heading', { name: 'Nothing here yet' }).waitFor();
    await shotBoth(page, 'stream-empty');
    const box = page.getByLabel('What’s on your mind?');
    await box.fill('Hello **world** from #seedpod');
    await box.press('Control+Enter');
    const first = page.locator('article.post').first();
    await first.locator('strong', { hasText: 'world' }).waitFor();
    await first.getByText('Queued').waitFor();
    await first.locator('a[href*="/tags/seedpod"]').waitFor();
    assert.equal(await box.inputValue(), '', 'the composer empties after posting');
    await page.getByTestId('outbox-pending').filter({ hasText: 'waiting to go out' }).waitFor();
    const outbox = await api(page, 'GET', '/api/seedpod/v1/outbox');
    assert.equal(outbox.body[0].state, 'queued');
    await shotBoth(page, 'stream-first-post');
  });

  test('a limited post goes to the chosen aspects', async () => {
    await page.getByTestId('audience').click();
    await page.getByRole('checkbox', { name: 'Family' }).check();
    await page.getByRole('checkbox', { name: 'Work' }).check();
    await shotBoth(page, 'composer-audience');
    await page.getByRole('button', { name: 'Done' }).click();
    assert.equal((await page.getByTestId('audience').textContent()).trim(), 'Family, Work');
    await page.getByLabel('What’s on your mind?').fill('Only for family and work');
    await page.getByRole('button', { name: 'Post', exact: true }).click();
    const first = page.locator('article.post').first();
    await first.getByText('Only for family and work').waitFor();
    await first.getByText('Limited').waitFor();
    const guid = await first.getAttribute('data-guid');
    const p = await api(page, 'GET', `/api/v1/posts/${guid}`);
    assert.equal(p.body.public, false);
  });

  test('the aspects view filters by the aspects chosen, kept in the URL', async () => {
    await page.getByRole('link', { name: 'Aspects', exact: true }).click();
    const group = page.getByRole('group', { name: 'Show posts from these aspects' });
    await group.getByRole('button', { name: 'Friends' }).click();
    await page.waitForFunction(() => /^#\/stream\/aspects\/\d+$/.test(location.hash));
    // Friends: my public posts, not the post limited to Family and Work.
    await page.locator('article.post').filter({ hasText: 'Hello world from #seedpod' }).waitFor();
    assert.equal(await page.locator('article.post').filter({ hasText: 'Only for family and work' }).count(), 0);
    await group.getByRole('button', { name: 'Family' }).click();
    await page.locator('article.post').filter({ hasText: 'Only for family and work' }).waitFor();
    assert.equal(await group.getByRole('button', { name: 'Family' }).getAttribute('aria-pressed'), 'true');
    await shotBoth(page, 'stream-aspects');
    await page.reload();
    await page.locator('article.post').filter({ hasText: 'Only for family and work' }).waitFor();
    await group.getByRole('button', { name: 'All aspects' }).click();
    await page.waitForFunction(() => location.hash === '#/stream/aspects');
    await page.getByRole('link', { name: 'Stream', exact: true }).first().click();
  });

  test('live: a post written elsewhere appears; while reading further down it waits above', async () => {
    // A post from another tab shows up at once while this one is at the top.
    const other = await ctx.newPage();
    await other.goto(pod.base + '/#/stream');
    const r = await api(other, 'POST', '/api/v1/posts', { body: 'Written in another window', public: true });
    assert.equal(r.status, 200);
    await page.locator('article.post').first().getByText('Written in another window').waitFor();

    // Fill the stream, scroll down, then a new post must not move what is read.
    for (let i = 0; i < 45; i++) {
      const x = await api(other, 'POST', '/api/v1/posts', { body: `Filler post number ${i}\n\nwith a second paragraph`, public: true });
      assert.equal(x.status, 200);
    }
    await page.bringToFront(); // a background tab draws no frames: no scroll events
    await page.reload();
    await page.locator('article.post').first().getByText('Filler post number 44').waitFor();
    const scroller = page.getByTestId('stream-scroller');
    await scroller.evaluate((el) => (el.scrollTop = 1500));
    await page.waitForTimeout(300);
    const anchor = await page.evaluate(() => {
      const el = document.querySelector('[data-testid=stream-scroller]');
      const top = el.getBoundingClientRect().top;
      const post = [...document.querySelectorAll('article.post')].find((a) => a.getBoundingClientRect().top >= top);
      return { guid: post.dataset.guid, y: post.getBoundingClientRect().top };
    });
    const late = await api(other, 'POST', '/api/v1/posts', { body: 'A late arrival', public: true });
    assert.equal(late.status, 200);
    await page.getByTestId('new-posts').filter({ hasText: '1 new post' }).waitFor();
    const still = await page.evaluate(
      (guid) => document.querySelector(`article[data-guid="${guid}"]`)?.getBoundingClientRect().top,
      anchor.guid,
    );
    assert.ok(Math.abs(still - anchor.y) < 2, `the post being read moved from ${anchor.y} to ${still}`);
    await shotBoth(page, 'stream-new-posts');
    await page.getByTestId('new-posts').click();
    await page.locator('article.post').first().getByText('A late arrival').waitFor();
    await other.close();
  });

  test('infinite scroll loads older posts and keeps the DOM small', async () => {
    const scroller = page.getByTestId('stream-scroller');
    for (let i = 0; i < 30; i++) {
      await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
      await page.waitForTimeout(60);
      if (await page.getByText('That’s everything.').isVisible()) break;
    }
    await page.getByText('That’s everything.').waitFor();
    // The last page came in below what is on screen: the oldest post is at the very end.
    await scroller.evaluate((el) => (el.scrollTop = el.scrollHeight));
    await page.locator('article.post').filter({ hasText: 'Hello world from #seedpod' }).waitFor();
    const inDom = await page.locator('article.post').count();
    assert.ok(inDom < 30, `${inDom} posts in the DOM out of 49`);
  });

  test('keyboard: j and k move between posts, / nothing breaks; views keep their URL', async () => {
    await page.getByTestId('stream-scroller').evaluate((el) => (el.scrollTop = 0));
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    await page.keyboard.press('j');
    const focused = await page.evaluate(() => document.activeElement?.getAttribute('aria-posinset'));
    assert.equal(focused, '2');
    await page.keyboard.press('k');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-posinset')), '1');
    await page.getByRole('link', { name: 'Public' }).click();
    assert.equal(new URL(page.url()).hash, '#/stream/public');
    await page.locator('article.post').first().waitFor();
    await page.getByRole('link', { name: 'Liked' }).click();
    await page.getByRole('heading', { name: 'Nothing here yet' }).waitFor();
    await page.goBack();
    await page.getByRole('link', { name: 'Public', exact: true }).and(page.locator('[aria-current=page]')).waitFor();
    assert.deepEqual(problems, [], 'no script errors');
  });

  test('a 360 px window still works', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.getByRole('link', { name: 'Stream', exact: true }).first().click();
    await page.getByLabel('What’s on your mind?').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await shotBoth(page, 'stream-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
