// Contacts, aspects and profiles, end to end: a seeded `seedpod serve`
// (remote people in aspects, most sharing back), Debian's Chromium, the
// real API. List and filters → aspects → aspect menu (sharing) → people
// discovery → profile, posts, photos, block and ignore.
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

describe('contacts, aspects and profiles', () => {
  let pod;
  let ctx;
  let page;
  const problems = [];
  let contacts = [];
  const rows = () => page.getByRole('list', { name: 'Contacts' }).getByRole('listitem');
  const menuOf = (name) => page.getByRole('button', { name: new RegExp(`^Aspects of ${name}:`) });

  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 40, contacts: 25 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pod.login);
    await page.locator('.identity').waitFor();
    contacts = (await api(page, 'GET', '/api/seedpod/v1/contacts?per_page=100')).body;
    assert.equal(contacts.length, 25);
  });
  after(async () => {
    await ctx?.close();
    const { code } = await pod.stop();
    assert.equal(code, 0);
    assert.deepEqual(problems, []);
  });

  test('the list shows every contact with relationship and aspects, and filters by relationship and text', async () => {
    await page.goto(pod.base + '/#/contacts');
    await rows().first().waitFor();
    assert.equal(await rows().count(), 25);
    const first = contacts[0];
    const row = rows().filter({ hasText: first.person.diaspora_id });
    await row.getByText('Mutual', { exact: true }).or(row.getByText('You share with them')).first().waitFor();
    assert.match(await menuOf(first.person.name).getAttribute('aria-label'), new RegExp(first.aspects[0].name));
    await shotBoth(page, 'contacts-list');

    const sharing = (await api(page, 'GET', '/api/seedpod/v1/contacts?relationship=sharing&per_page=100')).body;
    await page.getByRole('radio', { name: 'Share with you' }).click();
    await page.waitForFunction((n) => document.querySelectorAll('ul[aria-label="Contacts"] > li').length === n, sharing.length);
    assert.equal(new URL(page.url()).hash, '#/contacts/sharing');
    const notSharing = contacts.find((c) => !c.relationship.sharing);
    assert.ok(notSharing, 'the seed has someone who does not share back');
    assert.equal(await rows().filter({ hasText: notSharing.person.diaspora_id }).count(), 0);

    await page.getByRole('radio', { name: 'All' }).click();
    await page.waitForFunction(() => document.querySelectorAll('ul[aria-label="Contacts"] > li').length === 25);
    await page.getByLabel('Filter contacts by name or ID').fill(first.person.diaspora_id.split('@')[0]);
    await page.waitForFunction(() => document.querySelectorAll('ul[aria-label="Contacts"] > li').length === 1);
    await page.getByLabel('Filter contacts by name or ID').fill('zzz-nobody');
    await page.getByText('Nobody here matches “zzz-nobody”.').waitFor();
    await page.getByLabel('Filter contacts by name or ID').fill('');
  });

  test('aspects: create, rename, reorder, filter by one, delete after confirming', async () => {
    await page.getByLabel('New aspect name').fill('Book club');
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('button', { name: 'Book club' }).waitFor();
    let aspects = (await api(page, 'GET', '/api/v1/aspects')).body;
    const club = aspects.find((a) => a.name === 'Book club');
    assert.ok(club);
    assert.equal(club.order, 4);

    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await page.getByRole('button', { name: 'Rename Book club' }).click();
    await page.getByLabel('New name for Book club').fill('Readers');
    await page.getByLabel('New name for Book club').press('Enter');
    await page.getByRole('button', { name: 'Move Readers up' }).click();
    await page.waitForFunction(async (id) => {
      const r = await fetch('/api/v1/aspects');
      return (await r.json()).find((a) => a.id === id)?.order === 3;
    }, club.id);
    aspects = (await api(page, 'GET', '/api/v1/aspects')).body;
    assert.deepEqual(
      aspects.map((a) => a.name),
      ['Family', 'Friends', 'Work', 'Readers', 'Acquaintances'],
    );
    await page.getByRole('button', { name: 'Done', exact: true }).click();

    // Filter by an aspect: the route keeps it, the list is its members.
    const family = (await api(page, 'GET', '/api/v1/aspects/1/contacts?per_page=100')).body;
    await page.getByRole('button', { name: 'Family', exact: true }).click();
    assert.equal(new URL(page.url()).hash, '#/contacts/aspect/1');
    await page.getByRole('heading', { name: 'Family' }).waitFor();
    await page.waitForFunction((n) => document.querySelectorAll('ul[aria-label="Contacts"] > li').length === n, family.length);
    await page.getByRole('button', { name: 'All contacts' }).click();
    await page.waitForFunction(() => document.querySelectorAll('ul[aria-label="Contacts"] > li').length === 25);
  });

  test('the aspect menu adds a person to several aspects at once and stops sharing when emptied', async () => {
    const unique = (c) => contacts.filter((x) => x.person.name === c.person.name).length === 1;
    const p = contacts.find((c) => unique(c) && c.relationship.sharing && c.aspects.length === 1);
    const name = p.person.name;
    await menuOf(name).click();
    const menu = page.getByRole('group', { name: `Aspects for ${name}` });
    // Keyboard: the menu takes the focus on its first aspect.
    await page.waitForFunction(() => document.activeElement?.matches('.menu input[type=checkbox]'));
    await menu.getByRole('checkbox', { name: 'Readers' }).check();
    await menu.getByRole('checkbox', { name: 'Work' }).check();
    await page.waitForFunction(
      async ([g, n]) => (await (await fetch('/api/v1/users/' + g)).json()).aspects.length === n,
      [p.person.guid, p.aspects.some((a) => a.name === 'Work') ? 2 : 3],
    );
    await menu.getByText(`You share with ${name}.`).waitFor();
    await shotBoth(page, 'contacts-aspect-menu');

    await menu.getByRole('button', { name: 'Stop sharing' }).click();
    await page.waitForFunction(async (g) => {
      const u = await (await fetch('/api/v1/users/' + g)).json();
      return u.aspects.length === 0 && u.relationship.receiving === false;
    }, p.person.guid);
    await menu.getByText(`Ticking an aspect starts sharing with ${name}.`).waitFor();
    const row = rows().filter({ hasText: p.person.diaspora_id });
    await row.getByText('Shares with you').waitFor();
    await menu.getByRole('checkbox', { name: 'Friends' }).check();
    await row.getByText('Mutual', { exact: true }).waitFor();
    await page.keyboard.press('Escape');
    await menu.waitFor({ state: 'detached' });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-haspopup')), 'true', 'focus back on the menu button');
    const u = (await api(page, 'GET', '/api/v1/users/' + p.person.guid)).body;
    assert.deepEqual(
      u.aspects.map((a) => a.name),
      ['Friends'],
    );
    assert.equal(u.relationship.receiving, true);

    // Deleting an aspect asks first; whoever was only in it stops receiving.
    await page.getByRole('button', { name: 'Edit', exact: true }).click();
    await page.getByRole('button', { name: 'Delete Readers' }).click();
    const confirm = page.getByRole('alertdialog');
    await confirm.getByText('Delete “Readers”?').waitFor();
    await confirm.getByRole('button', { name: 'Keep it' }).click();
    assert.ok((await api(page, 'GET', '/api/v1/aspects')).body.some((a) => a.name === 'Readers'));
    await page.getByRole('button', { name: 'Delete Readers' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Delete aspect' }).click();
    await page.getByRole('button', { name: 'Readers', exact: true }).waitFor({ state: 'detached' });
    assert.ok(!(await api(page, 'GET', '/api/v1/aspects')).body.some((a) => a.name === 'Readers'));
    await page.getByRole('button', { name: 'Done', exact: true }).click();
  });

  test('find someone by diaspora* ID: malformed, unreachable, and a person the pod knows', async () => {
    const box = page.getByLabel('diaspora* ID');
    await box.fill('no-at-sign');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('alert').filter({ hasText: 'A diaspora* ID looks like name@pod.example.' }).waitFor();

    await box.fill('a@-x');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('alert').filter({ hasText: 'a@-x is not a diaspora* ID the pod can use' }).waitFor();

    await box.fill('nobody@127.0.0.1:1');
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.getByRole('alert').filter({ hasText: 'The pod of nobody@127.0.0.1:1 could not be reached.' }).waitFor();
    const r = await api(page, 'POST', '/api/seedpod/v1/people/discover', { diaspora_id: 'nobody@127.0.0.1:1' });
    assert.equal(r.status, 502);

    const known = contacts[3];
    await box.fill(known.person.diaspora_id);
    await page.getByRole('button', { name: 'Look up' }).click();
    const found = page.locator('.find .result');
    await found.getByText(known.person.name).waitFor();
    assert.match(await found.getByRole('button').getAttribute('aria-label'), new RegExp(known.aspects.map((a) => a.name).join(', ')));
    await shotBoth(page, 'contacts-find');
  });

  test('a profile: details, relationship, posts newest first, photos, and the way back from the list', async () => {
    const stream = (await api(page, 'GET', '/api/v1/streams/main?per_page=50')).body;
    const author = stream.find((p) => contacts.some((c) => c.person.guid === p.author.guid && c.relationship.sharing && c.relationship.receiving)).author;
    const theirs = (await api(page, 'GET', `/api/v1/users/${author.guid}/posts`)).body;
    assert.ok(theirs.length > 0);
    await page.getByLabel('Filter contacts by name or ID').fill(author.diaspora_id);
    await rows().first().getByRole('link', { name: new RegExp(author.name) }).click();
    assert.equal(new URL(page.url()).hash, '#/people/' + author.guid);
    await page.getByRole('heading', { level: 1, name: author.name }).waitFor();
    assert.equal(await page.locator('header.head .handle').textContent(), author.diaspora_id);
    await page.getByText('Mutual', { exact: true }).waitFor();
    const feed = page.getByRole('feed', { name: `Posts by ${author.name}` });
    await feed.locator('article').first().waitFor();
    assert.equal(await feed.locator('article').count(), theirs.length);
    assert.equal(await feed.locator('article').first().getAttribute('data-guid'), theirs[0].guid);
    await shotBoth(page, 'profile');

    await page.getByRole('tab', { name: 'Photos' }).click();
    await page.getByText(`No photos from ${author.name} that you can see.`).waitFor();
    await page.getByRole('tab', { name: 'Posts' }).click();
    await feed.locator('article').first().waitFor();

    // Start a conversation goes to the new-conversation form with them in it.
    await page.getByRole('button', { name: 'Start a conversation' }).click();
    assert.equal(new URL(page.url()).hash, `#/conversations/new/${author.guid}`);
    await page.locator('.chip').filter({ hasText: author.name }).waitFor();
    await page.goBack();
    await page.getByRole('heading', { level: 1, name: author.name }).waitFor();
  });

  test('block asks first, hides their posts and takes them out of every aspect; unblock; ignore', async () => {
    const guid = new URL(page.url()).hash.split('/')[2];
    const u0 = (await api(page, 'GET', '/api/v1/users/' + guid)).body;
    const name = u0.name;
    await page.getByRole('button', { name: 'Block…' }).click();
    await page.getByRole('alertdialog').getByText(`Block ${name}?`).waitFor();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await api(page, 'GET', '/api/v1/users/' + guid)).body.blocked, false);
    await page.getByRole('button', { name: 'Block…' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: `Block ${name}` }).click();
    await page.getByText(`${name} is blocked`).waitFor();
    await page.getByText('Blocked', { exact: true }).waitFor();
    const u1 = (await api(page, 'GET', '/api/v1/users/' + guid)).body;
    assert.equal(u1.blocked, true);
    assert.deepEqual(u1.aspects, []);
    await page.getByText(`You block ${name}: their posts are hidden.`).waitFor();
    await shotBoth(page, 'profile-blocked');
    await page.getByRole('button', { name: 'Unblock' }).click();
    await page.getByText(`${name} is unblocked.`).waitFor();
    assert.equal((await api(page, 'GET', '/api/v1/users/' + guid)).body.blocked, false);

    await page.getByRole('button', { name: 'Ignore', exact: true }).click();
    await page.getByText(`Ignoring ${name}`).waitFor();
    // Ignored now: a second ignore is a conflict on the pod, and the profile
    // says so after a reload.
    assert.equal((await api(page, 'POST', `/api/seedpod/v1/people/${guid}/ignore`)).status, 409);
    assert.equal((await api(page, 'GET', '/api/v1/users/' + guid)).body.ignored, true);
    await page.reload();
    await page.getByText('Ignored', { exact: true }).waitFor();
    await page.getByRole('button', { name: 'Stop ignoring' }).click();
    await page.getByText(`${name}'s posts show in your stream again.`).waitFor();
    assert.equal((await api(page, 'POST', `/api/seedpod/v1/people/${guid}/ignore`)).status, 204);
    await api(page, 'DELETE', `/api/seedpod/v1/people/${guid}/ignore`);
  });

  test('an unknown person, and the own profile without actions', async () => {
    await page.goto(pod.base + '/#/people/ffffffffffffffffffffffffffffffff');
    await page.getByRole('heading', { name: 'Nobody here' }).waitFor();
    const me = (await api(page, 'GET', '/api/seedpod/v1/identity')).body;
    await page.goto(pod.base + '/#/people/' + me.guid);
    await page.getByText('This is you').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Block…' }).count(), 0);
  });

  test('a 360 px window: the contacts and a profile stack', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    await page.goto(pod.base + '/#/contacts');
    await rows().first().waitFor();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.ok(overflow <= 0, `no sideways scrolling (${overflow}px)`);
    await page.screenshot({ path: shotPath('contacts-360.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
  });
});
