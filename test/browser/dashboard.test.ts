/// <reference lib="dom" />
/**
 * The operator dashboard in a real headless Chromium (Debian's, driven by playwright-core), on the
 * real box (test/helpers/dashboard-stack.ts: supervisor + camera + inference + web processes).
 * Every subsystem and camera shows; a crashed child shows its restart and reason within seconds
 * and a safety event appears in the feed; a viewer has no controls and a forged mutation is
 * refused; a technician signs in and restarts a subsystem; the live view moves; the page
 * survives a web app restart without a reload. Screenshots go to test/artifacts/.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startDashboardStack, TECH_TOKEN, type DashboardStack } from '../helpers/dashboard-stack.ts';
import { waitFor } from '../helpers/net.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const artifacts = resolve(import.meta.dirname, '../artifacts');
let s: DashboardStack;
let browser: Browser;
let page: Page;
const shot = async (name: string, p = page) => {
  await p.evaluate(() => window.scrollTo(0, 0));
  await p.screenshot({ path: join(artifacts, `dashboard-${name}.png`) });
};
const tileText = (id: string) => page.$eval(`[data-child="${id}"]`, (el) => el.textContent ?? '');

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (set CHROMIUM_PATH; .ci/provision.sh installs Debian's chromium)`);
  mkdirSync(artifacts, { recursive: true });
  s = await startDashboardStack();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'], timeout: 30_000 });
  page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  page.setDefaultTimeout(20_000);
  page.on('dialog', (d) => void d.accept());
});

after(async () => {
  await browser?.close();
  await s?.close();
});

describe('operator dashboard in Chromium', () => {
  test('the page shows every subsystem with its state as a word, the cameras with figures, and no problems', async () => {
    await page.goto(s.web);
    for (const id of ['camera', 'inference', 'web', 'crashy']) await page.waitForSelector(`[data-child="${id}"] .state.ok`);
    assert.match(await tileText('camera'), /running/i);
    for (const cam of ['dock', 'press']) await page.waitForSelector(`[data-camera="${cam}"] [data-quality]`);
    await page.waitForFunction(() => /\d/.test(document.querySelector('[data-camera="dock"] .frames')?.textContent ?? ''));
    // The zones are drawn over the live view of the camera that has them.
    await page.waitForSelector('[data-camera="dock"] svg polygon.zone');
    assert.equal(await page.$$eval('.actions', (a) => a.length), 0, 'a viewer sees no technician controls');
    await page.waitForSelector('[data-camera="dock"] .chart canvas');
    await shot('overview');
  });

  test('a viewer opens a subsystem\'s log panel: its JSON lines as time, level, message and fields, then hides it', async () => {
    await page.click('[data-child="inference"] .act-logs');
    const row = await page.waitForSelector('[data-child="inference"] .logs .line[data-level]:has-text("listening on")');
    const text = (await row.textContent()) ?? '';
    assert.match(text, /^\d{1,2}:\d\d:\d\d.*INFO listening on <host> .*app=inference/, text);
    assert.doesNotMatch(text, /[{}"]/, 'parsed, not raw JSON');
    await shot('log-panel');
    await page.click('[data-child="inference"] .act-logs-close');
    await page.waitForSelector('[data-child="inference"] .logs', { state: 'detached' });
  });

  test('the live view shows moving frames: two screenshots differ', async () => {
    const img = await page.waitForSelector('[data-camera="dock"] img.live');
    await page.waitForFunction(() => ((document.querySelector('[data-camera="dock"] img.live') as HTMLImageElement)?.naturalWidth ?? 0) > 0);
    const a = await img.screenshot();
    const b = await waitFor('a different frame', async () => {
      const x = await img.screenshot();
      return x.equals(a) ? null : x;
    }, 10_000, 300);
    assert.ok(!a.equals(b));
  });

  test('a child made to crash shows its restart and reason within seconds; a safety event appears in the feed', async () => {
    process.kill(s.pid('crashy')!, 'SIGKILL');
    await page.waitForFunction(() => /restarts\s*1/.test(document.querySelector('[data-child="crashy"]')?.textContent ?? '') && /killed by signal SIGKILL/.test(document.querySelector('[data-child="crashy"] .reason')?.textContent ?? ''), undefined, { timeout: 15_000 });
    await page.waitForSelector('#suplog li.t-restart >> text=crashy');
    const [id] = s.append(1, 'press');
    const item = await page.waitForSelector(`#events li[data-id="${id}"]`);
    assert.match((await item.textContent()) ?? '', /press · zone forklift-lane · motion 90%/);
    await page.waitForFunction((sel) => (document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth === 64, `#events li[data-id="${id}"] img`);
    await shot('after-crash');
  });

  test('a forged mutation is refused: no session from the page, and a cross-site page cannot use the technician session', async () => {
    const asViewer = await page.evaluate(async () => (await fetch('/api/children/crashy/restart', { method: 'POST' })).status);
    assert.equal(asViewer, 401);
    // A technician session in this browser, then a page of another site posts to the box.
    const ctx = await browser.newContext();
    const tech = await ctx.newPage();
    await tech.goto(s.web);
    const signed = await tech.evaluate(async (secret) => (await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ secret }) })).status, TECH_TOKEN);
    assert.equal(signed, 200);
    const evil = await ctx.newPage();
    await evil.goto(`http://localhost:${s.ports.web}/ui/style.css`);
    const restarts = s.tree.child('crashy')!.restarts;
    const forged = await evil.evaluate(async (url) => {
      try {
        const r = await fetch(`${url}/api/children/crashy/restart`, { method: 'POST', credentials: 'include', mode: 'no-cors' });
        return r.type;
      } catch (e) {
        return String(e);
      }
    }, s.web);
    assert.ok(forged === 'opaque' || /Failed/.test(forged), forged);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(s.tree.child('crashy')!.restarts, restarts, 'the forged restart did nothing');
    await ctx.close();
  });

  test('a technician signs in, restarts a subsystem with a confirmation, and reads its log lines', async () => {
    // By keyboard: the sign-in button, then the focused secret field, then Enter.
    await page.focus('#signin');
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.id === 'secret');
    await page.keyboard.type(TECH_TOKEN);
    await page.keyboard.press('Enter');
    await page.waitForSelector('[data-child="crashy"] .act-restart');
    const before = s.tree.child('crashy')!.restarts;
    await page.click('[data-child="crashy"] .act-restart');
    await waitFor('crashy restarted by the technician', () => s.tree.child('crashy')!.restarts > before, 15_000);
    await page.waitForFunction(() => /by a technician/.test(document.querySelector('[data-child="crashy"] .reason')?.textContent ?? ''), undefined, { timeout: 15_000 });
    assert.equal(s.events.findLast((e) => e.type === 'manual' && e.child === 'crashy')?.data?.['role'], 'technician');
    await page.click('[data-child="crashy"] .act-logs');
    // crashy prints text: its lines show as they are.
    await page.waitForSelector('[data-child="crashy"] .logs .line.text');
    // Pin from the feed.
    const [id] = s.append(1, 'dock');
    await page.click(`#events li[data-id="${id}"] button.pin`);
    await page.waitForSelector(`#events li[data-id="${id}"].pinned`);
    await shot('technician');
  });

  test('the page survives a web app restart without a reload: a banner while down, then the events stored meanwhile, once', async () => {
    await page.evaluate(() => { (window as unknown as { marker: number }).marker = 42; });
    const listed = () => page.$$eval('#events li', (lis) => lis.map((li) => Number((li as HTMLElement).dataset.id)));
    const beforeIds = await listed();
    process.kill(s.pid('web')!, 'SIGKILL');
    await page.waitForSelector('#conn-banner');
    await shot('connection-lost');
    const whileDown = s.append(2, 'dock');
    await page.waitForSelector(`#events li[data-id="${whileDown[1]}"]`, { timeout: 40_000 });
    await page.waitForSelector('#conn-banner', { state: 'detached' });
    const afterIds = await listed();
    assert.equal(new Set(afterIds).size, afterIds.length, 'no event listed twice');
    for (const id of [...whileDown, ...beforeIds]) assert.ok(afterIds.includes(id), `event ${id} listed`);
    assert.equal(await page.evaluate(() => (window as unknown as { marker: number }).marker), 42, 'the page was not reloaded');
  });
});

describe('the merged tree in Chromium (needs the tree helper: camera workers under camera)', () => {
  test('camera workers show under camera; a technician restarts one and the other keeps counting frames', async () => {
    await page.waitForSelector('[data-child="camera/dock"]', { timeout: 10_000 });
    await page.waitForSelector('[data-child="camera/press"]');
    const frames = () => page.$eval('[data-camera="press"] .frames', (el) => Number(el.textContent));
    const pressBefore = await frames();
    await page.click('[data-child="camera/dock"] .act-restart');
    await page.waitForFunction(() => /restarts\s*1/.test(document.querySelector('[data-child="camera/dock"]')?.textContent ?? ''), undefined, { timeout: 20_000 });
    await page.waitForFunction((n) => Number(document.querySelector('[data-camera="press"] .frames')?.textContent) > n, pressBefore);
    assert.equal(s.tree.child('camera')!.restarts, 0);
  });
});
