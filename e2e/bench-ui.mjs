// The UI benchmark (make bench-ui): a pod seeded with 100k posts and 1k
// contacts, Debian's Chromium, the built UI. Reports
//   - first stream paint: ms from navigation start to the first frame after
//     the first page of posts was rendered (performance mark
//     'seedpod:first-posts'), median of RUNS loads;
//   - long tasks while scrolling through 1,000 posts (the list loads pages
//     of 30 as it goes): how many exceed 50 ms, and the longest;
//   - the JavaScript the page loads, gzipped.
// Targets (issue 7): ≤ 300 ms, none over 50 ms, ≤ 150 kB.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BIN, launchBrowser, startServe } from './harness.mjs';

const POSTS = Number(process.env.SEEDPOD_BENCH_POSTS ?? 100_000);
const RUNS = Number(process.env.SEEDPOD_BENCH_RUNS ?? 5);
const SCROLL_POSTS = 1000;

const t0 = Date.now();
// SEEDPOD_BENCH_DATA=DIR keeps the seeded pod between runs (seeding 100k posts takes minutes).
const pod = await startServe(['--test-key-bits', '2048'], {
  seed: { posts: POSTS, contacts: 1000 },
  dataDir: process.env.SEEDPOD_BENCH_DATA || undefined,
});
console.log(`seeded ${POSTS} posts and started in ${((Date.now() - t0) / 1000).toFixed(1)} s (${execFileSync(BIN, ['version']).toString().trim()})`);
const browser = await launchBrowser();
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  await page.goto(pod.login);
  await page.locator('article.post').first().waitFor();

  const paints = [];
  const apiMs = [];
  for (let i = 0; i < RUNS; i++) {
    await page.reload();
    const ms = await page.evaluate(
      () =>
        new Promise((res) => {
          const look = () => {
            const m = performance.getEntriesByName('seedpod:first-posts')[0];
            if (m) res(m.startTime);
            else setTimeout(look, 5);
          };
          look();
        }),
    );
    paints.push(ms);
    apiMs.push(
      await page.evaluate(() => performance.getEntriesByType('resource').find((e) => e.name.includes('/streams/main'))?.duration ?? -1),
    );
  }
  paints.sort((a, b) => a - b);
  const median = paints[Math.floor(paints.length / 2)];

  // Scroll through 1,000 posts, a screenful at a time, a frame apart, as a
  // reader flicking through; long tasks are collected all along.
  await page.reload();
  await page.locator('article.post').first().waitFor();
  const scroll = await page.evaluate(async (want) => {
    const tasks = [];
    const at = [];
    const obs = new PerformanceObserver((l) =>
      l.getEntries().forEach((e) => {
        tasks.push(e.duration);
        at.push(e.startTime);
      }),
    );
    obs.observe({ type: 'longtask', buffered: false });
    const el = document.querySelector('[data-testid=stream-scroller]');
    const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
    const start = performance.now();
    let seen = 0;
    for (let i = 0; i < 20000 && seen < want; i++) {
      el.scrollTop += el.clientHeight * 0.8;
      await frame();
      const last = [...document.querySelectorAll('article.post')].pop();
      seen = Math.max(seen, Number(last?.getAttribute('aria-posinset') ?? 0));
      if (el.scrollTop + el.clientHeight >= el.scrollHeight - 2) await new Promise((r) => setTimeout(r, 30)); // at the end: a page is loading
    }
    await frame();
    obs.disconnect();
    const pages = performance
      .getEntriesByType('resource')
      .filter((e) => e.name.includes('/streams/main') && e.startTime >= start)
      .map((e) => [Math.round(e.startTime - start), Math.round(e.responseEnd - start)]);
    return {
      seen,
      ms: performance.now() - start,
      tasks,
      at: at.map((t) => Math.round(t - start)),
      pages,
      dom: document.querySelectorAll('article.post').length,
    };
  }, SCROLL_POSTS);
  const over = scroll.tasks.filter((d) => d > 50);

  // JavaScript on the page, gzipped.
  const dist = resolve(process.cwd(), '..', 'frontend', 'dist', 'app', 'assets');
  const js = readdirSync(dist)
    .filter((f) => f.endsWith('.js'))
    .reduce((n, f) => n + gzipSync(readFileSync(join(dist, f)), { level: 9 }).length, 0);

  console.log(`first stream paint: median ${median.toFixed(0)} ms of ${RUNS} loads (${paints.map((x) => x.toFixed(0)).join(', ')}); target ≤ 300`);
  console.log(`  of which the first page's request: ${apiMs.map((x) => x.toFixed(0)).join(', ')} ms`);
  console.log(
    `scrolling ${scroll.seen} posts in ${(scroll.ms / 1000).toFixed(1)} s: ${scroll.tasks.length} long tasks, ${over.length} over 50 ms, longest ${Math.max(0, ...scroll.tasks).toFixed(0)} ms; ${scroll.dom} posts in the DOM at the end; target: none over 50 ms`,
  );
  if (process.env.SEEDPOD_BENCH_DEBUG) console.log('long tasks at', JSON.stringify(scroll.at), 'durations', JSON.stringify(scroll.tasks.map(Math.round)), 'pages', JSON.stringify(scroll.pages));
  console.log(`JavaScript: ${(js / 1024).toFixed(1)} kB gzipped; target ≤ 150`);
} finally {
  await browser.close();
  await pod.stop();
}
