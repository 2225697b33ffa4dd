// The composer end to end: a seeded `seedpod serve`, Debian's Chromium and
// the real API. Preview (the pod's renderer) against the posted html,
// photos by button and by drop, a poll, a location, a content warning and
// NSFW, @mention and #tag autocomplete by keyboard, and a draft keeping
// the extras.
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

describe('composer', () => {
  let pod;
  let ctx;
  let page;
  let contact;
  const problems = [];
  const box = () => page.locator('#composer-body');
  const form = () => page.getByRole('form', { name: 'New post' });
  const getPost = async (guid) => (await api(page, 'GET', `/api/v1/posts/${guid}`)).body;
  const card = (guid) => page.locator(`article.post[data-guid="${guid}"]`);

  /** Clicks Post and returns the created post as the API answered. */
  async function post() {
    const resp = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/posts' && r.request().method() === 'POST');
    await form().getByRole('button', { name: 'Post', exact: true }).click();
    const r = await resp;
    assert.equal(r.status(), 200, await r.text());
    const p = await r.json();
    await card(p.guid).first().waitFor();
    assert.equal(await box().inputValue(), '', 'the composer is emptied');
    return p;
  }

  /** A PNG made by a canvas in the page. */
  async function png(color, w = 320, h = 200) {
    const b64 = await page.evaluate(
      ({ color, w, h }) => {
        const c = document.createElement('canvas');
        c.width = w;
        c.height = h;
        const g = c.getContext('2d');
        g.fillStyle = color;
        g.fillRect(0, 0, w, h);
        g.fillStyle = '#fff';
        g.beginPath();
        g.arc(w / 2, h / 2, h / 4, 0, Math.PI * 2);
        g.fill();
        return c.toDataURL('image/png').split(',')[1];
      },
      { color, w, h },
    );
    return Buffer.from(b64, 'base64');
  }

  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 20, contacts: 20 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await ctx.newPage();
    page.on('console', (m) => m.type() === 'error' && !/Failed to load resource/.test(m.text()) && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(pod.login);
    await box().waitFor();
    const contacts = (await api(page, 'GET', '/api/seedpod/v1/contacts?per_page=100')).body;
    const people = contacts.map((c) => c.person ?? c).filter((p) => p.name && p.guid);
    assert.ok(people.length > 0, 'seeded contacts with names');
    contact = people[0];
  });
  after(async () => {
    await ctx?.close();
    const { code } = await pod.stop();
    assert.equal(code, 0);
    assert.deepEqual(problems, []);
  });

  test('the preview is the html the pod gives the posted post', async () => {
    const text = `# Garden notes\n\n**Bold** and _soft_, a [link](https://example.org) #garden\n\n- one\n- two\n\n@{${contact.name}; ${contact.diaspora_id}} <b>raw</b>`;
    await box().fill(text);
    await form().getByRole('button', { name: 'Preview' }).click();
    const preview = page.getByTestId('composer-preview').locator('.html');
    await preview.waitFor();
    assert.equal(await box().isVisible(), false, 'the text is hidden while previewing');
    assert.equal(await preview.locator('strong').textContent(), 'Bold');
    assert.equal(await preview.locator('b').count(), 0, 'raw HTML is not passed through');
    await shotBoth(page, 'composer-preview');
    const shown = await preview.innerHTML();
    await form().getByRole('button', { name: 'Write' }).click();
    assert.equal(await box().inputValue(), text);
    const p = await post();
    const same = await page.evaluate(
      ({ a, b }) => {
        const norm = (h) => {
          const t = document.createElement('template');
          t.innerHTML = h.replace(/<!--[^]*?-->/g, '');
          return t.innerHTML.trim();
        };
        return norm(a) === norm(b);
      },
      { a: shown, b: p.seedpod.html },
    );
    assert.ok(same, `preview:\n${shown}\nposted:\n${p.seedpod.html}`);
    assert.match(p.seedpod.html, new RegExp(`href="/people/${contact.guid}"`));
  });

  test('photos by button and by drop, with alt text, progress and remove', async () => {
    await box().fill('Two photos');
    await page.locator('#composer-files').setInputFiles({ name: 'green.png', mimeType: 'image/png', buffer: await png('#2f7d5b') });
    // A drop of a second photo and of a file the pod does not take.
    const blue = (await png('#3060c0', 200, 260)).toString('base64');
    await page.evaluate((b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const dt = new DataTransfer();
      dt.items.add(new File([bytes], 'blue.png', { type: 'image/png' }));
      dt.items.add(new File(['hello'], 'notes.txt', { type: 'text/plain' }));
      const f = document.querySelector('form[aria-label="New post"]');
      f.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
      f.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    }, blue);
    const tray = page.getByRole('list', { name: 'Photos to post' });
    await tray.locator('li[data-state="ready"]').nth(1).waitFor();
    const bad = tray.locator('li[data-state="failed"]');
    assert.match(await bad.getByRole('alert').textContent(), /notes\.txt is not a photo the pod takes/);
    assert.equal(await tray.locator('img').count(), 2, 'thumbnails');
    await page.getByLabel('Describe green.png for people who cannot see it').fill('A green square with a white dot');
    await shotBoth(page, 'composer-photos');
    await page.getByRole('button', { name: 'Remove notes.txt' }).click();
    assert.equal(await tray.locator('li').count(), 2);
    const p = await post();
    assert.equal(p.photos.length, 2);
    await card(p.guid).first().locator('.photos img').nth(1).waitFor();
    assert.equal(await card(p.guid).first().locator('.photos img').count(), 2);
    // A removed photo is not posted.
    await page.locator('#composer-files').setInputFiles({ name: 'red.png', mimeType: 'image/png', buffer: await png('#c8493a') });
    await tray.locator('li[data-state="ready"]').waitFor();
    await page.getByRole('button', { name: 'Remove red.png' }).click();
    assert.equal(await tray.count(), 0);
    assert.equal(await form().getByRole('button', { name: 'Post', exact: true }).isDisabled(), true, 'nothing to post');
  });

  test('a poll: blanks refused before sending, then posted and shown', async () => {
    await box().fill('Lunch?');
    await form().getByRole('button', { name: 'Poll' }).click();
    await page.getByLabel('Poll question').fill('Where shall we eat?');
    await page.getByLabel('Answer 1', { exact: true }).fill('The park');
    let sent = 0;
    const count = (r) => new URL(r.url()).pathname === '/api/v1/posts' && r.method() === 'POST' && sent++;
    page.on('request', count);
    await form().getByRole('button', { name: 'Post', exact: true }).click();
    assert.equal(await form().getByRole('alert').textContent(), 'Answer 2 is blank: fill it in or remove it.');
    assert.equal(sent, 0, 'nothing sent');
    page.off('request', count);
    await page.getByLabel('Answer 2', { exact: true }).fill('The café');
    await page.getByRole('button', { name: 'Add an answer' }).click();
    await page.getByLabel('Answer 3', { exact: true }).fill('Remove me');
    await page.getByRole('button', { name: 'Remove answer 3' }).click();
    await page.getByRole('button', { name: 'Add an answer' }).click();
    await page.getByLabel('Answer 3', { exact: true }).fill('At home');
    await shotBoth(page, 'composer-poll');
    const p = await post();
    assert.deepEqual(
      { q: p.poll.question, a: p.poll.poll_answers.map((a) => a.answer) },
      { q: 'Where shall we eat?', a: ['The park', 'The café', 'At home'] },
    );
    const shown = card(p.guid).first().getByRole('group', { name: 'Poll: Where shall we eat?' });
    await shown.waitFor();
    assert.match(await shown.textContent(), /The café/);
  });

  test('location, content warning and NSFW', async () => {
    await box().fill('Spiders in the shed');
    await form().getByRole('button', { name: 'Location' }).click();
    await page.getByLabel('Address or place').fill('Tempelhofer Feld, Berlin');
    await form().getByRole('button', { name: 'Post', exact: true }).click();
    assert.match(await form().getByRole('alert').textContent(), /latitude and longitude/);
    await page.getByLabel('Latitude').fill('52.4731');
    await page.getByLabel('Longitude').fill('13,4039');
    await form().getByRole('button', { name: 'CW' }).click();
    await page.getByLabel('Content warning').fill('spiders');
    await page.getByLabel('NSFW').check();
    await form().getByRole('button', { name: 'Preview' }).click();
    await page.getByTestId('composer-preview').locator('.html').waitFor();
    const html = await page.getByTestId('composer-preview').innerHTML();
    assert.match(html, /CW: spiders/);
    assert.match(html, /\/tags\/nsfw/);
    await form().getByRole('button', { name: 'Write' }).click();
    const p = await post();
    assert.deepEqual(p.location, { address: 'Tempelhofer Feld, Berlin', lat: 52.4731, lng: 13.4039 });
    assert.equal(p.nsfw, true);
    assert.match(p.body, /^CW: spiders\n\nSpiders in the shed\n\n#nsfw$/);
    assert.equal(p.seedpod.content_warning, 'spiders');
    // The card shows the post collapsed behind its warning until asked.
    const c = card(p.guid).first();
    await c.getByRole('button', { name: /spiders/ }).click();
    await c.getByText('Spiders in the shed').waitFor();
  });

  test('@mention and #tag picked by keyboard', async () => {
    await box().fill('');
    await box().focus();
    const prefix = contact.name.split(' ')[0];
    await page.keyboard.type(`Hi @${prefix}`);
    const list = page.getByRole('listbox', { name: 'People' });
    await list.getByRole('option').first().waitFor();
    assert.equal(await box().getAttribute('aria-expanded'), 'true');
    const opts = await list.getByRole('option').allTextContents();
    const i = opts.findIndex((t) => t.includes(contact.diaspora_id));
    assert.ok(i >= 0, `${contact.diaspora_id} offered in ${opts}`);
    // Escape closes, typing reopens.
    await page.keyboard.press('Escape');
    assert.equal(await list.isVisible(), false);
    await page.keyboard.press('Backspace');
    await page.keyboard.type(prefix.slice(-1));
    await list.getByRole('option').first().waitFor();
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('ArrowDown');
    for (let k = 0; k < i; k++) await page.keyboard.press('ArrowDown');
    const activeId = await box().getAttribute('aria-activedescendant');
    assert.equal(await page.locator(`#${activeId}`).getAttribute('aria-selected'), 'true');
    await page.keyboard.press('Enter');
    assert.equal(await box().inputValue(), `Hi @{${contact.name}; ${contact.diaspora_id}} `);
    await page.keyboard.type('look #gar');
    const tags = page.getByRole('listbox', { name: 'Tags' });
    await tags.getByRole('option', { name: '#garden' }).waitFor();
    await shotBoth(page, 'composer-autocomplete');
    await page.keyboard.press('Tab');
    assert.equal(await box().inputValue(), `Hi @{${contact.name}; ${contact.diaspora_id}} look #garden `);
    const p = await post();
    assert.match(p.seedpod.html, new RegExp(`<a [^>]*href="/people/${contact.guid}"[^>]*>@?${contact.name}</a>`));
    assert.match(p.seedpod.html, /href="\/tags\/garden"/);
    const link = card(p.guid).first().getByRole('link', { name: contact.name });
    assert.match(await link.getAttribute('href'), new RegExp(contact.guid));
  });

  test('Ctrl+Enter posts; Save draft keeps the poll, location and warning', async () => {
    await box().fill('Quick one');
    const resp = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/posts' && r.request().method() === 'POST');
    await box().press('Control+Enter');
    assert.equal((await resp).status(), 200);
    await page.waitForFunction(() => document.querySelector('#composer-body').value === '');

    await box().fill('Draft with extras');
    await form().getByRole('button', { name: 'Poll' }).click();
    await page.getByLabel('Poll question').fill('Tea or coffee?');
    await page.getByLabel('Answer 1', { exact: true }).fill('Tea');
    await page.getByLabel('Answer 2', { exact: true }).fill('Coffee');
    await form().getByRole('button', { name: 'Location' }).click();
    await page.getByLabel('Address or place').fill('Home');
    await page.getByLabel('Latitude').fill('1');
    await page.getByLabel('Longitude').fill('2');
    await form().getByRole('button', { name: 'CW' }).click();
    await page.getByLabel('Content warning').fill('caffeine');
    await form().getByRole('button', { name: 'Save draft' }).click();
    await form().getByRole('status').filter({ hasText: 'Saved to Drafts' }).waitFor();
    const drafts = (await api(page, 'GET', '/api/seedpod/v1/drafts?per_page=100')).body;
    const d = drafts.find((x) => x.body === 'Draft with extras');
    assert.ok(d, 'draft saved');
    assert.deepEqual(d.poll, { question: 'Tea or coffee?', poll_answers: ['Tea', 'Coffee'] });
    assert.deepEqual(d.location, { address: 'Home', lat: 1, lng: 2 });
    assert.equal(d.content_warning, 'caffeine');
    assert.equal(await page.locator('#poll-question').count(), 0, 'the composer is emptied');
  });

  test('narrow window', async () => {
    await page.setViewportSize({ width: 360, height: 800 });
    await form().getByRole('button', { name: 'Poll' }).click();
    await form().getByRole('button', { name: 'Location' }).click();
    await shotBoth(page, 'composer-narrow');
    const w = await form().evaluate((f) => f.scrollWidth <= f.clientWidth + 1);
    assert.ok(w, 'nothing overflows the composer at 360 px');
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
