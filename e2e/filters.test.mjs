// Mute filters and notification settings end to end on a seeded `seedpod
// serve`: filters of each kind made through the settings screen (refused
// input first), their effect on seeded remote posts in the stream (hidden
// ones leave, collapsed ones fold), edit in place, expiry, delete; the
// notification switches saved at once and kept across a reload.
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

/** Polls fn until it returns something truthy. */
async function until(fn, what, ms = 8000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const host = (handle) => handle.slice(handle.lastIndexOf('@') + 1);
/** A locator's text with its white space folded. */
const text = async (loc) => (await loc.textContent()).replace(/\s+/g, ' ').trim();

describe('mute filters and notifications', () => {
  let pod;
  let ctx;
  let page;
  const problems = [];
  // Three seeded remote posts near the top of the main stream, by people on three different pods.
  let byPerson;
  let byPod;
  let tagged;
  let tag;

  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 40, contacts: 10 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && !/status of (409|422)/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => r.status() === 404 && problems.push(`404 ${r.url()}`));
    await page.goto(pod.login);
    await page.getByRole('feed', { name: 'Posts' }).locator('article.post').first().waitFor();

    const me = (await api(page, 'GET', '/api/seedpod/v1/identity')).body.handle;
    const posts = (await api(page, 'GET', '/api/v1/streams/main?per_page=10')).body;
    const remote = posts.filter((p) => p.post_type === 'StatusMessage' && p.author.diaspora_id !== me);
    tagged = remote.find((p) => /#\w/.test(p.body));
    assert.ok(tagged, 'a seeded remote post with a tag near the top of the stream');
    tag = /#([\w-]+)/.exec(tagged.body)[1];
    const pods = new Set([host(tagged.author.diaspora_id)]);
    byPerson = remote.find((p) => !pods.has(host(p.author.diaspora_id)) && !p.body.includes('#' + tag));
    assert.ok(byPerson, 'a post from someone on another pod');
    pods.add(host(byPerson.author.diaspora_id));
    byPod = remote.find((p) => !pods.has(host(p.author.diaspora_id)) && !p.body.includes('#' + tag));
    assert.ok(byPod, 'a post from someone on a third pod');
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
  const filters = async () => (await api(page, 'GET', '/api/seedpod/v1/filters')).body;
  const form = () => page.locator('form[aria-labelledby=add-filter-title]');
  const list = () => page.getByRole('list', { name: 'Your filters' });
  const row = (text) => list().locator('li').filter({ hasText: text });
  const card = (guid) => page.locator(`article.post[data-guid="${guid}"]`);
  /** A collapsed card: folded by a filter, its text out of sight until opened. */
  const collapsed = async (guid) => (await card(guid).getByTestId('filtered-reason').count()) > 0;
  const showStream = async () => {
    await page.evaluate(() => (location.hash = '#/stream'));
    await page.getByRole('feed', { name: 'Posts' }).locator('article.post').first().waitFor();
    await page.waitForTimeout(200);
  };
  const addFilter = async ({ kind, value, action, match, duration, search }) => {
    await form().getByLabel('What to filter').selectOption({ label: kind });
    await form().getByRole('textbox').fill(value);
    if (match) await form().getByRole('radio', { name: match }).check();
    await form().getByRole('radio', { name: action }).check();
    if (search) await form().getByRole('checkbox', { name: 'Search' }).check();
    if (duration) await form().getByLabel('How long').selectOption({ label: duration });
    await form().getByRole('button', { name: 'Add filter' }).click();
  };

  test('an empty list explains filters; refused input is explained and nothing is sent', async () => {
    await open('filters', 'Mute filters');
    const empty = page.getByTestId('filters-empty');
    await empty.waitFor();
    assert.match(await empty.textContent(), /To block or ignore someone entirely, use the buttons on their profile/);
    await shotBoth(page, 'settings-filters-empty');

    const refusals = [
      ['A person', 'bob', 'A diaspora* ID looks like bob@pod.example.'],
      ['A whole pod', 'bob@pod.example', 'Give only the pod’s address, without a name: pod.example.'],
      ['A tag', 'two tags', 'One tag at a time, without spaces.'],
      ['A word or phrase', 'x'.repeat(101), 'At most 100 characters: this is 101.'],
    ];
    for (const [kind, value, says] of refusals) {
      await form().getByLabel('What to filter').selectOption({ label: kind });
      await form().getByRole('textbox').fill(value);
      await form().getByRole('button', { name: 'Add filter' }).click();
      await form().getByText(says).waitFor();
      assert.equal(await form().getByRole('textbox').getAttribute('aria-invalid'), 'true');
      assert.equal(await form().getByRole('textbox').evaluate((el) => el === document.activeElement), true, 'focus goes to the field to fix');
    }
    // The placeholder follows the kind.
    await form().getByLabel('What to filter').selectOption({ label: 'A person' });
    assert.equal(await form().getByRole('textbox').getAttribute('placeholder'), 'bob@pod.example');
    // No contexts at all is refused too.
    await form().getByLabel('What to filter').selectOption({ label: 'A word or phrase' });
    await form().getByRole('textbox').fill('spoiler');
    for (const name of ['Streams', 'Notifications']) await form().getByRole('checkbox', { name }).uncheck();
    await form().getByRole('button', { name: 'Add filter' }).click();
    await form().getByText('Choose at least one place where the filter applies.').waitFor();
    for (const name of ['Streams', 'Notifications']) await form().getByRole('checkbox', { name }).check();
    assert.deepEqual(await filters(), [], 'nothing was created from refused forms');
    // The pod refuses the same input (the form mirrors it).
    const r = await api(page, 'POST', '/api/seedpod/v1/filters', { kind: 'person', value: 'bob' });
    assert.equal(r.status, 422);
  });

  test('a filter of each kind, made through the form', async () => {
    await open('filters', 'Mute filters');
    await addFilter({ kind: 'A word or phrase', value: 'spoiler', match: 'Whole word', action: 'Collapse' });
    await row('Collapse posts with the word “spoiler”').waitFor();
    await form().getByRole('status').filter({ hasText: 'Added: Collapse posts with the word “spoiler”.' }).waitFor();
    await addFilter({ kind: 'A tag', value: '#' + tag.toUpperCase(), action: 'Collapse', search: true });
    await row(`Collapse posts tagged #${tag}`).waitFor();
    const person = byPerson.author.diaspora_id;
    await addFilter({ kind: 'A person', value: person, action: 'Hide', duration: 'For 1 week' });
    await row(`Hide posts from ${person}`).waitFor();
    const podHost = host(byPod.author.diaspora_id);
    await addFilter({ kind: 'A whole pod', value: `https://${podHost}/`, action: 'Hide' });
    await row(`Hide posts from anyone on ${podHost}`).waitFor();

    const got = await filters();
    const by = (kind) => got.find((f) => f.kind === kind);
    assert.equal(got.length, 4);
    assert.deepEqual(
      { ...by('word'), id: 0, created_at: 0 },
      { id: 0, kind: 'word', value: 'spoiler', match: 'word', contexts: ['streams', 'notifications'], action: 'collapse', expires_at: null, created_at: 0, expired: false },
    );
    assert.equal(by('tag').value, tag);
    assert.deepEqual(by('tag').contexts, ['streams', 'notifications', 'search']);
    assert.equal(by('person').value, person);
    assert.equal(by('person').action, 'hide');
    const week = Date.parse(by('person').expires_at) - Date.now();
    assert.ok(week > 6.9 * 86_400_000 && week <= 7 * 86_400_000, `a week from now: ${by('person').expires_at}`);
    assert.equal(by('pod').value, podHost);
    assert.match(await text(row(`Hide posts from ${person}`)), /Ends in 7 d/);
    assert.match(await text(row(`#${tag}`)), /In streams, notifications and search · Forever · Added just now/);

    // The same word again, in another case: the pod says it exists.
    await addFilter({ kind: 'A word or phrase', value: 'Spoiler', match: 'Whole word', action: 'Hide' });
    await form().getByRole('alert').filter({ hasText: 'You already have a filter like this one: edit that one instead.' }).waitFor();
    await page.reload();
    await row('spoiler').waitFor();
    await shotBoth(page, 'settings-filters');
  });

  test('the stream: hidden posts leave, collapsed ones fold', async () => {
    await showStream();
    assert.equal(await card(byPerson.guid).count(), 0, 'the person’s post is hidden');
    assert.equal(await card(byPod.guid).count(), 0, 'the pod’s post is hidden');
    await card(tagged.guid).waitFor();
    assert.ok(await collapsed(tagged.guid), 'the tagged post is collapsed');
    assert.match(await card(tagged.guid).getByTestId('filtered-reason').textContent(), new RegExp(`#${tag}`));
    const fromApi = (await api(page, 'GET', `/api/v1/posts/${tagged.guid}`)).body;
    const inStream = (await api(page, 'GET', '/api/v1/streams/main?per_page=15')).body.find((p) => p.guid === tagged.guid);
    assert.equal(inStream?.seedpod?.filtered?.action, 'collapse', JSON.stringify(inStream?.seedpod ?? fromApi.seedpod));
    assert.deepEqual(inStream.seedpod.filtered.filters.map((f) => [f.kind, f.value]), [['tag', tag]]);
    await card(tagged.guid).scrollIntoViewIfNeeded();
    await shotBoth(page, 'filters-stream-collapsed');
  });

  test('edit in place: the person filter collapses instead of hiding', async () => {
    await open('filters', 'Mute filters');
    const person = byPerson.author.diaspora_id;
    // Escape leaves an edit without saving, back on its Edit button.
    const word = 'Collapse posts with the word “spoiler”';
    await row(word).getByRole('button', { name: `Edit: ${word}` }).click();
    await page.getByRole('form', { name: `Edit filter: ${word}` }).getByRole('textbox').fill('changed');
    await page.keyboard.press('Escape');
    await row(word).getByRole('button', { name: `Edit: ${word}` }).waitFor();
    assert.equal(await row(word).getByRole('button', { name: `Edit: ${word}` }).evaluate((el) => el === document.activeElement), true);
    assert.equal((await filters()).find((x) => x.kind === 'word').value, 'spoiler');

    await row(`Hide posts from ${person}`).getByRole('button', { name: `Edit: Hide posts from ${person}` }).click();
    const edit = page.getByRole('form', { name: `Edit filter: Hide posts from ${person}` });
    await edit.waitFor();
    assert.equal(await edit.getByRole('textbox').inputValue(), person);
    assert.equal(await edit.getByRole('textbox').evaluate((el) => el === document.activeElement), true);
    await edit.getByRole('radio', { name: /^Collapse/ }).check();
    await edit.getByLabel('How long').selectOption({ label: 'Forever' });
    await shotBoth(page, 'settings-filters-edit');
    await edit.getByRole('button', { name: 'Save' }).click();
    await row(`Collapse posts from ${person}`).waitFor();
    const f = (await filters()).find((x) => x.kind === 'person');
    assert.equal(f.action, 'collapse');
    assert.equal(f.expires_at, null);
    assert.equal(
      await row(`Collapse posts from ${person}`).getByRole('button', { name: /^Edit/ }).evaluate((el) => el === document.activeElement),
      true,
      'focus returns to the row',
    );
    await showStream();
    await card(byPerson.guid).waitFor();
    assert.ok(await collapsed(byPerson.guid), 'the person’s post is back, collapsed');
  });

  test('expiry: a filter that ends greys out and stops acting', async () => {
    await open('filters', 'Mute filters');
    const f = (await filters()).find((x) => x.kind === 'tag');
    // Another device shortens it to a few seconds: the live event brings it here.
    const r = await api(page, 'PATCH', `/api/seedpod/v1/filters/${f.id}`, { expires_at: new Date(Date.now() + 4000).toISOString() });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await row(`#${tag}`).getByText(/Ends in (less than a minute|\d+ min)/).waitFor();
    await row(`#${tag}`).getByTestId('expired').waitFor({ timeout: 10_000 });
    assert.match(await text(row(`#${tag}`)), /Ended just now/);
    assert.ok(await row(`#${tag}`).evaluate((el) => el.classList.contains('expired')));
    assert.equal(await list().locator('li').last().evaluate((el, t) => el.textContent.includes('#' + t), tag), true, 'expired filters go last');
    assert.equal((await filters()).find((x) => x.kind === 'tag').expired, true);
    await shotBoth(page, 'settings-filters-expired');
    await showStream();
    await card(tagged.guid).waitFor();
    assert.equal(await collapsed(tagged.guid), false, 'the tagged post is open again');
  });

  test('delete, after a confirmation: the posts come back', async () => {
    await open('filters', 'Mute filters');
    const podHost = host(byPod.author.diaspora_id);
    const person = byPerson.author.diaspora_id;
    for (const what of [`Hide posts from anyone on ${podHost}`, `Collapse posts from ${person}`]) {
      await row(what).getByRole('button', { name: `Delete: ${what}` }).click();
      const confirm = row(what).getByRole('alertdialog');
      await confirm.waitFor();
      if (what.startsWith('Hide')) {
        await confirm.getByRole('button', { name: 'Keep it' }).click();
        assert.equal(await row(what).count(), 1, 'kept');
        await row(what).getByRole('button', { name: `Delete: ${what}` }).click();
      }
      await row(what).getByRole('button', { name: 'Delete filter' }).click();
      await page.getByRole('status').filter({ hasText: `Deleted: ${what}.` }).waitFor();
      assert.equal(await row(what).count(), 0);
    }
    assert.deepEqual((await filters()).map((f) => f.kind).sort(), ['tag', 'word']);
    // One made elsewhere shows up here at once.
    await api(page, 'POST', '/api/seedpod/v1/filters', { kind: 'word', value: 'rutabaga', match: 'substring' });
    await row('Collapse posts containing “rutabaga”').waitFor();
    await showStream();
    await card(byPerson.guid).waitFor();
    await card(byPod.guid).waitFor();
    assert.equal(await collapsed(byPerson.guid), false);
    assert.equal(await collapsed(byPod.guid), false);
  });

  test('notifications: each switch is saved at once and kept across a reload', async () => {
    await open('notifications', 'Notifications');
    const section = page.locator('section[aria-labelledby=notif-title]');
    const before = (await api(page, 'GET', '/api/seedpod/v1/settings')).body;
    assert.equal(before.os_service, 'not_in_window', 'a browser tab is not the desktop window');
    const os = section.getByRole('checkbox', { name: /Show notifications on the desktop/ });
    assert.equal(await os.isDisabled(), true);
    await section.getByText(/^Shown by the desktop app; in a browser tab/).waitFor();
    assert.deepEqual(before.notifications.types.includes('liked'), true);

    for (const name of ['Someone likes your post', 'A contact has a birthday']) {
      await section.getByRole('checkbox', { name }).uncheck();
      await section.getByTestId('notif-status').filter({ hasText: 'Saved' }).waitFor();
    }
    await section.getByRole('checkbox', { name: 'You get a private message' }).uncheck();
    await section.getByRole('checkbox', { name: 'You get a private message' }).check();
    await until(async () => {
      const t = (await api(page, 'GET', '/api/seedpod/v1/settings')).body.notifications.types;
      return !t.includes('liked') && !t.includes('contacts_birthday') && t.includes('conversation');
    }, 'the types to be saved');
    await shotBoth(page, 'settings-notifications');

    await page.reload();
    await page.getByRole('heading', { name: 'Notifications', exact: true }).waitFor();
    assert.equal(await section.getByRole('checkbox', { name: 'Someone likes your post' }).isChecked(), false);
    assert.equal(await section.getByRole('checkbox', { name: 'A contact has a birthday' }).isChecked(), false);
    assert.equal(await section.getByRole('checkbox', { name: 'Someone comments on your post' }).isChecked(), true);
    assert.equal(await section.getByRole('checkbox', { name: 'You get a private message' }).isChecked(), true);
    const after = (await api(page, 'GET', '/api/seedpod/v1/settings')).body;
    assert.deepEqual(after.notifications.types, before.notifications.types.filter((t) => t !== 'liked' && t !== 'contacts_birthday'));
  });

  test('at 360 px both sections fit', async () => {
    await page.setViewportSize({ width: 360, height: 780 });
    for (const [section, heading, name] of [
      ['filters', 'Mute filters', 'settings-filters-360.png'],
      ['notifications', 'Notifications', 'settings-notifications-360.png'],
    ]) {
      await open(section, heading);
      await page.waitForTimeout(150);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `${section}: nothing wider than the window (${overflow}px over)`);
      await page.screenshot({ path: shotPath(name) });
    }
    await open('filters', 'Mute filters');
    await page.getByRole('heading', { name: 'Add a filter' }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: shotPath('settings-filters-form-360.png') });
    await page.setViewportSize({ width: 1280, height: 860 });
  });

  test('no errors in the console', () => {
    assert.deepEqual(problems, []);
  });
});
