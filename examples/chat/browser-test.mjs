// The chat demo in headless Chromium, driven by playwright-core. Run by
// chat_test.go (TestChatInChromium), which starts the router, the chat
// service and a second server (another origin) and passes their URLs:
//
//   CHAT_URL          the page, served by the router
//   FOREIGN_URL       the same page from another origin, ?router= pointed at the router
//   HISTORY_WAIT_URL  answers ?added=N once the chat service has stored N messages
//   ARTIFACTS         directory for the screenshots
//   CHROMIUM          the browser (default /usr/bin/chromium); never downloaded
//
// Every wait is on the page's state (selectors), bounded by TIMEOUT.
import assert from 'node:assert/strict';
import path from 'node:path';
import { chromium } from 'playwright-core';

const TIMEOUT = 15_000;
const t0 = Date.now();

function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: this script is run by chat_test.go (go test ./examples/chat)`);
  return v;
}

const CHAT_URL = env('CHAT_URL');
const FOREIGN_URL = env('FOREIGN_URL');
const HISTORY_WAIT_URL = env('HISTORY_WAIT_URL');
const ARTIFACTS = env('ARTIFACTS');
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

function step(msg) {
  console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

const problems = []; // uncaught errors in the chat pages

async function openPage(browser, label, url) {
  const context = await browser.newContext({ viewport: { width: 760, height: 480 } });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.label = label;
  page.consoleLines = [];
  page.on('console', (m) => page.consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`${label}: ${e.message}`));
  await page.goto(url);
  return page;
}

// online waits until the page has joined, loaded presence and history, and
// returns its WAMP session id.
async function online(page) {
  await page.waitForSelector('#status[data-state="online"]');
  return page.getAttribute('body', 'data-session');
}

async function send(page, name, text) {
  await page.fill('#name', name);
  await page.fill('#message', text);
  await page.press('#message', 'Enter');
}

const messageTexts = (page) => page.$$eval('#messages .message .text', (els) => els.map((e) => e.textContent));
const messageNames = (page) => page.$$eval('#messages .message .name', (els) => els.map((e) => e.textContent));

// screenshotSideBySide saves one image of the pages next to each other, as
// they are now. The image is an artifact for people, not a check: headless
// Chromium on a loaded machine sometimes cannot capture a page ("Unable to
// capture screenshot"), and that is logged, not a failure of the chat.
async function screenshotSideBySide(browser, pages, file) {
  try {
    await captureSideBySide(browser, pages, file);
  } catch (err) {
    step(`screenshot ${file} not taken: ${String(err.message || err).split('\n')[0]}`);
  }
}

async function captureSideBySide(browser, pages, file) {
  const shots = await Promise.all(pages.map((p) => p.screenshot()));
  const page = await browser.newPage({ viewport: { width: 1570, height: 560 } });
  const figures = shots.map((png, i) =>
    `<figure><figcaption>${pages[i].label}</figcaption><img src="data:image/png;base64,${png.toString('base64')}"></figure>`);
  await page.setContent(`<!doctype html><style>
      body { margin: 0; padding: 12px; display: flex; gap: 16px; background: #2b2f3a; font: 14px system-ui, sans-serif; }
      figure { margin: 0; } figcaption { color: #fff; margin-bottom: 6px; } img { display: block; border: 1px solid #555; }
    </style>${figures.join('')}`, { waitUntil: 'load' });
  await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true });
  await page.close();
  step(`screenshot ${path.join(ARTIFACTS, file)}`);
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
step(`launched ${executablePath} ${browser.version()}`);
try {
  // Two people open the chat.
  const [a, b] = await Promise.all([
    openPage(browser, 'page A (alice)', CHAT_URL),
    openPage(browser, 'page B (bob)', CHAT_URL),
  ]);
  const [idA, idB] = await Promise.all([online(a), online(b)]);
  step(`both pages online: A is session ${idA}, B is session ${idB}`);

  // Presence: each sees the other, and the chat service.
  await a.waitForSelector(`#presence li[data-session="${idB}"]`);
  await b.waitForSelector(`#presence li[data-session="${idA}"]`);
  await a.waitForSelector('#presence li.service');
  await b.waitForSelector('#presence li.service');
  step('presence: each page lists the other and the chat service');

  // A message typed in one page appears in the other, and back.
  await send(a, 'alice', 'Hello from Alice');
  await b.locator('#messages .message', { hasText: 'Hello from Alice' }).waitFor();
  await a.locator('#messages .message', { hasText: 'Hello from Alice' }).waitFor();
  await send(b, 'bob', 'Hi Alice, Bob here');
  await a.locator('#messages .message', { hasText: 'Hi Alice, Bob here' }).waitFor();
  await b.locator('#messages .message', { hasText: 'Hi Alice, Bob here' }).waitFor();
  const want = ['Hi Alice, Bob here', 'Hello from Alice']; // newest first
  assert.deepEqual(await messageTexts(a), want, 'page A messages');
  assert.deepEqual(await messageTexts(b), want, 'page B messages');
  assert.deepEqual(await messageNames(a), ['bob', 'alice'], 'page A names');
  // Presence now names bob, learnt from his message.
  await a.locator(`#presence li[data-session="${idB}"] .who`, { hasText: 'bob' }).waitFor();
  step('messages exchanged; both pages show them newest first');
  await screenshotSideBySide(browser, [a, b], 'chat-in-sync.png');

  // History on reload: B comes back as a new session and gets both
  // messages from chat.history, once each.
  const waited = await fetch(`${HISTORY_WAIT_URL}?added=2`);
  assert.equal(waited.status, 200, await waited.text());
  await b.reload();
  const idB2 = await online(b);
  assert.notEqual(idB2, idB, 'a reloaded page is a new session');
  assert.deepEqual(await messageTexts(b), want, 'page B messages after reload (from chat.history)');
  // A saw B's old session leave and the new one join.
  await a.waitForSelector(`#presence li[data-session="${idB}"]`, { state: 'detached' });
  await a.waitForSelector(`#presence li[data-session="${idB2}"]`);
  step(`history loaded on reload (B is now session ${idB2}); A's presence followed`);
  await b.screenshot({ path: path.join(ARTIFACTS, 'chat-after-reload.png') });

  // A page from an origin the router's Origin policy refuses cannot connect,
  // and says so.
  const f = await openPage(browser, 'refused origin', FOREIGN_URL);
  await f.waitForSelector('#status[data-state="failed"]');
  const status = await f.textContent('#status');
  assert.match(status, /Cannot connect/, 'status of the refused page');
  assert.equal(await f.isDisabled('#message'), true, 'the form of a refused page is disabled');
  assert.equal(await f.getAttribute('body', 'data-session'), null, 'a refused page has no session');
  step(`refused origin reported: ${status}`);
  const handshake = f.consoleLines.find((l) => l.includes('WebSocket'));
  if (handshake) step(`browser console: ${handshake}`);
  await f.screenshot({ path: path.join(ARTIFACTS, 'chat-refused-origin.png') });

  // Nobody else was disturbed: A still has the two messages and no error.
  assert.deepEqual(await messageTexts(a), want, 'page A messages at the end');
  assert.deepEqual(problems, [], 'uncaught errors in the pages');
  step('ok');
} catch (err) {
  for (const page of browser.contexts().flatMap((c) => c.pages())) {
    if (page.label) {
      console.log(`--- console of ${page.label}:\n${(page.consoleLines || []).join('\n')}`);
      await page.screenshot({ path: path.join(ARTIFACTS, `failure-${page.label.replace(/\W+/g, '-')}.png`) }).catch(() => {});
    }
  }
  throw err;
} finally {
  await browser.close();
}
