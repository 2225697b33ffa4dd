// A post and what can be done with it, end to end: a seeded `seedpod serve`
// (remote people, their posts, comments and likes), Debian's Chromium and
// the real API. The stream's interaction bar and keys, then the post view:
// comments, likes, reshares, poll votes, edits and their history, delivery,
// subscribe/mute, hide, report, delete, live updates.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, launchBrowser, shotBoth, shotPath, startServe } from './harness.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Polls fn until it returns something truthy (the API catches up with the UI). */
async function until(fn, what, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('posts and interactions', () => {
  let pod;
  let ctx;
  let page;
  let me;
  const problems = [];
  const card = (guid) => page.locator(`article.post[data-guid="${guid}"]`);
  const likeCount = async (guid) => Number(await card(guid).getByTestId('like-count').first().textContent());
  const getPost = async (guid) => (await api(page, 'GET', `/api/v1/posts/${guid}`)).body;
  const openPost = async (guid) => {
    await page.goto(`${pod.base}/#/post/${guid}`);
    await page.locator(`article.post[data-guid="${guid}"]`).waitFor();
  };

  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 60, contacts: 20 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && !/Failed to load resource|ERR_INTERNET_DISCONNECTED/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pod.login);
    await page.getByRole('feed', { name: 'Posts' }).locator('article.post').first().waitFor();
    me = (await api(page, 'GET', '/api/seedpod/v1/identity')).body.handle;
    assert.ok(me);
  });
  after(async () => {
    await ctx?.close();
    const { code } = await pod.stop();
    assert.equal(code, 0);
  });

  /** The first posts of the main stream, as the API has them. */
  const stream = async () => (await api(page, 'GET', '/api/v1/streams/main?per_page=8')).body;

  test('stream: like on a card counts at once, reaches the pod, and reverts when the pod cannot be reached', async () => {
    const posts = await stream();
    const p = posts.find((x) => !x.own_interaction_state.liked && x.post_type === 'StatusMessage');
    assert.ok(p, 'an unliked post near the top');
    const before = p.interaction_counters.likes;
    const like = card(p.guid).locator('[data-action=like]');
    assert.equal(await like.getAttribute('aria-pressed'), 'false');
    await like.click();
    assert.equal(await likeCount(p.guid), before + 1, 'the count moves before the pod answers');
    assert.equal(await like.getAttribute('aria-pressed'), 'true');
    await until(async () => (await getPost(p.guid)).own_interaction_state.liked, 'the like to reach the pod');
    assert.equal((await getPost(p.guid)).interaction_counters.likes, before + 1);
    await card(p.guid).scrollIntoViewIfNeeded();
    await shotBoth(page, 'post-card-liked');

    // Unlike while the network is down: the count goes back, the reason shows.
    await ctx.setOffline(true);
    await like.click();
    await card(p.guid).getByRole('alert').filter({ hasText: 'Unliking failed: the pod is not reachable' }).waitFor();
    await shotBoth(page, 'post-card-like-refused');
    assert.equal(await likeCount(p.guid), before + 1, 'reverted');
    assert.equal(await like.getAttribute('aria-pressed'), 'true');
    await ctx.setOffline(false);
    await like.click();
    await until(async () => !(await getPost(p.guid)).own_interaction_state.liked, 'the unlike');
    assert.equal(await likeCount(p.guid), before);

    // The comment button opens the post with the comment box focused; Open opens it.
    await card(p.guid).locator('[data-action=comment]').click();
    await page.waitForURL(`**/#/post/${p.guid}/comment`);
    await until(() => page.evaluate(() => document.activeElement?.id === 'comment-body'), 'the comment box to take focus');
    await page.getByRole('link', { name: '← Back to the stream' }).click();
    await card(p.guid).getByRole('link', { name: 'Open the post' }).click();
    await page.waitForURL(`**/#/post/${p.guid}`);
    await page.getByRole('heading', { name: /^Post by/ }).waitFor({ state: 'attached' });
    await page.goBack();
    await card(p.guid).waitFor();
  });

  test('stream keys: l likes, m opens a content warning, r reshares, o opens, c comments', async () => {
    // An own NSFW post at the top: collapsed behind its warning.
    const nsfw = await api(page, 'POST', '/api/v1/posts', { body: 'Spoilers about the finale', public: true, nsfw: true });
    assert.equal(nsfw.status, 200);
    await page.reload();
    await card(nsfw.body.guid).getByRole('button', { name: /NSFW — show post/ }).waitFor();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    const at = Number(await card(nsfw.body.guid).getAttribute('aria-posinset'));
    for (let i = 0; i < at; i++) await page.keyboard.press('j');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-guid')), nsfw.body.guid);
    await page.keyboard.press('m');
    await card(nsfw.body.guid).getByText('Spoilers about the finale').waitFor();
    await page.keyboard.press('l');
    await until(async () => (await getPost(nsfw.body.guid)).own_interaction_state.liked, 'l to like');
    assert.equal(await likeCount(nsfw.body.guid), 1);

    // r on a public post of someone else.
    const target = (await stream()).find((x) => x.public && x.author.diaspora_id !== me && x.post_type === 'StatusMessage' && !x.own_interaction_state.reshared);
    assert.ok(target, 'a public post by someone else');
    const idx = Number(await card(target.guid).getAttribute('aria-posinset'));
    const cur = Number(await page.evaluate(() => document.activeElement?.getAttribute('aria-posinset')));
    for (let i = cur; i < idx; i++) await page.keyboard.press('j');
    for (let i = cur; i > idx; i--) await page.keyboard.press('k');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-guid')), target.guid);
    await page.keyboard.press('r');
    await until(async () => (await getPost(target.guid)).own_interaction_state.reshared, 'r to reshare');
    const reshares = (await api(page, 'GET', `/api/v1/posts/${target.guid}/reshares`)).body;
    assert.ok(reshares.some((r) => r.author.diaspora_id === me));

    // Keys stay text in the composer.
    await page.getByLabel('What’s on your mind?').click();
    await page.keyboard.type('lrmoc');
    assert.equal(await page.getByLabel('What’s on your mind?').inputValue(), 'lrmoc');
    await page.getByLabel('What’s on your mind?').fill('');

    // o opens the focused post, c opens it with the comment box focused.
    await page.reload();
    await page.locator('article.post').first().waitFor();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    const first = await page.evaluate(() => document.activeElement?.getAttribute('data-guid'));
    await page.keyboard.press('o');
    await page.waitForURL(`**/#/post/${first}`);
    await page.getByRole('link', { name: '← Back to the stream' }).click();
    await page.locator('article.post').first().waitFor();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('j');
    await page.keyboard.press('c');
    await page.waitForURL(`**/#/post/${first}/comment`);
    await until(() => page.evaluate(() => document.activeElement?.id === 'comment-body'), 'the comment box to take focus');

    // Without a focused post, c still goes to the composer.
    await page.goto(`${pod.base}/#/stream`);
    await page.locator('article.post').first().waitFor();
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('c');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'composer-body');
  });

  test('post view: comments oldest first with their rendered bodies; comment, like a comment, delete it', async () => {
    const posts = (await api(page, 'GET', '/api/v1/streams/main?per_page=60')).body;
    const p = posts.find((x) => x.interaction_counters.comments >= 2 && x.author.diaspora_id !== me && x.public);
    assert.ok(p, 'a post with comments');
    const apiComments = (await api(page, 'GET', `/api/v1/posts/${p.guid}/comments?html=1`)).body;
    await openPost(p.guid);
    const items = page.locator('.comments li.comment');
    await items.first().waitFor();
    assert.deepEqual(
      await items.evaluateAll((els) => els.map((e) => e.dataset.guid)),
      apiComments.map((c) => c.guid),
      'oldest first, as the API lists them',
    );
    const who = apiComments[0].author.name || apiComments[0].author.diaspora_id;
    await items.first().getByText(who, { exact: true }).waitFor();

    // Ctrl+Enter sends; Markdown comes back rendered; it shows at once.
    const box = page.getByLabel('Write a comment');
    await box.fill('A **bold** reply from the post view');
    await box.press('Control+Enter');
    const mine = items.filter({ hasText: 'reply from the post view' });
    await mine.locator('strong', { hasText: 'bold' }).waitFor();
    assert.equal(await box.inputValue(), '');
    const after = (await api(page, 'GET', `/api/v1/posts/${p.guid}/comments`)).body;
    const created = after.find((c) => c.body === 'A **bold** reply from the post view');
    assert.ok(created && created.author.diaspora_id === me);

    // Like someone's comment.
    const theirs = items.first();
    const cl = theirs.locator('[data-action=like-comment]');
    const n = Number(await cl.locator('.n').textContent());
    await cl.click();
    // A refresh fetched before the pod stored the like can show the old
    // count for a moment; the like's own event brings it back.
    await cl.locator('.n', { hasText: String(n + 1) }).waitFor({ timeout: 10_000 });
    await until(async () => {
      const cs = (await api(page, 'GET', `/api/v1/posts/${p.guid}/comments`)).body;
      return cs.find((c) => c.guid === apiComments[0].guid)?.interactions.liked;
    }, 'the comment like');

    // Who liked the post.
    const likes = (await api(page, 'GET', `/api/v1/posts/${p.guid}/likes`)).body;
    if (likes.length > 0) {
      await page.getByRole('button', { name: /^Liked by/ }).click();
      const l = likes[0].author;
      await page.locator('.people').getByText(l.name || l.diaspora_id, { exact: true }).waitFor();
      await page.getByRole('button', { name: /^Liked by/ }).click();
    }
    await page.evaluate(() => document.querySelector('main')?.scrollTo(0, 0));
    await shotBoth(page, 'post-view-comments');

    // Delete my comment, with a confirmation.
    await mine.getByRole('button', { name: 'Delete your comment' }).click();
    await mine.getByRole('button', { name: 'Delete', exact: true }).click();
    await mine.waitFor({ state: 'detached' });
    const left = (await api(page, 'GET', `/api/v1/posts/${p.guid}/comments`)).body;
    assert.ok(!left.some((c) => c.guid === created.guid));
  });

  test('post view: like and unlike the post; live: a comment made elsewhere appears', async () => {
    const p = (await stream()).find((x) => x.author.diaspora_id !== me && x.post_type === 'StatusMessage');
    await openPost(p.guid);
    const like = card(p.guid).locator('[data-action=like]');
    const was = (await like.getAttribute('aria-pressed')) === 'true';
    await like.click();
    await until(async () => (await getPost(p.guid)).own_interaction_state.liked !== was, 'the like');
    await like.click();
    await until(async () => (await getPost(p.guid)).own_interaction_state.liked === was, 'the unlike');

    const other = await ctx.newPage();
    await other.goto(`${pod.base}/#/stream`);
    const r = await api(other, 'POST', `/api/v1/posts/${p.guid}/comments`, { body: 'Written in another window' });
    assert.equal(r.status, 201);
    await other.close();
    await page.locator('.comments li.comment').filter({ hasText: 'Written in another window' }).waitFor();
  });

  test('reshare: a public post is reshared and listed; a limited one is refused plainly', async () => {
    const posts = (await api(page, 'GET', '/api/v1/streams/main?per_page=60')).body;
    const pub = posts.find((x) => x.public && x.author.diaspora_id !== me && x.post_type === 'StatusMessage' && !x.own_interaction_state.reshared);
    await openPost(pub.guid);
    await card(pub.guid).locator('[data-action=reshare]').click();
    await card(pub.guid).getByRole('status').filter({ hasText: 'Reshared' }).waitFor();
    await page.getByRole('button', { name: /^Reshared by/ }).click();
    await page.locator('.people').getByText(me, { exact: true }).waitFor();

    const limited = posts.find((x) => !x.public && x.author.diaspora_id !== me);
    assert.ok(limited, 'a limited post');
    await openPost(limited.guid);
    await card(limited.guid).locator('[data-action=reshare]').click();
    await card(limited.guid).getByRole('alert').filter({ hasText: 'Limited posts can’t be reshared' }).waitFor();
    const r = await api(page, 'POST', `/api/v1/posts/${limited.guid}/reshares`);
    assert.ok(r.status >= 400, 'the pod refuses it too');
    assert.equal((await getPost(limited.guid)).own_interaction_state.reshared, false);
  });

  test('poll: vote, then the results show', async () => {
    const r = await api(page, 'POST', '/api/v1/posts', {
      body: 'Lunch?',
      public: true,
      poll: { question: 'Where shall we eat?', poll_answers: ['Pizza', 'Noodles', 'Salad'] },
    });
    assert.equal(r.status, 200);
    await openPost(r.body.guid);
    await shotBoth(page, 'post-view-poll');
    await page.getByRole('button', { name: 'Vote for Noodles' }).click();
    await card(r.body.guid).getByText('Your vote is counted.').waitFor();
    const poll = (await getPost(r.body.guid)).poll;
    assert.equal(poll.already_participated, true);
    assert.equal(poll.poll_answers.find((a) => a.answer === 'Noodles').vote_count, 1);
    await card(r.body.guid).locator('.answer.own').filter({ hasText: 'Noodles' }).getByText('100%').waitFor();
    assert.equal(await page.getByRole('button', { name: /^Vote for/ }).count(), 0);
  });

  test('own post: edit with If-Match, a stale edit is refused, the history lists the versions', async () => {
    const r = await api(page, 'POST', '/api/v1/posts', { body: 'First draft of my thoughts', public: true });
    const g = r.body.guid;
    await openPost(g);
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const box = page.getByLabel('Post text');
    assert.equal(await box.inputValue(), 'First draft of my thoughts');
    await box.fill('Second draft of my better thoughts');
    await box.press('Control+Enter');
    await page.getByText('Saved. The earlier text stays in the edit history.').waitFor();
    await card(g).getByText('Second draft of my better thoughts').waitFor();
    await card(g).getByText('· edited').waitFor();
    assert.equal((await getPost(g)).body, 'Second draft of my better thoughts');

    // Someone (another window) edits in between: the UI's version is stale.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    const other = await api(page, 'PATCH', `/api/seedpod/v1/posts/${g}`, { body: 'Edited elsewhere meanwhile' });
    assert.equal(other.status, 200);
    await page.getByLabel('Post text').fill('My third draft');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').filter({ hasText: 'the post changed since you opened it' }).waitFor();
    assert.equal((await getPost(g)).body, 'Edited elsewhere meanwhile', 'the stale edit changed nothing');
    await page.getByRole('button', { name: 'Reload the post' }).click();
    await until(async () => (await page.getByLabel('Post text').inputValue()) === 'Edited elsewhere meanwhile', 'the reloaded text');
    await page.getByRole('alert').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: 'Edit history' }).click();
    const versions = page.locator('.versions li');
    await versions.nth(2).waitFor();
    assert.equal(await versions.count(), 3);
    await versions.nth(0).getByText('Current').waitFor();
    await versions.nth(2).getByText('Original').waitFor();
    await versions.nth(2).getByText('First draft of my thoughts').waitFor();
    await versions.nth(1).getByText('+2 words, −1 word').waitFor();
    const api3 = (await api(page, 'GET', `/api/seedpod/v1/posts/${g}/versions`)).body;
    assert.equal(api3.length, 3);
    await shotBoth(page, 'post-view-history');
  });

  test('own post: delivery says plainly that nothing leaves without a relay', async () => {
    const r = await api(page, 'POST', '/api/v1/posts', { body: 'Who gets this?', public: true });
    await openPost(r.body.guid);
    await page.getByRole('button', { name: 'Delivery' }).click();
    const d = (await api(page, 'GET', `/api/seedpod/v1/deliveries/${r.body.guid}`)).body;
    const summary = page.getByTestId('delivery-summary');
    await summary.waitFor();
    if (d.summary.total > 0) {
      await summary.filter({ hasText: 'without a relay nothing leaves' }).waitFor();
      assert.equal(await page.locator('.pods li').count(), d.pods.length);
      await page.locator('.pods li').first().getByText('Queued here').waitFor();
    } else {
      await summary.filter({ hasText: 'nothing to deliver' }).waitFor();
    }
    await shotBoth(page, 'post-view-delivery');
  });

  test('subscribe and mute, hide, report with a reason', async () => {
    const posts = (await api(page, 'GET', '/api/v1/streams/main?per_page=60')).body;
    const p = posts.find((x) => x.author.diaspora_id !== me && x.post_type === 'StatusMessage' && !x.own_interaction_state.reported);
    await openPost(p.guid);
    if (!(await getPost(p.guid)).own_interaction_state.subscribed) {
      await page.getByRole('button', { name: 'Subscribe' }).click();
      await page.getByText('Subscribed:').waitFor();
      assert.equal((await getPost(p.guid)).own_interaction_state.subscribed, true);
    }
    await page.getByRole('button', { name: 'Mute' }).click();
    await page.getByText('Muted: no more notifications').waitFor();
    assert.equal((await getPost(p.guid)).own_interaction_state.subscribed, false);
    await page.getByRole('button', { name: 'Subscribe' }).waitFor();

    await page.getByRole('button', { name: 'Hide' }).click();
    await page.getByText('Hidden: it no longer shows in your streams.').waitFor();
    await until(async () => {
      const s = (await api(page, 'GET', '/api/v1/streams/main?per_page=100')).body;
      return !s.some((x) => x.guid === p.guid);
    }, 'the post to leave the stream');
    await page.getByRole('button', { name: 'Unhide' }).click();
    await page.getByText('It shows in your streams again.').waitFor();

    await page.getByRole('button', { name: 'Report' }).click();
    assert.equal(await page.getByRole('button', { name: 'Send report' }).isDisabled(), true, 'a reason is needed');
    await page.getByLabel('Why? Your reason goes with the report.').fill('This is spam');
    await page.getByRole('button', { name: 'Send report' }).click();
    await page.getByText('Reported. The report stays on your pod').waitFor();
    assert.equal((await getPost(p.guid)).own_interaction_state.reported, true);
  });

  test('own post: delete asks first, then the post is gone', async () => {
    const r = await api(page, 'POST', '/api/v1/posts', { body: 'A post to delete', public: true });
    await openPost(r.body.guid);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('heading', { name: 'Delete this post?' }).waitFor();
    await page.getByRole('button', { name: 'Keep it' }).click();
    assert.equal((await api(page, 'GET', `/api/v1/posts/${r.body.guid}`)).status, 200);
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete post' }).click();
    await page.waitForURL('**/#/stream');
    assert.equal((await api(page, 'GET', `/api/v1/posts/${r.body.guid}`)).status, 404);
    await page.goto(`${pod.base}/#/post/${r.body.guid}`);
    await page.getByRole('heading', { name: 'Post not found' }).waitFor();
  });

  test('post view: more comments than a page: the rest load on request, each once, and a new one comes last', async () => {
    // The post view reads comments 50 a page (COMMENTS_PAGE in lib/post.ts).
    const PAGE = 50;
    const r = await api(page, 'POST', '/api/v1/posts', { body: 'A post with a long thread', public: true });
    assert.ok(r.body.guid, JSON.stringify(r.body));
    const guid = r.body.guid;
    for (let i = 1; i <= PAGE + 7; i++) {
      const c = await api(page, 'POST', `/api/v1/posts/${guid}/comments`, { body: `Comment number ${i}` });
      assert.equal(c.status, 201);
    }
    const all = (await api(page, 'GET', `/api/v1/posts/${guid}/comments?per_page=100`)).body;
    assert.equal(all.length, PAGE + 7);
    await openPost(guid);
    const items = page.locator('.comments li.comment');
    await items.nth(PAGE - 1).waitFor();
    assert.equal(await items.count(), PAGE, 'one page first');
    const more = page.getByRole('button', { name: 'Show 7 more comments' });
    await more.scrollIntoViewIfNeeded();
    await shotBoth(page, 'post-view-more-comments');
    await more.click();
    await items.nth(PAGE + 6).waitFor();
    await more.waitFor({ state: 'detached' });
    assert.deepEqual(
      await items.evaluateAll((els) => els.map((e) => e.dataset.guid)),
      all.map((c) => c.guid),
      'every comment once, oldest first',
    );
    assert.equal(await page.locator('#comments-title .muted').textContent(), String(PAGE + 7));

    // Opened again: a comment written before the rest are loaded brings them in first.
    await openPost(guid);
    await items.nth(PAGE - 1).waitFor();
    const box = page.getByLabel('Write a comment');
    await box.fill('The last word');
    await box.press('Control+Enter');
    await items.nth(PAGE + 7).waitFor();
    await until(async () => (await items.last().textContent()).includes('The last word'), 'my comment, last');
    const guids = await items.evaluateAll((els) => els.map((e) => e.dataset.guid));
    assert.equal(new Set(guids).size, guids.length, 'no comment twice');
    assert.equal(guids.length, PAGE + 8);
    assert.equal(await page.getByRole('button', { name: /more comments/ }).count(), 0);
  });

  test('stream: a post my word filter collapses says why, links to the filters, and opens on request', async () => {
    const posts = (await api(page, 'GET', '/api/v1/streams/main?per_page=15')).body;
    const word = (p) => (p.body.match(/\b[A-Za-z]{6,}\b/) ?? [])[0];
    const p = posts.find((x) => x.author.diaspora_id !== me && x.post_type === 'StatusMessage' && !x.seedpod?.content_warning && !x.nsfw && word(x));
    assert.ok(p, 'a remote post with a word to filter');
    const value = word(p).toLowerCase();
    const f = await api(page, 'POST', '/api/seedpod/v1/filters', { kind: 'word', value, action: 'collapse' });
    assert.equal(f.status, 201, JSON.stringify(f.body));
    try {
      const marked = (await api(page, 'GET', '/api/v1/streams/main?per_page=15')).body.find((x) => x.guid === p.guid);
      assert.equal(marked?.seedpod?.filtered?.action, 'collapse');
      await page.goto(`${pod.base}/#/stream`);
      await page.reload();
      const c = card(p.guid);
      await c.waitFor();
      await c.getByTestId('filtered-reason').filter({ hasText: `Collapsed by your filter: the word “${value}”` }).waitFor();
      assert.equal(await c.locator('.body').count(), 0, 'the text stays folded');
      assert.equal(await c.getByRole('link', { name: 'Filters' }).getAttribute('href'), '#/settings/filters');
      await c.scrollIntoViewIfNeeded();
      await shotBoth(page, 'post-card-filtered');
      await page.setViewportSize({ width: 360, height: 740 });
      await c.scrollIntoViewIfNeeded();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the stream scrolls sideways by ${overflow}px`);
      await page.screenshot({ path: shotPath('post-card-filtered-360.png') });
      await page.setViewportSize({ width: 1280, height: 800 });
      await c.scrollIntoViewIfNeeded();
      await c.getByRole('button', { name: /^Show anyway/ }).click();
      await c.locator('.body').waitFor();
      assert.equal(await c.getByTestId('filtered-reason').count(), 0);
    } finally {
      await api(page, 'DELETE', `/api/seedpod/v1/filters/${f.body.id}`);
    }
  });

  test('photos carry their alt text; one without is decoration (alt="")', async () => {
    const upload = (alt) =>
      page.evaluate(async (alt) => {
        const c = document.createElement('canvas');
        c.width = 120;
        c.height = 80;
        const g = c.getContext('2d');
        g.fillStyle = '#2f7d5b';
        g.fillRect(0, 0, 120, 80);
        const blob = await new Promise((res) => c.toBlob(res, 'image/png'));
        const f = new FormData();
        f.append('image', blob, 'green.png');
        f.append('pending', 'true');
        if (alt) f.append('alt', alt);
        const { csrf_token } = await (await fetch('/api/seedpod/v1/session')).json();
        const r = await fetch('/api/v1/photos', { method: 'POST', headers: { 'X-CSRF-Token': csrf_token ?? '' }, body: f });
        return { status: r.status, body: await r.json() };
      }, alt);
    const a = await upload('A green field at dusk');
    const b = await upload('');
    assert.ok(a.body.guid && b.body.guid, JSON.stringify([a, b]));
    const r = await api(page, 'POST', '/api/v1/posts', { body: 'Two photos', public: true, photos: [a.body.guid, b.body.guid] });
    assert.ok(r.body.guid, JSON.stringify(r.body));
    const got = await getPost(r.body.guid);
    await openPost(r.body.guid);
    const imgs = card(r.body.guid).locator('.photos img');
    await imgs.nth(1).waitFor();
    const alts = await imgs.evaluateAll((els) => els.map((e) => e.getAttribute('alt')));
    const want = got.seedpod?.photo_alt ?? ['', ''];
    assert.deepEqual(alts, want.map((x) => x ?? ''));
    assert.ok(alts.includes('A green field at dusk'), `the alt text reaches the img (${JSON.stringify(alts)})`);
    assert.ok(alts.includes(''));
  });

  test('a 360 px window', async () => {
    const p = (await stream()).find((x) => x.interaction_counters.comments > 0) ?? (await stream())[0];
    await page.setViewportSize({ width: 360, height: 740 });
    await openPost(p.guid);
    await page.locator('.comments').waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
    await shotBoth(page, 'post-view-narrow');
    await page.getByRole('link', { name: '← Back to the stream' }).click();
    await page.locator('article.post [data-action=like]').first().waitFor();
    const wide = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(wide <= 0, `the stream scrolls sideways by ${wide}px`);
    await shotBoth(page, 'post-card-narrow');
    await page.setViewportSize({ width: 1280, height: 800 });
    assert.deepEqual(problems, [], 'no script errors');
  });
});
