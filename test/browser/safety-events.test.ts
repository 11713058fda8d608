/// <reference lib="dom" />
/**
 * The operator page in a real headless Chromium (Debian's, driven by playwright-core): safety events
 * appear live with their snapshot; the page says when the inference app is down; after the web app
 * crashes and comes back, the browser's EventSource resumes and shows the events stored meanwhile,
 * each once. Real inference and web processes (test/helpers/events-stack.ts).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startEventsStack, type EventsStack } from '../helpers/events-stack.ts';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let stack: EventsStack;
let browser: Browser;
let page: Page;

/** Ids of the listed events, top (newest) first. */
const listed = () => page.$$eval('#events li', (lis) => lis.map((li) => Number((li as HTMLElement).dataset.id)));

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (set CHROMIUM_PATH; .ci/provision.sh installs Debian's chromium)`);
  stack = await startEventsStack();
  await stack.start('web');
  // Root in CI: Chromium's sandbox needs an unprivileged user.
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 30_000 });
  page = await browser.newPage();
  page.setDefaultTimeout(15_000);
});

after(async () => {
  await browser?.close();
  await stack?.close();
});

describe('operator page: safety events', () => {
  test('an event appears live, newest first, with its snapshot decoded', async () => {
    const [older] = stack.append(1);
    await page.goto(`http://127.0.0.1:${stack.ports.web}/`);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'live');
    await page.waitForSelector(`#events li[data-id="${older}"]`);
    const [id] = stack.append(1);
    const item = await page.waitForSelector(`#events li[data-id="${id}"]`);
    assert.deepEqual(await listed(), [id, older]);
    assert.match((await item.textContent()) ?? '', /cam1 · zone press · motion 90%/);
    await page.waitForFunction((sel) => (document.querySelector(sel) as HTMLImageElement | null)?.naturalWidth === 64, `#events li[data-id="${id}"] img`);
  });

  test('the page says when the inference app is down, and events stored meanwhile appear once it is back', async () => {
    await stack.kill('inference');
    await page.waitForFunction(() => /inference app unavailable/.test(document.querySelector('#status')?.textContent ?? ''));
    const [id] = stack.append(1);
    await stack.start('inference');
    await page.waitForSelector(`#events li[data-id="${id}"]`);
    await page.waitForFunction(() => document.querySelector('#status')?.textContent === 'live');
  });

  test('after a web crash the browser reconnects by itself and shows what was stored meanwhile, each event once', async () => {
    const before = await listed();
    await stack.kill('web');
    await page.waitForFunction(() => /reconnecting/.test(document.querySelector('#status')?.textContent ?? ''));
    const whileDown = stack.append(2);
    await stack.start('web');
    await page.waitForSelector(`#events li[data-id="${whileDown[1]}"]`, { timeout: 20_000 });
    const after = await listed();
    assert.deepEqual(after, [...whileDown.toReversed(), ...before]);
    assert.equal(new Set(after).size, after.length, 'no event listed twice');
  });
});
