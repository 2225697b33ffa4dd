// Conversations, end to end: a seeded `seedpod serve` (mutual contacts and
// people who do not share back), Debian's Chromium, the real API. New
// conversation (mutual contacts only) → thread → reply (Ctrl+Enter, queued
// without a relay) → live list → unread marked and read on opening → hide.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { api, launchBrowser, shotBoth, shotPath, startServe } from './harness.mjs';

/** Polls fn until it returns something truthy. */
async function until(fn, what, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('conversations', () => {
  let pod;
  let ctx;
  let page;
  const problems = [];
  let mutual = [];
  let oneWay;
  let convGuid;
  const items = () => page.getByRole('list', { name: 'Conversations' }).getByRole('listitem');

  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 40, contacts: 25 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pod.login);
    await page.locator('.identity').waitFor();
    const contacts = (await api(page, 'GET', '/api/seedpod/v1/contacts?per_page=100')).body;
    const unique = (c) => contacts.filter((x) => x.person.name === c.person.name).length === 1;
    mutual = contacts.filter((c) => unique(c) && c.relationship.sharing && c.relationship.receiving);
    oneWay = contacts.find((c) => unique(c) && c.relationship.receiving && !c.relationship.sharing);
    assert.ok(mutual.length >= 2 && oneWay);
  });
  after(async () => {
    await ctx?.close();
    const { code } = await pod.stop();
    assert.equal(code, 0);
    assert.deepEqual(problems, []);
  });

  test('an empty list says how to start', async () => {
    await page.goto(pod.base + '/#/conversations');
    await page.getByText('No conversations yet.').waitFor();
    await page.getByText('No relay is set up yet').waitFor();
  });

  test('the pod refuses someone who is not a mutual contact, and the form explains it', async () => {
    const r = await api(page, 'POST', '/api/v1/conversations', { subject: 'Hi', body: 'Hello', recipients: [oneWay.person.guid] });
    assert.equal(r.status, 422);
    assert.match(r.body.message, /only mutual contacts/);
    await page.goto(pod.base + `/#/conversations/new/${oneWay.person.guid}`);
    await page.getByRole('alert').filter({ hasText: `${oneWay.person.name} is not a mutual contact` }).waitFor();
    // They are not offered either.
    await page.getByRole('combobox', { name: 'To' }).fill(oneWay.person.name.split(' ')[0]);
    const options = page.getByRole('listbox', { name: 'Mutual contacts' }).getByRole('option');
    await page.waitForTimeout(100);
    for (const t of await options.allTextContents()) assert.ok(!t.includes(oneWay.person.diaspora_id));
  });

  test('a new conversation with two mutual contacts: picked by keyboard, checked, sent, then open', async () => {
    await page.getByRole('button', { name: 'New conversation' }).click();
    await page.getByRole('heading', { name: 'New conversation' }).waitFor();
    const [a, b] = mutual;
    const to = page.getByRole('combobox', { name: 'To' });
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('alert').filter({ hasText: 'Choose at least one person to write to.' }).waitFor();

    await to.fill(a.person.diaspora_id);
    await page.getByRole('option', { name: new RegExp(a.person.name) }).waitFor();
    await to.press('Enter');
    await page.locator('.chip').filter({ hasText: a.person.name }).waitFor();
    await to.fill(b.person.diaspora_id);
    await page.getByRole('option', { name: new RegExp(b.person.name) }).click();
    await page.locator('.chip').filter({ hasText: b.person.name }).waitFor();
    await page.getByLabel('Subject').fill('Picnic on Saturday');
    await page.getByLabel('Message').fill('Shall we meet at **noon** by the river?');
    await shotBoth(page, 'conversations-new');
    await page.getByLabel('Message').press('Control+Enter');

    await page.getByRole('heading', { name: 'Picnic on Saturday' }).waitFor();
    convGuid = new URL(page.url()).hash.split('/')[2];
    assert.ok(convGuid);
    const c = (await api(page, 'GET', `/api/v1/conversations/${convGuid}`)).body;
    assert.deepEqual(new Set(c.participants.map((p) => p.guid)), new Set([a.person.guid, b.person.guid, c.participants.find((p) => p.diaspora_id.startsWith('seed@')).guid]));
    const log = page.getByRole('log', { name: 'Messages' });
    await log.locator('strong', { hasText: 'noon' }).waitFor();
    await page.getByText(`With ${a.person.name} and ${b.person.name}`).or(page.getByText(`With ${b.person.name} and ${a.person.name}`)).waitFor();
    await items().filter({ hasText: 'Picnic on Saturday' }).waitFor();
  });

  test('a reply: Ctrl+Enter sends, it shows at once, and it is queued without a relay', async () => {
    const box = page.getByLabel('Reply');
    await box.fill('Or one o’clock, if that suits better.');
    await box.press('Control+Enter');
    const log = page.getByRole('log', { name: 'Messages' });
    await log.getByText('Or one o’clock, if that suits better.').waitFor();
    assert.equal(await box.inputValue(), '');
    await page.getByText('No relay is set up yet, so it goes out once you connect one').waitFor();
    const msgs = (await api(page, 'GET', `/api/v1/conversations/${convGuid}/messages`)).body;
    assert.deepEqual(
      msgs.map((m) => m.body),
      ['Shall we meet at **noon** by the river?', 'Or one o’clock, if that suits better.'],
    );
    // Both of mine in a row are one group under "You".
    assert.equal(await log.locator('.group').count(), 1);
    assert.equal(await log.locator('.bubble').count(), 2);
    const outbox = (await api(page, 'GET', '/api/seedpod/v1/outbox')).body;
    assert.ok(outbox.some((e) => e.guid === msgs[1].guid && e.state === 'queued'));
    await shotBoth(page, 'conversations-thread');
  });

  test('live: a conversation started elsewhere shows up; an unread one is marked and read when opened', async () => {
    const [, , c] = mutual;
    const r = await api(page, 'POST', '/api/v1/conversations', { subject: 'Book swap', body: 'Bring two books.', recipients: [c.person.guid] });
    assert.equal(r.status, 201);
    await items().filter({ hasText: 'Book swap' }).waitFor();
    // Marked unread (as a received message would leave it): the list shows it and the count rises.
    await api(page, 'PATCH', `/api/v1/conversations/${r.body.guid}`, { read: false });
    await page.reload();
    const item = items().filter({ hasText: 'Book swap' });
    await item.getByLabel('Unread').waitFor();
    assert.equal((await api(page, 'GET', '/api/seedpod/v1/counts')).body.conversations_unread, 1);
    await shotBoth(page, 'conversations-list');
    await item.getByRole('link').click();
    await page.getByRole('heading', { name: 'Book swap' }).waitFor();
    await item.getByLabel('Unread').waitFor({ state: 'detached' });
    assert.equal((await api(page, 'GET', `/api/v1/conversations/${r.body.guid}`)).body.read, true);
    assert.equal((await api(page, 'GET', '/api/seedpod/v1/counts')).body.conversations_unread, 0);
  });

  test('hide asks first, then the conversation leaves the list', async () => {
    await page.getByRole('button', { name: 'Hide', exact: true }).click();
    await page.getByRole('alertdialog').getByText('Hide this conversation?').waitFor();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Hide conversation' }).click();
    await page.waitForURL(/#\/conversations$/);
    await items().filter({ hasText: 'Book swap' }).waitFor({ state: 'detached' });
    const list = (await api(page, 'GET', '/api/v1/conversations')).body;
    assert.deepEqual(
      list.map((c) => c.subject),
      ['Picnic on Saturday'],
    );
  });

  test('more conversations than a page: scrolling the list loads the rest, each once', async () => {
    // The list reads 30 a page (CONVERSATIONS_PAGE in lib/conversations.ts).
    const PAGE = 30;
    const [a] = mutual;
    for (let i = 1; i <= 2 * PAGE + 4; i++) {
      const r = await api(page, 'POST', '/api/v1/conversations', { subject: `Thread ${i}`, body: `Message ${i}`, recipients: [a.person.guid] });
      assert.equal(r.status, 201);
    }
    // everything the pod lists, following its Link pages
    const want = [];
    for (let path = '/api/v1/conversations?per_page=100'; path; ) {
      const r = await page.evaluate(async (p) => {
        const res = await fetch(p, { headers: { Accept: 'application/json' } });
        return { body: await res.json(), link: res.headers.get('Link') ?? '' };
      }, path);
      want.push(...r.body.map((c) => c.guid));
      path = r.body.length ? (/<([^>]*)>;\s*rel="next"/.exec(r.link)?.[1] ?? '') : '';
    }
    assert.equal(want.length, 2 * PAGE + 5);
    await page.goto(pod.base + '/#/conversations');
    await page.reload();
    const list = page.getByRole('list', { name: 'Conversations' });
    await items().nth(PAGE - 1).waitFor();
    const guids = async () => list.locator('a.item').evaluateAll((els) => els.map((e) => decodeURIComponent(e.getAttribute('href').split('/').pop())));
    assert.equal((await guids()).length, PAGE, 'one page first');
    // a window taller than two pages: they load one after the other without scrolling
    await page.setViewportSize({ width: 1280, height: 4200 });
    await until(async () => (await guids()).length === want.length, 'every page in a tall window');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.reload();
    await items().nth(PAGE - 1).waitFor();
    assert.equal((await guids()).length, PAGE, 'one page again');
    for (let i = 0; i < 10 && (await guids()).length < want.length; i++) {
      await list.evaluate((el) => el.scrollTo(0, el.scrollHeight));
      await page.waitForTimeout(300);
    }
    const got = await guids();
    assert.equal(new Set(got).size, got.length, 'no conversation twice');
    assert.deepEqual(got, want, 'all of them, latest activity first');
    await page.getByRole('button', { name: /older conversations/ }).waitFor({ state: 'detached' });
    await list.evaluate((el) => el.scrollTo(0, el.scrollHeight));
    await shotBoth(page, 'conversations-list-end');
  });

  test('a 360 px window shows the list, then the thread alone with a way back', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await items().filter({ hasText: 'Picnic on Saturday' }).getByRole('link').click();
    await page.getByRole('heading', { name: 'Picnic on Saturday' }).waitFor();
    assert.equal(await page.getByRole('list', { name: 'Conversations' }).isVisible(), false);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
    await page.screenshot({ path: shotPath('conversations-360.png') });
    await page.getByRole('button', { name: 'Back to the conversations' }).click();
    await page.getByRole('list', { name: 'Conversations' }).waitFor();
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
