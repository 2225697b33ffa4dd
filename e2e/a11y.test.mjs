// Accessibility, end to end: real `seedpod serve` processes, Debian's
// Chromium, axe-core injected into the page.
// 1. axe (WCAG 2.1 A/AA) on every screen, light and dark: serious and
//    critical violations fail, colour contrast included.
// 2. 200 % zoom (a 1280×860 window at 200 %: 640×430 CSS px, scale 2) and a
//    360 px window: no horizontal scrolling, the main navigation reachable,
//    no clipped text in the controls.
// 3. Focus order on the stream and on settings: skip link first, then the
//    visual order, a visible focus indicator, nothing focusable hidden.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { api, launchBrowser, readyIdentity, shotBoth, startServe } from './harness.mjs';

// Violations in files this suite's author may not edit: (rule, target) pairs,
// each naming its file. Empty it as they are fixed.
const ALLOWED = [];

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const here = dirname(fileURLToPath(import.meta.url));

/** The settings sections' ids, read from lib/settings.ts as it is now. */
function settingsSections() {
  const src = readFileSync(resolve(here, '..', 'frontend', 'src', 'lib', 'settings.ts'), 'utf8');
  const block = src.match(/export const SECTIONS\s*=\s*\[([\s\S]*?)\]\s*as const/);
  assert.ok(block, 'lib/settings.ts exports SECTIONS');
  return [...block[1].matchAll(/id:\s*'([^']+)'/g)].map((m) => m[1]);
}

const allowed = (rule, target) => ALLOWED.some((a) => a.rule === rule && a.target === target);

/** Runs axe on the page in both themes; returns the serious and critical violations not allowed. */
async function audit(page, screen) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: AXE });
  const found = [];
  for (const scheme of ['light', 'dark']) {
    await page.emulateMedia({ colorScheme: scheme });
    await page.waitForTimeout(250); // colour transitions finish
    const res = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      TAGS,
    );
    for (const v of res.violations) {
      if (v.impact !== 'serious' && v.impact !== 'critical') continue;
      for (const n of v.nodes) {
        const target = n.target.map(String).join(' ');
        if (allowed(v.id, target)) continue;
        const why = (n.failureSummary ?? v.help).split('\n').slice(1, 3).join(' ').trim() || v.help;
        found.push(`${screen} [${scheme}] ${v.id} (${v.impact}) at ${target}: ${v.help}. ${why}`);
      }
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return found;
}

/** Waits until nothing on the page says it is loading. */
async function settle(page) {
  await page
    .waitForFunction(
      () =>
        !document.querySelector('[aria-busy="true"]') &&
        !/Loading…|Searching…|Rendering/.test(document.querySelector('main, .firstrun, body')?.textContent ?? ''),
      null,
      { timeout: 10_000 },
    )
    .catch(() => {});
  await page.waitForTimeout(250);
}

async function show(page, base, hash, ready) {
  await page.goto(`${base}/#/${hash}`);
  if (ready)
    await ready(page).catch((e) => {
      throw new Error(`#/${hash} did not show: ${e.message}`);
    });
  await settle(page);
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

describe('first run', () => {
  let pod;
  let ctx;
  let page;
  before(async () => {
    pod = await startServe(['--test-key-bits', '2048']);
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
    page = await ctx.newPage();
    await page.goto(pod.login);
  });
  after(async () => {
    await ctx?.close();
    await pod?.stop();
  });

  test('axe finds nothing serious on welcome, create, join, import and the later steps', async () => {
    const found = [];
    await page.getByRole('heading', { name: 'Welcome to Seedpod' }).waitFor();
    found.push(...(await audit(page, 'first run: welcome')));
    for (const [choice, heading, name] of [
      ['Add this device to my identity', 'Add this device', 'join'],
      ['Import a diaspora* account', 'Import a diaspora* account', 'import'],
      ['Create a new identity', 'Create your identity', 'create'],
    ]) {
      await page.getByRole('button', { name: choice }).click();
      await page.getByRole('heading', { name: heading }).waitFor();
      found.push(...(await audit(page, `first run: ${name}`)));
      if (name !== 'create') await page.getByRole('button', { name: 'Back' }).click();
    }
    // A refused form shows its error; that state is audited too.
    await page.getByLabel('Your name').fill('Ana Pérez');
    await page.getByLabel('Username').fill('Ana!');
    await page.getByRole('button', { name: 'Create identity' }).click();
    await page.getByRole('alert').first().waitFor();
    found.push(...(await audit(page, 'first run: create, refused')));
    await page.getByLabel('Username').fill('ana');
    await page.getByRole('button', { name: 'Create identity' }).click();
    await page.getByRole('heading', { name: 'Your identity is ready' }).waitFor({ timeout: 60_000 });
    found.push(...(await audit(page, 'first run: key ready')));
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.getByRole('heading', { name: 'Reach the diaspora* network' }).waitFor();
    found.push(...(await audit(page, 'first run: relay')));
    await page.getByRole('button', { name: 'Skip for now' }).click();
    await page.getByRole('heading', { name: 'Back up your key' }).waitFor();
    found.push(...(await audit(page, 'first run: backup')));
    await page.getByRole('button', { name: 'Start using Seedpod' }).click();
    await page.getByRole('feed', { name: 'Posts' }).waitFor({ state: 'attached' });
    await settle(page);
    found.push(...(await audit(page, 'stream: empty')));
    assert.deepEqual(found, [], '\n' + found.join('\n'));
  });
});

describe('a seeded pod', () => {
  let pod;
  let ctx;
  let page;
  const ids = {};
  /** Every screen: name, route, what to wait for, what to do there. */
  let screens = [];

  before(async () => {
    pod = await startServe(['--test-key-bits', '2048'], { seed: { posts: 60, contacts: 20 } });
    ctx = await browser.newContext({ viewport: { width: 1280, height: 860 }, bypassCSP: true });
    page = await ctx.newPage();
    await page.goto(pod.login);
    await page.getByRole('feed', { name: 'Posts' }).waitFor({ state: 'attached' });

    const own = await api(page, 'POST', '/api/v1/posts', { body: 'Planting tomatoes by the wall today. #garden', public: true });
    assert.ok(own.status < 300, `post: ${own.status}`);
    ids.own = own.body.guid;
    const stream = await api(page, 'GET', '/api/v1/streams/main');
    const posts = stream.body;
    ids.post = (posts.find((p) => (p.interactions?.comments_count ?? 0) > 0) ?? posts[0]).guid;
    const contacts = (await api(page, 'GET', '/api/seedpod/v1/contacts?per_page=100')).body;
    const mutual = contacts.find((c) => c.relationship.sharing && c.relationship.receiving && c.person?.name);
    ids.person = (mutual ?? contacts[0]).person.guid;
    const conv = await api(page, 'POST', '/api/v1/conversations', {
      subject: 'Book swap',
      body: 'Bring two books, and the **map**.',
      recipients: [mutual.person.guid],
    });
    assert.ok(conv.status < 300, `conversation: ${conv.status} ${JSON.stringify(conv.body)}`);
    ids.conversation = conv.body.guid;
    const draft = await api(page, 'POST', '/api/seedpod/v1/drafts', { body: '# Garden plans\n\nTomatoes by the wall. #garden' });
    assert.ok(draft.status < 300, `draft: ${draft.status} ${JSON.stringify(draft.body)}`);
    ids.draft = draft.body.id;
    const views = await page.locator('nav[aria-label="Streams"] a').evaluateAll((as) => as.map((a) => a.getAttribute('href').replace(/^#\//, '')));
    assert.ok(views.length >= 5, 'the stream offers its views');

    const feed = (p) => p.getByRole('feed').first().waitFor({ state: 'attached' });
    screens = [
      ...views.map((v) => ({ name: `stream ${v.split('/')[1]}`, hash: v, ready: feed })),
      { name: 'post view', hash: `post/${ids.post}`, ready: (p) => p.locator('main article').first().waitFor() },
      { name: 'contacts', hash: 'contacts', ready: (p) => p.locator('ul[aria-label="Contacts"] > li').first().waitFor() },
      { name: 'profile', hash: `people/${ids.person}`, ready: (p) => p.locator('main h1').first().waitFor() },
      { name: 'conversations', hash: 'conversations', ready: (p) => p.getByText('Book swap').first().waitFor() },
      { name: 'conversation thread', hash: `conversations/${ids.conversation}`, ready: (p) => p.getByText('Bring two books').first().waitFor() },
      { name: 'new conversation', hash: 'conversations/new', ready: (p) => p.locator('main form').first().waitFor() },
      { name: 'notifications', hash: 'notifications', ready: (p) => p.locator('main h1').first().waitFor() },
      {
        name: 'search results',
        hash: 'search',
        ready: async (p) => {
          await p.locator('#search-q').fill('garden');
          await p.locator('#search-q').press('Enter');
          await p.locator('main mark').first().waitFor();
        },
      },
      { name: 'tag page', hash: 'tags/garden', ready: feed },
      { name: 'drafts', hash: 'drafts', ready: (p) => p.getByText('Garden plans').first().waitFor() },
      { name: 'a draft', hash: `drafts/${ids.draft}`, ready: (p) => p.getByLabel('Draft text').waitFor() },
      ...settingsSections().map((s) => ({ name: `settings ${s}`, hash: `settings/${s}`, ready: (p) => p.locator('main h2, main h1').first().waitFor() })),
    ];
  });
  after(async () => {
    await ctx?.close();
    await pod?.stop();
  });

  test('axe finds nothing serious on any screen, in either theme', async () => {
    const found = [];
    for (const s of screens) {
      await show(page, pod.base, s.hash, s.ready);
      found.push(...(await audit(page, s.name)));
    }
    // An own post's tools, with the delete confirmation open.
    await show(page, pod.base, `post/${ids.own}`, (p) => p.locator('main article').first().waitFor());
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('button', { name: 'Delete post' }).waitFor();
    found.push(...(await audit(page, 'post view: delete confirmation')));
    assert.deepEqual(found, [], '\n' + found.join('\n'));
  });

  test('axe finds nothing serious with the composer open', async () => {
    const found = [];
    await show(page, pod.base, 'stream', (p) => p.getByRole('feed').waitFor({ state: 'attached' }));
    const box = page.getByLabel('What’s on your mind?');
    await box.click();
    await box.pressSequentially('Hello #gar');
    await page.locator('#composer-suggest [role="option"]').first().waitFor();
    found.push(...(await audit(page, 'composer: suggestions')));
    await box.press('Escape');
    await page.getByTestId('audience').click();
    await page.getByRole('checkbox').first().waitFor();
    found.push(...(await audit(page, 'composer: audience')));
    await page.getByRole('button', { name: 'Done' }).click();
    await page.getByRole('button', { name: 'Preview' }).click();
    await page.getByTestId('composer-preview').waitFor();
    await settle(page);
    found.push(...(await audit(page, 'composer: preview')));
    await page.getByRole('button', { name: 'Write' }).click();
    await box.fill('');
    assert.deepEqual(found, [], '\n' + found.join('\n'));
  });

  for (const size of [
    { name: '200 % zoom', viewport: { width: 640, height: 430 }, deviceScaleFactor: 2 },
    { name: '360 px window', viewport: { width: 360, height: 740 }, deviceScaleFactor: 1 },
  ]) {
    test(`${size.name}: no sideways scrolling, the navigation reachable, no clipped controls`, async () => {
      const c = await browser.newContext({ viewport: size.viewport, deviceScaleFactor: size.deviceScaleFactor, bypassCSP: true, storageState: await ctx.storageState() });
      const p = await c.newPage();
      await p.goto(pod.base + '/#/stream');
      const problems = [];
      try {
        for (const s of screens) {
          await show(p, pod.base, s.hash, s.ready);
          const r = await p.evaluate(() => {
            const out = [];
            const se = document.scrollingElement;
            if (se.scrollWidth > se.clientWidth + 1) out.push(`the page scrolls sideways (${se.scrollWidth} > ${se.clientWidth})`);
            const visible = (el) => {
              const b = el.getBoundingClientRect();
              const cs = getComputedStyle(el);
              return b.width > 1 && b.height > 1 && cs.visibility !== 'hidden' && !el.closest('.sr-only');
            };
            const label = (el) => (el.getAttribute('aria-label') || el.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 40);
            // The main navigation: every link can be brought on screen and is not covered.
            const nav = document.querySelector('nav[aria-label="Main"]');
            if (!nav) out.push('no main navigation');
            else
              for (const a of nav.querySelectorAll('a')) {
                a.scrollIntoView({ block: 'nearest', inline: 'nearest' });
                const b = a.getBoundingClientRect();
                const x = b.left + b.width / 2;
                const y = b.top + b.height / 2;
                const hit = document.elementFromPoint(x, y);
                if (b.width < 1 || x < 0 || y < 0 || x > innerWidth || y > innerHeight || !hit || !a.contains(hit))
                  out.push(`the main navigation's "${label(a)}" cannot be reached`);
              }
            document.querySelector('main')?.scrollIntoView({ block: 'start' });
            // Controls whose text does not fit.
            const controls = document.querySelectorAll(
              'nav a, nav button, header a, header button, [role="group"] button, [role="tablist"] button, [role="toolbar"] button, .btn, button',
            );
            // Clipped: a box that hides overflow (or ends in an ellipsis) holds more than it shows,
            // or the control's own text runs out of its box. Boxes hidden on purpose (.sr-only, 1 px) and
            // absolutely placed parts (a badge on an icon) do not count.
            const hides = (e) => {
              const cs = getComputedStyle(e);
              return cs.overflowX === 'hidden' || cs.overflowX === 'clip' || cs.textOverflow === 'ellipsis';
            };
            const deliberate = (e) => {
              const b = e.getBoundingClientRect();
              return b.width <= 1 || b.height <= 1 || !!e.closest('.sr-only');
            };
            for (const el of controls) {
              if (!visible(el)) continue;
              const boxes = [el, ...el.querySelectorAll('*')].filter((e) => hides(e) && !deliberate(e));
              const over = boxes.find((e) => e.scrollWidth > e.clientWidth + 1);
              if (over) {
                out.push(`"${label(el)}" is clipped (${over.scrollWidth} > ${over.clientWidth})`);
                continue;
              }
              const box = el.getBoundingClientRect();
              const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
              for (let t = walker.nextNode(); t; t = walker.nextNode()) {
                if (!t.textContent.trim() || deliberate(t.parentElement)) continue;
                let placed = false;
                for (let a = t.parentElement; a && a !== el; a = a.parentElement)
                  if (['absolute', 'fixed'].includes(getComputedStyle(a).position)) placed = true;
                if (placed) continue;
                const r = document.createRange();
                r.selectNodeContents(t);
                const tb = r.getBoundingClientRect();
                if (tb.width > 0 && (tb.left < box.left - 1 || tb.right > box.right + 1)) {
                  out.push(`"${label(el)}": its text runs out of the control (${Math.round(tb.width)} px in ${Math.round(box.width)} px)`);
                  break;
                }
              }
            }
            return [...new Set(out)];
          });
          problems.push(...r.map((m) => `${s.name}: ${m}`));
        }
        // A few to look at.
        const slug = size.viewport.width === 640 ? 'zoom' : 'narrow';
        for (const [name, hash] of [
          ['stream', 'stream'],
          ['post', `post/${ids.post}`],
          ['settings', 'settings/profile'],
          ['conversation', `conversations/${ids.conversation}`],
        ]) {
          const s = screens.find((x) => x.hash === hash) ?? { hash };
          await show(p, pod.base, s.hash, s.ready);
          await shotBoth(p, `a11y-${slug}-${name}`);
        }
      } finally {
        await c.close();
      }
      assert.deepEqual(problems, [], '\n' + problems.join('\n'));
    });
  }

  /** Tabs from the top of a freshly loaded screen; returns what got focus, in order. */
  async function tabWalk(hash, ready, max) {
    await page.goto(`${pod.base}/#/${hash}`);
    await page.reload();
    await ready(page);
    await settle(page);
    const steps = [];
    for (let i = 0; i < max; i++) {
      await page.keyboard.press('Tab');
      const info = await page.evaluate((i) => {
        const el = document.activeElement;
        if (!el || el === document.body) return null;
        el.setAttribute('data-a11y-tab', String(i));
        const b = el.getBoundingClientRect();
        let x = b.left;
        let y = b.top;
        for (let p = el.parentElement; p; p = p.parentElement) {
          x += p.scrollLeft;
          y += p.scrollTop;
        }
        const cs = getComputedStyle(el);
        // A focus ring: the element's outline or shadow, or a wrapper's (:focus-within) up to three levels out.
        const ring = (e) => {
          const parts = [];
          for (let k = 0, n = e; k < 4 && n; k++, n = n.parentElement) {
            const c = getComputedStyle(n);
            parts.push(c.outlineStyle, c.outlineWidth, c.outlineColor, c.boxShadow);
          }
          return parts.join('|');
        };
        const region = el.classList.contains('skip')
          ? 0
          : el.closest('nav[aria-label="Main"]')
            ? 1
            : el.closest('main')
              ? 2
              : 3;
        return {
          i,
          x,
          y,
          w: b.width,
          h: b.height,
          region,
          onScreen: b.right > 0 && b.bottom > 0 && b.left < innerWidth && b.top < innerHeight,
          hidden: b.width === 0 || b.height === 0 || cs.visibility === 'hidden' || Number(cs.opacity) === 0,
          look: ring(el),
          desc: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}`,
        };
      }, i);
      if (!info) break;
      const snap = await page.locator(':focus').ariaSnapshot().catch(() => '');
      info.name = (snap.split('\n')[0] ?? '').replace(/^- /, '').replace(/:$/, '') || info.desc;
      if (steps.length && steps[0].name === info.name && Math.abs(steps[0].y - info.y) < 1 && steps[0].region === info.region) break; // wrapped
      steps.push(info);
    }
    // The same elements without focus.
    await page.evaluate(() => (document.activeElement instanceof HTMLElement ? document.activeElement.blur() : undefined));
    await page.mouse.move(1, 1);
    await page.waitForTimeout(250);
    const rest = await page.evaluate(() =>
      Object.fromEntries(
        [...document.querySelectorAll('[data-a11y-tab]')].map((el) => {
          const parts = [];
          for (let k = 0, n = el; k < 4 && n; k++, n = n.parentElement) {
            const c = getComputedStyle(n);
            parts.push(c.outlineStyle, c.outlineWidth, c.outlineColor, c.boxShadow);
          }
          return [el.getAttribute('data-a11y-tab'), parts.join('|')];
        }),
      ),
    );
    for (const s of steps) s.unfocused = rest[String(s.i)];
    return steps;
  }

  /** What is wrong with a focus walk: order against the layout, indicators, hidden stops. */
  function focusProblems(steps) {
    const out = [];
    if (steps[0]?.name !== 'link "Skip to content"') out.push(`the first Tab stop is ${steps[0]?.name}, not the skip link`);
    const named = /^(link|button|textbox|checkbox|radio|combobox|searchbox|switch|tab|slider|spinbutton|menuitem)\b/;
    for (let k = 0; k < steps.length; k++) {
      const s = steps[k];
      if (named.test(s.name) && !/"/.test(s.name)) out.push(`stop ${k} (${s.name}) has no accessible name`);
      if (s.hidden) out.push(`stop ${k} (${s.name}) is focusable but hidden`);
      else if (!s.onScreen) out.push(`stop ${k} (${s.name}) is off screen when focused`);
      if (s.unfocused !== undefined && s.unfocused === s.look) out.push(`stop ${k} (${s.name}) shows no focus indicator`);
      if (k === 0) continue;
      const a = steps[k - 1];
      if (s.region < a.region) out.push(`stop ${k} (${s.name}) goes back to an earlier region after ${a.name}`);
      else if (s.region === a.region) {
        const up = s.y < a.y - 4;
        const rightColumn = s.x >= a.x + a.w - 2;
        const sameRowBack = Math.abs(s.y - a.y) <= 4 && s.x < a.x - 4;
        if ((up && !rightColumn) || sameRowBack) out.push(`stop ${k} (${s.name}) comes before ${a.name} on screen`);
      }
    }
    return out;
  }

  test('focus order on the stream: skip link, navigation, views, composer, posts', async () => {
    const steps = await tabWalk('stream', (p) => p.getByRole('feed').waitFor({ state: 'attached' }), 45);
    const names = steps.map((s) => s.name);
    assert.ok(names.includes('link "Stream"'), names.join('\n'));
    assert.ok(names.some((n) => n.startsWith('textbox') || n.startsWith('combobox')), 'the composer is reached: ' + names.join(', '));
    const problems = focusProblems(steps);
    assert.deepEqual(problems, [], '\n' + problems.join('\n') + '\n\norder:\n' + names.join('\n'));
  });

  test('focus order in settings: skip link, navigation, section menu, the section', async () => {
    const steps = await tabWalk('settings/profile', (p) => p.locator('main h2, main h1').first().waitFor(), 80);
    const names = steps.map((s) => s.name);
    assert.ok(names.includes('link "Settings"'), names.join('\n'));
    const problems = focusProblems(steps);
    assert.deepEqual(problems, [], '\n' + problems.join('\n') + '\n\norder:\n' + names.join('\n'));
  });

  test('the skip link moves focus to the content', async () => {
    await show(page, pod.base, 'stream', (p) => p.getByRole('feed').waitFor({ state: 'attached' }));
    await page.reload();
    await page.getByRole('feed').waitFor({ state: 'attached' });
    await page.keyboard.press('Tab');
    await shotBoth(page, 'a11y-skip-link');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'MAIN');
    assert.equal(new URL(page.url()).hash, '#/stream', 'the route stays');
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => !!document.activeElement?.closest('main')), 'the next Tab stays in the content');
  });
});
