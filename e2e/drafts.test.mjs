// Drafts end to end: saved from the composer, edited in the app, written as
// Markdown files in the drafts folder (a broken one explained, never
// touched), published (the file moves to Published/), deleted.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { api, launchBrowser, readyIdentity, shotBoth, startServe } from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('drafts', () => {
  let pod;
  let ctx;
  let page;
  const problems = [];
  before(async () => {
    pod = await startServe(['--test-key-bits', '2048']);
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('dialog', (d) => d.accept());
    await page.goto(pod.login);
    await page.getByRole('heading', { name: 'Welcome to Seedpod' }).waitFor();
    await readyIdentity(page);
    await page.reload();
    await page.getByLabel('What’s on your mind?').waitFor();
  });
  after(async () => {
    await ctx?.close();
    await pod.stop();
  });

  test('the composer saves a draft; the drafts screen lists it and edits it', async () => {
    await page.getByLabel('What’s on your mind?').fill('# Garden plans\n\nTomatoes by the wall.');
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved to Drafts.' }).waitFor();
    assert.equal(await page.getByLabel('What’s on your mind?').inputValue(), '');
    await page.getByRole('link', { name: 'Drafts' }).first().click();
    await page.getByRole('link', { name: /Garden plans/ }).click();
    const box = page.getByLabel('Draft text');
    assert.equal(await box.inputValue(), '# Garden plans\n\nTomatoes by the wall.');
    await box.fill('# Garden plans\n\nTomatoes by the wall, beans by the fence.');
    await page.getByText('Unsaved changes').waitFor();
    await box.press('Control+s');
    await page.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    const list = await api(page, 'GET', '/api/seedpod/v1/drafts');
    assert.equal(list.body.length, 1);
    assert.match(list.body[0].body, /beans by the fence/);
    // The folder mirrors it as a Markdown file.
    const dir = join(pod.dataDir, 'Drafts');
    const deadline = Date.now() + 10_000;
    let files = [];
    while (Date.now() < deadline) {
      files = readdirSync(dir).filter((f) => f.endsWith('.md'));
      if (files.length && readFileSync(join(dir, files[0]), 'utf8').includes('beans')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(files.length, 1, `files in the drafts folder: ${files}`);
    await shotBoth(page, 'drafts-edit');
  });

  test('a Markdown file dropped in the folder appears; a broken one is explained and left alone', async () => {
    const dir = join(pod.dataDir, 'Drafts');
    writeFileSync(join(dir, 'walk.md'), '---\naudience: public\ntags: [walking]\n---\nA walk by the river at dawn.\n');
    await page.getByRole('link', { name: /A walk by the river/ }).waitFor();
    const broken = '---\naudience: [Nobody at all\n---\nHalf a thought\n';
    writeFileSync(join(dir, 'broken.md'), broken);
    const item = page.getByRole('link', { name: /file problem/ });
    await item.waitFor();
    await item.click();
    await page.getByRole('alert').filter({ hasText: 'cannot be read as a draft' }).waitFor();
    assert.equal(readFileSync(join(dir, 'broken.md'), 'utf8'), broken, 'the broken file is untouched');
    await shotBoth(page, 'drafts-file-problem');
  });

  test('a draft without an audience cannot be published until one is chosen', async () => {
    writeFileSync(join(pod.dataDir, 'Drafts', 'private.md'), 'Nobody chosen yet\n');
    await page.getByRole('link', { name: /Nobody chosen yet/ }).click();
    await page.getByText('Choose who sees it to publish.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Publish' }).isDisabled(), true);
    await page.getByTestId('draft-audience').click();
    await page.getByRole('radio', { name: 'Public' }).check();
    await page.getByRole('button', { name: 'Done' }).click();
    assert.equal(await page.getByRole('button', { name: 'Publish' }).isDisabled(), false);
  });

  test('publishing a draft posts it (queued without a relay) and moves its file to Published/', async () => {
    await page.getByRole('link', { name: /A walk by the river/ }).click();
    assert.match(await page.getByLabel('Draft text').inputValue(), /A walk by the river/);
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.waitForFunction(() => location.hash.startsWith('#/post/'));
    const guid = decodeURIComponent(new URL(page.url()).hash.split('/')[2]);
    const post = await api(page, 'GET', `/api/v1/posts/${guid}`);
    assert.equal(post.status, 200);
    assert.match(post.body.body, /A walk by the river at dawn/);
    assert.match(post.body.body, /#walking/);
    const outbox = await api(page, 'GET', '/api/seedpod/v1/outbox');
    assert.ok(outbox.body.some((e) => e.guid === guid && e.state === 'queued'));
    const published = join(pod.dataDir, 'Drafts', 'Published');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(existsSync(published) && readdirSync(published).includes('walk.md'))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(readdirSync(published).includes('walk.md'), 'walk.md moved to Published/');
    assert.ok(!existsSync(join(pod.dataDir, 'Drafts', 'walk.md')));
  });

  test('deleting asks first, then the draft is gone', async () => {
    await page.getByRole('link', { name: 'Drafts' }).first().click();
    await page.getByRole('link', { name: /Garden plans/ }).click();
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('link', { name: /Garden plans/ }).waitFor({ state: 'detached' });
    const list = await api(page, 'GET', '/api/seedpod/v1/drafts');
    assert.ok(!list.body.some((d) => /Garden plans/.test(d.body)));
    await shotBoth(page, 'drafts-list');
    assert.deepEqual(problems, []);
  });
});
