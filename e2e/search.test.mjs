// Search end to end on a seeded pod: full text with marked matches, people,
// tags and a tag's page (follow, unfollow), "/" from anywhere, links inside
// posts opening in the app.
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

describe('search', () => {
  let pod;
  let ctx;
  let page;
  const problems = [];
  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 120, contacts: 25 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await ctx.newPage();
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pod.login);
    await page.locator('article.post').first().waitFor();
  });
  after(async () => {
    await ctx?.close();
    await pod.stop();
  });

  test('"/" opens search; a word finds the post, marked, and the result opens it', async () => {
    const r = await api(page, 'POST', '/api/v1/posts', { body: 'My sourdough starter finally rose. #baking', public: true });
    assert.equal(r.status, 200);
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('/');
    await page.waitForFunction(() => location.hash.startsWith('#/search'));
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'search-q');
    await page.keyboard.type('sourdough');
    await page.keyboard.press('Enter');
    const hit = page.getByRole('link').filter({ has: page.locator('mark', { hasText: /sourdough/i }) });
    await hit.first().waitFor();
    await shotBoth(page, 'search-results');
    await hit.first().click();
    assert.equal(new URL(page.url()).hash, `#/post/${r.body.guid}`);
  });

  test('people are found by name, and nothing found says so', async () => {
    const contacts = await api(page, 'GET', '/api/seedpod/v1/contacts');
    const someone = contacts.body.find((c) => c.person?.name)?.person ?? contacts.body[0].person;
    const first = (someone.name ?? someone.diaspora_id).split(' ')[0];
    await page.goto(pod.base + '/#/search');
    await page.locator('#search-q').fill(first);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('region', { name: 'People' }).getByText(someone.diaspora_id).waitFor();
    await page.locator('#search-q').fill('zzqxnothingmatches');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('heading', { name: 'Nothing on this pod matches “zzqxnothingmatches”' }).waitFor();
  });

  test('a tag link in a post opens the tag page in the app; follow and unfollow reach the pod', async () => {
    await page.goto(pod.base + '/#/stream');
    const card = page.locator('article.post').filter({ hasText: 'sourdough starter' });
    await card.locator('a', { hasText: '#baking' }).click();
    await page.waitForFunction(() => location.hash === '#/tags/baking');
    await page.getByRole('heading', { name: '#baking' }).waitFor();
    await page.getByRole('feed', { name: 'Posts tagged baking' }).locator('article').first().waitFor();
    await page.getByRole('button', { name: 'Follow' }).click();
    await page.getByRole('button', { name: 'Unfollow' }).waitFor();
    let f = await api(page, 'GET', '/api/v1/tag_followings');
    assert.ok(JSON.stringify(f.body).includes('baking'), JSON.stringify(f.body));
    await shotBoth(page, 'tag-page');
    await page.getByRole('button', { name: 'Unfollow' }).click();
    await page.getByRole('button', { name: 'Follow' }).waitFor();
    f = await api(page, 'GET', '/api/v1/tag_followings');
    assert.ok(!JSON.stringify(f.body).includes('baking'));

    // Mute: a tag filter that hides its posts from the streams; the user's
    // own posts stay (filters never hide them).
    await page.getByRole('button', { name: 'Mute', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Muted: posts tagged #baking are left out of your streams.' }).waitFor();
    let filters = (await api(page, 'GET', '/api/seedpod/v1/filters')).body;
    assert.deepEqual(
      filters.map((x) => [x.kind, x.value, x.action, x.contexts.join()]),
      [['tag', 'baking', 'hide', 'streams,notifications']],
    );
    await page.getByRole('feed', { name: 'Posts tagged baking' }).locator('article', { hasText: 'sourdough starter' }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Unmute' }).getAttribute('aria-pressed'), 'true');
    await shotBoth(page, 'tag-page-muted');
    await page.getByRole('button', { name: 'Unmute' }).click();
    await page.getByRole('button', { name: 'Mute', exact: true }).waitFor();
    filters = (await api(page, 'GET', '/api/seedpod/v1/filters')).body;
    assert.deepEqual(filters, []);
    assert.deepEqual(problems, []);
  });
});
