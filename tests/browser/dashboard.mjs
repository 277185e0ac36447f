// dashboard.mjs - browser test driver for posthaste's web dashboard.
//
//   PH_DASH='{"base_url": "...", ...}' node dashboard.mjs SCENARIO
//
// Runs one scenario in the system's Chromium (playwright-core, no browser
// download; CHROMIUM overrides /usr/bin/chromium) with a fresh profile, using
// role and label locators the way a user finds things. Every page visited is
// saved as <artifacts>/<scenario>-<page>.png (full page). Lines "RESULT
// {json}" report what the caller checks further (e.g. the clipboard). Exit 0
// on success; on failure it prints what was expected and what was seen,
// saves <scenario>-failure.png, and exits 1. Every wait is bounded (<= 15 s).
//
// Parameters (PH_DASH, JSON): base_url, username, password, api_key,
// artifacts, message (public id), subject, delivered / bounced / deferred
// (recipient addresses), queue_id (the fake MX's), mx_host, remote_ip,
// wait_seconds (expired), domain (statistics), totals_all / totals_domain
// (statistics: the totals cards, {label: value}, for all domains and for
// domain), good_domain / bad_domain /
// good_selectors / bad_selectors / added_domain (domains, domains_check: a
// verified sender domain, one whose DKIM keys are not in DNS, and one to add).
//
// Scenarios: tour, paging, delivered, bounced_deferred, queue_retry, queue_delete,
// statistics, domains, domains_check, api_key, wrong_password, expired, cross_site.

import { chromium } from 'playwright-core';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';

const WAIT = 10000; // ms, default for waits
const WAIT_MAX = 15000;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

class Failure extends Error {}

const scenario = process.argv[2];
let P;
try {
  P = JSON.parse(process.env.PH_DASH || '{}');
} catch (e) {
  console.error(`PH_DASH is not JSON: ${e.message}`);
  process.exit(2);
}
const artifacts = P.artifacts || path.resolve('artifacts');
mkdirSync(artifacts, { recursive: true });

// -- helpers -------------------------------------------------------------------

function fail(what, expected, seen) {
  throw new Failure(`${what}\n  expected: ${expected}\n  seen:     ${seen}`);
}

function result(obj) {
  console.log('RESULT ' + JSON.stringify(obj));
}

async function shot(page, name) {
  const file = path.join(artifacts, `${scenario}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, timeout: WAIT_MAX });
}

async function poll(fn, timeout = WAIT) {
  const deadline = Date.now() + Math.min(timeout, WAIT_MAX);
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last && last.ok) return last;
    } catch (e) {
      last = { ok: false, seen: `error: ${e.message.split('\n')[0]}` };
    }
    if (Date.now() > deadline) return last || { ok: false, seen: '(nothing)' };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function visible(locator, what, timeout = WAIT) {
  try {
    await locator.first().waitFor({ state: 'visible', timeout: Math.min(timeout, WAIT_MAX) });
  } catch {
    const n = await locator.count().catch(() => 0);
    fail(`${what} is not visible`, 'a visible element', n ? `${n} element(s), none visible` : 'no such element');
  }
  return locator.first();
}

async function gone(locator, what, timeout = WAIT) {
  const r = await poll(async () => {
    const n = await locator.count();
    return { ok: n === 0, seen: `${n} still there` };
  }, timeout);
  if (!r.ok) fail(`${what} should be gone`, 'no element', r.seen);
}

async function hasText(locator, needle, what, timeout = WAIT) {
  const r = await poll(async () => {
    const t = (await locator.first().innerText({ timeout: 1000 })).replace(/\s+/g, ' ');
    const ok = needle instanceof RegExp ? needle.test(t) : t.includes(needle);
    return { ok, seen: JSON.stringify(t.slice(0, 600)) };
  }, timeout);
  if (!r.ok) fail(`${what}: text not found`, JSON.stringify(String(needle)), r.seen);
}

async function atPath(page, re, what, timeout = WAIT) {
  const r = await poll(async () => {
    const u = new URL(page.url());
    return { ok: re.test(u.pathname + u.search), seen: u.pathname + u.search };
  }, timeout);
  if (!r.ok) fail(`${what}: wrong address`, String(re), r.seen);
}

// axe-core checks a page against WCAG 2.1 A and AA (contrast, labels,
// landmarks, ARIA); it is evaluated through the DevTools protocol, which the
// page's CSP does not govern.
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

async function audit(page, what) {
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
  });
  if (violations.length) fail(`accessibility of ${what}`, 'no WCAG 2.1 AA violations', violations.join('\n            '));
}

/** The message page's tabs: name selected (aria-selected), its panel the one shown. */
async function selectedTab(page, name, what) {
  const r = await poll(async () => {
    const tabs = await page.getByRole('tab').evaluateAll((ts) => ts.map((t) => `${t.textContent}=${t.getAttribute('aria-selected')}`));
    const ok = tabs.includes(`${name}=true`) && tabs.filter((t) => t.endsWith('=true')).length === 1;
    return { ok, seen: tabs.join(', ') || '(no tabs)' };
  });
  if (!r.ok) fail(`${what}: selected tab`, `${name}=true, the others false`, r.seen);
  await visible(page.getByRole('tabpanel', { name }), `${name} panel (${what})`);
  const shown = await page.getByRole('tabpanel').count();
  if (shown !== 1) fail(`${what}: tab panels shown`, `only ${name}`, `${shown} panels`);
}

/** Waits until the page's query has want's parameters (null: absent). */
async function atQuery(page, want, what, timeout = WAIT) {
  const r = await poll(async () => {
    const u = new URL(page.url());
    const ok = Object.entries(want).every(([k, v]) => u.searchParams.get(k) === v);
    return { ok, seen: u.pathname + u.search };
  }, timeout);
  if (!r.ok) fail(`${what}: wrong address`, `query ${JSON.stringify(want)}`, r.seen);
}

/** The Statistics totals cards as {label: value}, once they equal want. */
async function expectTotals(page, want, what) {
  const r = await poll(async () => {
    if ((await page.locator('.stats-body[aria-busy="false"]').count()) !== 1) return { ok: false, seen: 'still loading' };
    const got = await page.locator('.stat-grid .stat').evaluateAll((els) => Object.fromEntries(els.map((e) =>
      [e.querySelector('.stat-label').textContent, e.querySelector('.stat-value').textContent])));
    return { ok: Object.entries(want).every(([k, v]) => got[k] === String(v)), seen: JSON.stringify(got) };
  });
  if (!r.ok) fail(what, JSON.stringify(want), r.seen);
}

async function heading(page, name) {
  return visible(page.getByRole('heading', { level: 1, name, exact: true }), `heading "${name}"`);
}

// -- shared steps -----------------------------------------------------------------

async function signIn(page, { apiKey = false } = {}) {
  await page.goto(P.base_url + '/login', { waitUntil: 'domcontentloaded', timeout: WAIT_MAX });
  await heading(page, 'Sign in');
  if (apiKey) {
    await (await visible(page.getByRole('button', { name: 'Sign in with an API key' }), 'API key toggle')).click();
    await (await visible(page.getByLabel('API key', { exact: true }), 'API key field')).fill(P.api_key);
  } else {
    await (await visible(page.getByLabel('User name', { exact: true }), 'User name field')).fill(P.username);
    await (await visible(page.getByLabel('Password', { exact: true }), 'Password field')).fill(P.password);
  }
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await atPath(page, /^\/activity/, 'after sign-in');
  await heading(page, 'Activity');
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const name of ['Activity', 'Statistics', 'Queue', 'Domains']) {
    await visible(nav.getByRole('link', { name, exact: true }), `header link "${name}"`);
  }
  await visible(page.getByRole('button', { name: 'Sign out' }), 'Sign out button');
  await hasText(page.locator('#site-header'), 'acme', 'account name in the header');
}

async function navTo(page, name) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();
}

async function openMessage(page, recipient) {
  const url = `/messages/${encodeURIComponent(P.message)}?recipient=${encodeURIComponent(recipient)}`;
  await page.goto(P.base_url + url, { waitUntil: 'domcontentloaded', timeout: WAIT_MAX });
  if (P.subject) await heading(page, P.subject);
  await visible(page.getByRole('tab', { name: 'Timeline' }), 'Timeline tab');
}

function evidenceRegion(page) {
  return page.getByRole('region', { name: 'Evidence' });
}

async function checkAccessibleBasics(page) {
  const lang = await page.evaluate(() => document.documentElement.lang);
  if (lang !== 'en') fail('html lang', 'en', lang);
  await visible(page.locator('main#main'), 'main landmark');
  if ((await page.getByRole('link', { name: 'Skip to main content' }).count()) !== 1) {
    fail('skip link', 'one link "Skip to main content"', 'none');
  }
}

// -- scenarios --------------------------------------------------------------------

const scenarios = {
  async tour(page) {
    await page.goto(P.base_url + '/login', { waitUntil: 'domcontentloaded', timeout: WAIT_MAX });
    await heading(page, 'Sign in');
    await audit(page, 'the login page');
    await signIn(page);
    await checkAccessibleBasics(page);
    await visible(page.getByRole('table'), 'Activity table');
    await audit(page, 'Activity');
    await shot(page, 'activity');
    await openMessage(page, P.delivered);
    await visible(evidenceRegion(page).getByRole('button', { name: "Copy for the recipient's IT" }), 'evidence loaded');
    await audit(page, 'the message timeline');
    await shot(page, 'message');
    await page.getByRole('tab', { name: 'Transcript' }).click();
    await audit(page, 'the message transcript');
    await shot(page, 'transcript');
    await navTo(page, 'Statistics');
    await heading(page, 'Statistics');
    await visible(page.locator('canvas'), 'a chart');
    await audit(page, 'Statistics');
    await shot(page, 'statistics');
    await navTo(page, 'Queue');
    await heading(page, 'Queue');
    await visible(page.getByRole('table'), 'queue table');
    await audit(page, 'Queue');
    await shot(page, 'queue');
    // No sender domains here: the page says how to add one.
    await navTo(page, 'Domains');
    await atPath(page, /^\/domains$/, 'Domains page');
    await heading(page, 'Domains');
    await hasText(page.locator('.domain-list'), 'posthaste domain add example.com --account acme --ip 192.0.2.10', 'empty state');
    await hasText(page.locator('.domain-list'), 'Only verified domains may send', 'empty state');
    await audit(page, 'Domains (none)');
    await shot(page, 'domains');
    await navTo(page, 'Queue');
    await visible(page.getByRole('table'), 'queue table');
    await page.getByRole('button', { name: `Delete ${P.deferred}`, exact: true }).click();
    await visible(page.getByRole('dialog'), 'confirmation dialog');
    await audit(page, 'the delete dialog');
    await page.keyboard.press('Escape');
    await gone(page.getByRole('dialog'), 'dialog after Escape');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await atPath(page, /^\/login/, 'after sign-out');
    await hasText(page.getByRole('status'), 'signed out', 'sign-out notice');
    await shot(page, 'signed-out');
  },

  async delivered(page, context) {
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: P.base_url });
    await signIn(page);
    await checkAccessibleBasics(page);
    await shot(page, 'activity');

    // Search for the delivered recipient.
    await page.getByLabel('Recipient', { exact: true }).fill(P.delivered);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await atPath(page, new RegExp(`[?&]recipient=${encodeURIComponent(P.delivered).replace(/[.+]/g, '\\$&')}`), 'search in the URL');
    const table = await visible(page.getByRole('table'), 'results table');
    const link = await visible(table.getByRole('link', { name: P.delivered, exact: true }), `row for ${P.delivered}`);
    const rows = table.locator('tbody tr');
    const n = await rows.count();
    for (let i = 0; i < n; i++) {
      const t = await rows.nth(i).innerText();
      if (!t.includes(P.delivered)) fail('search results', `only rows for ${P.delivered}`, JSON.stringify(t));
    }
    await hasText(rows.first(), 'delivered', 'status badge');
    await shot(page, 'search');

    // Timeline.
    await link.click();
    await atPath(page, new RegExp(`^/messages/${P.message}\\?recipient=`), 'message page');
    if (P.subject) await heading(page, P.subject);
    const timeline = page.getByRole('tab', { name: 'Timeline' });
    await visible(timeline, 'Timeline tab');
    if ((await timeline.getAttribute('aria-selected')) !== 'true') fail('Timeline tab', 'selected', 'not selected');
    const panel = page.getByRole('tabpanel', { name: 'Timeline' });
    const reply = `250 2.0.0 Ok: queued as ${P.queue_id}`;
    await hasText(panel, reply, 'remote reply in the timeline');
    await hasText(panel, P.mx_host, 'MX host in the timeline');
    await hasText(panel, P.remote_ip, 'remote IP in the timeline');
    await hasText(panel, /TLS/, 'TLS fact in the timeline');
    await hasText(panel, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'UTC times in the timeline');
    await visible(evidenceRegion(page).getByRole('heading', { name: 'Evidence' }), 'Evidence card');
    await hasText(evidenceRegion(page), P.queue_id, 'queue id in the evidence card');
    await shot(page, 'timeline');

    // Keyboard: the tabs follow the WAI-ARIA pattern.
    await timeline.focus();
    await page.keyboard.press('ArrowRight');
    const transcriptTab = page.getByRole('tab', { name: 'Transcript' });
    const sel = await poll(async () => ({ ok: (await transcriptTab.getAttribute('aria-selected')) === 'true', seen: 'not selected' }));
    if (!sel.ok) fail('ArrowRight on the Timeline tab', 'Transcript tab selected', sel.seen);
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.textContent);
    if (focused !== 'Transcript') fail('focus after ArrowRight', 'on the Transcript tab', JSON.stringify(focused));
    if ((await transcriptTab.getAttribute('tabindex')) !== '0' || (await timeline.getAttribute('tabindex')) !== '-1') {
      fail('roving tabindex', 'Transcript 0, Timeline -1', `${await transcriptTab.getAttribute('tabindex')}, ${await timeline.getAttribute('tabindex')}`);
    }
    const tpanel = page.getByRole('tabpanel', { name: 'Transcript' });
    await visible(tpanel, 'Transcript panel');
    const sent = tpanel.locator('.tline-sent', { hasText: 'EHLO' });
    const replyLine = tpanel.locator('.tline-reply', { hasText: reply });
    await visible(sent, 'a sent EHLO line');
    await visible(replyLine, 'the reply line');
    const sentText = await sent.first().innerText();
    const replyText = await replyLine.first().innerText();
    if (!/\bC:/.test(sentText) || !/\bS:/.test(replyText)) {
      fail('transcript directions', 'sent lines marked "C:", replies "S:"', `${JSON.stringify(sentText)} / ${JSON.stringify(replyText)}`);
    }
    const mono = await tpanel.locator('pre').first().evaluate((el) => getComputedStyle(el).fontFamily);
    if (!/mono|courier|consolas|menlo/i.test(mono)) fail('transcript font', 'monospace', mono);
    await hasText(tpanel, P.mx_host, 'transcript heading names the host');
    await page.keyboard.press('ArrowLeft');
    const back = await poll(async () => ({ ok: (await timeline.getAttribute('aria-selected')) === 'true', seen: 'Timeline not selected' }));
    if (!back.ok) fail('ArrowLeft on the Transcript tab', 'Timeline selected', back.seen);
    await page.keyboard.press('ArrowRight');
    await atQuery(page, { recipient: P.delivered, tab: 'transcript' }, 'the open tab in the URL');
    await shot(page, 'transcript');

    // Evidence: copy for the recipient's IT, and the download link.
    const ev = evidenceRegion(page);
    await (await visible(ev.getByRole('button', { name: "Copy for the recipient's IT" }), 'copy button')).click();
    await hasText(ev.getByRole('status'), 'Copied', 'copy confirmation');
    const clip = await page.evaluate(() => navigator.clipboard.readText());
    if (!clip.includes(reply) || !clip.includes(P.queue_id)) fail('clipboard', `text with "${reply}"`, JSON.stringify(clip.slice(0, 400)));
    const dl = ev.getByRole('link', { name: 'Download' });
    await visible(dl, 'Download link');
    const href = await dl.getAttribute('href');
    const name = await dl.getAttribute('download');
    if (!href.includes('format=text') || !name || !name.startsWith(`evidence-${P.message}-`)) {
      fail('Download link', 'href with format=text, download="evidence-<id>-<recipient>.txt"', `${href} / ${name}`);
    }
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: WAIT_MAX }), dl.click()]);
    const dlPath = path.join(artifacts, `${scenario}-${download.suggestedFilename()}`);
    await download.saveAs(dlPath);
    await shot(page, 'copied');

    // A link with tab=transcript opens the transcript; a reload keeps it.
    const shared = `/messages/${encodeURIComponent(P.message)}?recipient=${encodeURIComponent(P.delivered)}&tab=transcript`;
    await page.goto(P.base_url + shared, { waitUntil: 'domcontentloaded', timeout: WAIT_MAX });
    if (P.subject) await heading(page, P.subject);
    await selectedTab(page, 'Transcript', 'opened from a link with tab=transcript');
    await visible(page.getByRole('tabpanel', { name: 'Transcript' }).locator('.tline-reply', { hasText: reply }), 'the reply line (shared link)');
    await audit(page, 'the transcript opened from a link');
    await shot(page, 'shared-transcript');
    await page.reload({ waitUntil: 'domcontentloaded' });
    await selectedTab(page, 'Transcript', 'after a reload');
    // Timeline, the default, takes the parameter out of the URL.
    await page.getByRole('tab', { name: 'Timeline' }).click();
    await selectedTab(page, 'Timeline', 'after a click on Timeline');
    await atQuery(page, { recipient: P.delivered, tab: null }, 'Timeline in the URL');
    // Switching tabs replaces the history entry (no new ones): Back from
    // another page returns to the message as it was left.
    await page.getByRole('tab', { name: 'Transcript' }).click();
    await atQuery(page, { recipient: P.delivered, tab: 'transcript' }, 'Transcript in the URL');
    await page.getByRole('link', { name: '← Activity' }).click();
    await heading(page, 'Activity');
    await page.goBack({ waitUntil: 'domcontentloaded' });
    await atQuery(page, { recipient: P.delivered, tab: 'transcript' }, 'Back to the message');
    await selectedTab(page, 'Transcript', 'Back to the message');
    await page.goForward({ waitUntil: 'domcontentloaded' });
    await atPath(page, /^\/activity$/, 'Forward to Activity');
    await heading(page, 'Activity');
    await page.goBack({ waitUntil: 'domcontentloaded' });
    await selectedTab(page, 'Transcript', 'Back from Activity');
    await page.getByRole('tab', { name: 'Timeline' }).click();
    await atQuery(page, { recipient: P.delivered, tab: null }, 'Timeline again');
    if (new URL(page.url()).search.includes('tab=')) fail('URL after Timeline', 'no tab parameter', page.url());
    await selectedTab(page, 'Timeline', 'Timeline again');
    result({ clipboard: clip, download: dlPath, suggested: download.suggestedFilename() });
  },

  async paging(page) {
    // Needs more than one page of messages (the dashboard asks for 50).
    await signIn(page);
    const table = await visible(page.getByRole('table'), 'Activity table');
    const links = table.locator('tbody tr td.addr a');
    const hrefs = async () => links.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    const first = await hrefs();
    if (first.length < 50) fail('page 1', 'at least 50 rows', `${first.length} rows`);
    await hasText(table.locator('caption'), 'page 1', 'caption');
    await page.getByRole('button', { name: 'Older →' }).click();
    await atPath(page, /[?&]cursor=/, 'Older keeps the cursor in the URL');
    await hasText(page.getByRole('table').locator('caption'), 'page 2', 'caption of page 2');
    const second = await hrefs();
    if (!second.length || second.some((h) => first.includes(h))) {
      fail('page 2', 'other rows than page 1', `${second.length} rows, ${second.filter((h) => first.includes(h)).length} repeated`);
    }
    await shot(page, 'older');
    await page.getByRole('button', { name: '← Newer' }).click();
    await atPath(page, /^\/activity$/, 'Newer goes back to page 1');
    const again = await poll(async () => {
      const h = await hrefs();
      return { ok: h.length && h[0] === first[0], seen: h[0] };
    });
    if (!again.ok) fail('page 1 again', first[0], again.seen);

    // Status filter, from the select, reflected in the URL.
    await page.getByLabel('Status', { exact: true }).selectOption('bounced');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await atPath(page, /[?&]status=bounced/, 'status in the URL');
    const rows = page.getByRole('table').locator('tbody tr');
    await hasText(rows.first(), P.bounced, 'bounced row');
    for (const t of await rows.allInnerTexts()) {
      if (!t.includes('bounced')) fail('status filter', 'only bounced rows', JSON.stringify(t));
    }
    // A reload keeps the search (it is in the URL).
    await page.reload({ waitUntil: 'domcontentloaded' });
    const sel = await visible(page.getByLabel('Status', { exact: true }), 'Status select');
    if ((await sel.inputValue()) !== 'bounced') fail('Status after reload', 'bounced', await sel.inputValue());
    await shot(page, 'bounced-filter');

    // Subject, and a time window (UTC) before any message: nothing.
    await page.goto(P.base_url + '/activity', { waitUntil: 'domcontentloaded' });
    await page.getByLabel('Subject', { exact: true }).fill(P.subject);
    await page.getByLabel('To', { exact: true }).fill('2020-01-01T00:00');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await atPath(page, /until=2020-01-01T00%3A00%3A00Z/, 'until in the URL, as UTC');
    await hasText(page.locator('.results'), 'No messages found', 'empty result');
    await page.getByLabel('To', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const subjRows = page.getByRole('table').locator('tbody tr');
    await visible(subjRows, 'rows for the subject');
    for (const t of await subjRows.allInnerTexts()) {
      if (!t.includes(P.subject)) fail('subject filter', `rows with "${P.subject}"`, JSON.stringify(t));
    }
    await shot(page, 'subject-filter');
  },

  async bounced_deferred(page) {
    await signIn(page);
    await openMessage(page, P.bounced);
    let panel = page.getByRole('tabpanel', { name: 'Timeline' });
    await hasText(panel, '550 5.1.1', 'the 550 reply');
    await hasText(panel, 'User unknown', 'the 550 reply text');
    await hasText(page.locator('.rcpt-summary'), 'bounced', 'the bounced status');
    await hasText(evidenceRegion(page), 'bounced', 'the evidence status');
    await shot(page, 'bounced');

    // Switch with the recipient picker.
    const picker = await visible(page.getByLabel('Recipient', { exact: true }), 'recipient picker');
    await picker.selectOption(P.deferred);
    await atPath(page, new RegExp(`recipient=${encodeURIComponent(P.deferred)}`), 'picker updates the URL');
    panel = page.getByRole('tabpanel', { name: 'Timeline' });
    await hasText(panel, '451 4.3.0', 'the 451 reason');
    await hasText(panel, 'Next attempt', 'the next attempt');
    await hasText(page.locator('.rcpt-summary'), 'deferred', 'the deferred status');
    await hasText(page.locator('.rcpt-summary'), /Next attempt \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'the next attempt time');
    await shot(page, 'deferred');

    // The open tab stays open, and in the URL, when the recipient changes.
    await page.getByRole('tab', { name: 'Transcript' }).click();
    await atQuery(page, { recipient: P.deferred, tab: 'transcript' }, 'Transcript of the deferred recipient');
    await picker.selectOption(P.bounced);
    await atQuery(page, { recipient: P.bounced, tab: 'transcript' }, 'picker keeps the tab in the URL');
    await selectedTab(page, 'Transcript', 'after switching recipients');
    await hasText(page.getByRole('tabpanel', { name: 'Transcript' }), '550 5.1.1', 'the 550 reply in the transcript');
    await shot(page, 'bounced-transcript');
  },

  async queue_retry(page) {
    await signIn(page);
    await navTo(page, 'Queue');
    await atPath(page, /^\/queue$/, 'Queue page');
    await heading(page, 'Queue');
    const table = await visible(page.getByRole('table'), 'queue table');
    const row = table.locator('tbody tr', { hasText: P.deferred });
    await visible(row, `queue row for ${P.deferred}`);
    await hasText(row, '451 4.3.0', 'last reason');
    await hasText(row, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'next attempt time');
    await visible(row.getByRole('link', { name: P.subject || /./ }), 'subject link');
    await shot(page, 'queue');
    await page.getByRole('button', { name: `Retry now ${P.deferred}`, exact: true }).click();
    await hasText(page.getByRole('status').first(), `Retry started for ${P.deferred}`, 'retry notice');
    await shot(page, 'retried');
  },

  async queue_delete(page) {
    await signIn(page);
    await navTo(page, 'Queue');
    await heading(page, 'Queue');
    const row = page.getByRole('table').locator('tbody tr', { hasText: P.deferred });
    await visible(row, `queue row for ${P.deferred}`);
    const del = page.getByRole('button', { name: `Delete ${P.deferred}`, exact: true });

    await del.click();
    const dlg = await visible(page.getByRole('dialog'), 'confirmation dialog');
    await hasText(dlg, 'Delete this recipient from the queue? It will not be delivered.', 'dialog text');
    await shot(page, 'dialog');
    await dlg.getByRole('button', { name: 'Cancel', exact: true }).click();
    await gone(page.getByRole('dialog'), 'dialog after Cancel');
    await hasText(page.getByRole('status').first(), 'Kept', 'cancel notice');
    await visible(row, 'row after Cancel');

    await del.click();
    const dlg2 = await visible(page.getByRole('dialog'), 'confirmation dialog (2nd)');
    await dlg2.getByRole('button', { name: 'Delete', exact: true }).click();
    await gone(page.getByRole('dialog'), 'dialog after Delete');
    await hasText(page.getByRole('status').first(), `Deleted ${P.deferred}`, 'delete notice');
    await gone(page.locator('tbody tr', { hasText: P.deferred }), 'queue row after Delete');
    await shot(page, 'deleted');
  },

  async statistics(page) {
    await signIn(page);
    await navTo(page, 'Statistics');
    await atPath(page, /^\/statistics/, 'Statistics page');
    await heading(page, 'Statistics');
    const canvases = page.locator('figure canvas');
    const r = await poll(async () => ({ ok: (await canvases.count()) >= 2, seen: `${await canvases.count()} canvases` }));
    if (!r.ok) fail('charts', 'two canvas charts', r.seen);
    for (const name of ['Volume', 'Acceptance rate']) {
      await visible(page.getByRole('figure', { name }), `chart "${name}"`);
    }
    const domains = await visible(page.getByRole('table', { name: /by domain/i }), 'domain table');
    await visible(domains.getByRole('rowheader', { name: P.domain || 'example.net', exact: true }), 'domain row');
    await hasText(page.locator('.stat-grid'), /acceptance rate/i, 'totals');
    if (P.totals_all) await expectTotals(page, P.totals_all, 'totals of all domains');
    await shot(page, 'statistics');

    // The recipient-domain filter: "All domains", then the domains largest
    // first; choosing one narrows everything in place (focus stays on the
    // select) and puts it in the URL.
    const dom = P.domain || 'example.net';
    const filter = await visible(page.getByLabel('Recipient domain', { exact: true }), 'Recipient domain select');
    const options = await filter.locator('option').allInnerTexts();
    const listed = await domains.locator('tbody th').allInnerTexts();
    if (options[0] !== 'All domains' || options.slice(1).join() !== listed.join() || !listed.includes(dom)) {
      fail('Recipient domain options', `All domains, ${listed.join(', ')} (with ${dom})`, options.join(', '));
    }
    await filter.focus();
    await filter.selectOption(dom);
    await atQuery(page, { domain: dom }, 'domain in the URL');
    if (P.totals_domain) await expectTotals(page, P.totals_domain, `totals at ${dom}`);
    if (P.totals_all && P.totals_domain && P.totals_all.Delivered === P.totals_domain.Delivered) {
      fail('totals', 'different numbers for one domain and for all', JSON.stringify([P.totals_all, P.totals_domain]));
    }
    const focusedSel = await page.evaluate(() => document.activeElement && document.activeElement.tagName + ':' + document.activeElement.value);
    if (focusedSel !== `SELECT:${dom}`) fail('focus after choosing a domain', `on the select (${dom})`, focusedSel);
    await hasText(page.getByRole('status'), `Recipients at ${dom}`, 'the change is announced');
    const narrowed = page.getByRole('table', { name: /by domain/i }).locator('tbody th');
    const r1 = await poll(async () => {
      const t = await narrowed.allInnerTexts();
      return { ok: t.length === 1 && t[0] === dom, seen: t.join(', ') };
    });
    if (!r1.ok) fail('domain table with the filter', `only ${dom}`, r1.seen);
    await hasText(page.getByRole('figure', { name: 'Volume' }), `recipients at ${dom}`, 'the chart summary names the domain');
    await audit(page, `Statistics for ${dom}`);
    await shot(page, 'statistics-domain');
    await page.reload({ waitUntil: 'domcontentloaded' });
    if (P.totals_domain) await expectTotals(page, P.totals_domain, `totals at ${dom} after a reload`);
    const kept = await page.getByLabel('Recipient domain', { exact: true }).inputValue();
    if (kept !== dom) fail('Recipient domain after a reload', dom, kept);
    // Domains are case-insensitive: the URL takes the list's spelling.
    await page.goto(`${P.base_url}/statistics?domain=${encodeURIComponent(dom.toUpperCase())}`, { waitUntil: 'domcontentloaded' });
    await atQuery(page, { domain: dom }, 'an upper-case domain in the URL');
    if (P.totals_domain) await expectTotals(page, P.totals_domain, `totals at ${dom.toUpperCase()}`);
    if ((await page.getByLabel('Recipient domain', { exact: true }).inputValue()) !== dom) fail('Recipient domain for an upper-case URL', dom, 'another');
    await page.getByLabel('Recipient domain', { exact: true }).selectOption({ label: 'All domains' });
    await atQuery(page, { domain: null }, 'All domains');
    if (P.totals_all) await expectTotals(page, P.totals_all, 'totals of all domains again');

    // Each domain in the table is a link to its filter; Back undoes it.
    await page.getByRole('table', { name: /by domain/i }).getByRole('link', { name: dom, exact: true }).click();
    await atQuery(page, { domain: dom }, 'the domain link');
    await heading(page, 'Statistics');
    if (P.totals_domain) await expectTotals(page, P.totals_domain, `totals at ${dom} from the link`);
    const picked = await page.getByLabel('Recipient domain', { exact: true }).inputValue();
    if (picked !== dom) fail('Recipient domain after the link', dom, picked);
    await page.goBack({ waitUntil: 'domcontentloaded' });
    await atQuery(page, { domain: null }, 'Back from the domain link');
    if (P.totals_all) await expectTotals(page, P.totals_all, 'totals after Back');
    if ((await page.getByLabel('Recipient domain', { exact: true }).inputValue()) !== '') fail('Recipient domain after Back', 'All domains', 'a domain');
    await audit(page, 'Statistics, all domains');

    // Charts follow the window's width: each canvas fills its box again.
    const widths = () => canvases.first().evaluate((c) => [c.getBoundingClientRect().width, c.closest('.chart').clientWidth]);
    let [w1] = await widths();
    for (const width of [1000, 480]) {
      await page.setViewportSize({ width, height: 900 });
      const r2 = await poll(async () => {
        const [w2, box] = await widths();
        return { ok: Math.abs(w2 - w1) > 20 && Math.abs(w2 - box) <= 2, seen: `canvas ${w1} -> ${w2} px, its box ${box} px` };
      });
      if (!r2.ok) fail(`chart resize to a ${width} px window`, 'a canvas as wide as its box', r2.seen);
      [w1] = await widths();
    }
    await shot(page, 'statistics-narrow');
    await page.setViewportSize({ width: 1280, height: 900 });

    await page.getByText('Last 30 days').click();
    await atPath(page, /range=30d/, 'range in the URL');
    await visible(page.locator('figure canvas'), 'charts for 30 days');
    await shot(page, 'statistics-30d');

    // The period and the domain are kept together.
    await page.getByLabel('Recipient domain', { exact: true }).selectOption(dom);
    await atQuery(page, { range: '30d', domain: dom }, 'domain with the 30-day range');
    await page.getByText('Last 7 days').click();
    await atQuery(page, { range: '7d', domain: dom }, 'range with the domain');
    if (P.totals_domain) await expectTotals(page, P.totals_domain, `totals at ${dom} for 7 days`);
    await shot(page, 'statistics-7d-domain');
    await page.getByRole('link', { name: 'Show all domains', exact: true }).click();
    await atQuery(page, { range: '7d', domain: null }, 'Show all domains');
    if (P.totals_all) await expectTotals(page, P.totals_all, 'totals of all domains for 7 days');
  },

  async domains(page) {
    await signIn(page);
    await navTo(page, 'Domains');
    await atPath(page, /^\/domains$/, 'Domains page');
    await heading(page, 'Domains');
    const nav = page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Domains', exact: true });
    if ((await nav.getAttribute('aria-current')) !== 'page') fail('Domains nav link', 'aria-current="page"', await nav.getAttribute('aria-current'));
    await checkAccessibleBasics(page);

    // The verified domain: badge, time of the last check, passing checks, keys.
    const good = await visible(page.getByRole('region', { name: P.good_domain, exact: true }), `card of ${P.good_domain}`);
    await visible(good.getByRole('heading', { level: 2, name: P.good_domain, exact: true }), 'domain heading');
    await hasText(good.locator('.domain-badge'), /^verified$/, `${P.good_domain} badge`);
    await hasText(good, /Last checked: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/, 'time of the last check (UTC)');
    const goodChecks = await visible(good.getByRole('table', { name: /DNS checks/ }), 'checks table');
    await hasText(goodChecks.locator('caption'), /all \d+ passed/, 'checks caption');
    const dkimRows = goodChecks.locator('tbody tr', { has: page.getByRole('rowheader', { name: 'DKIM key', exact: true }) });
    if ((await dkimRows.count()) !== 2) fail('DKIM checks of the verified domain', '2 rows (RSA and Ed25519)', `${await dkimRows.count()}`);
    for (let i = 0; i < 2; i++) {
      await hasText(dkimRows.nth(i).locator('td').first(), 'pass', 'DKIM check result');
      await hasText(dkimRows.nth(i), 'publishes the', 'DKIM check detail');
    }
    for (const name of ['SPF', 'DMARC', 'Return-path MX']) {
      const row = goodChecks.locator('tbody tr', { has: page.getByRole('rowheader', { name, exact: true }) });
      await hasText(row.locator('td').first(), 'pass', `${name} check result`);
    }
    for (const t of await goodChecks.locator('tbody tr td:nth-child(2)').allInnerTexts()) {
      if (!/pass/.test(t)) fail(`checks of ${P.good_domain}`, 'every result "pass"', JSON.stringify(t));
    }
    const keys = await visible(good.getByRole('table', { name: /DKIM keys/ }), 'DKIM keys table');
    for (const sel of P.good_selectors) {
      const row = keys.locator('tbody tr', { has: page.getByRole('rowheader', { name: sel, exact: true }) });
      await visible(row, `key ${sel}`);
      await hasText(row, /(rsa|ed25519)-sha256/, `algorithm of ${sel}`);
      await hasText(row, 'active', `state of ${sel}`);
      await hasText(row, `${sel}._domainkey.${P.good_domain}`, `DNS name of ${sel}`);
    }
    await visible(good.getByRole('button', { name: `Check now ${P.good_domain}`, exact: true }), 'Check now button');

    // The other one: not verified, with the failing checks and why.
    const bad = await visible(page.getByRole('region', { name: P.bad_domain, exact: true }), `card of ${P.bad_domain}`);
    await hasText(bad.locator('.domain-badge'), /^not verified$/, `${P.bad_domain} badge`);
    const badChecks = await visible(bad.getByRole('table', { name: /DNS checks/ }), 'checks table');
    await hasText(badChecks.locator('caption'), /\d+ of \d+ failed/, 'checks caption');
    for (const sel of P.bad_selectors) {
      const row = badChecks.locator('tbody tr', { hasText: `${sel}._domainkey.${P.bad_domain}` });
      await visible(row, `DKIM check of ${sel}`);
      await hasText(row.locator('th'), 'DKIM key', 'check name');
      await hasText(row.locator('td').first(), 'fail', 'DKIM check result');
      await hasText(row, 'no TXT record published yet', 'the reason');
    }
    const spf = badChecks.locator('tbody tr', { has: page.getByRole('rowheader', { name: 'SPF', exact: true }) });
    await hasText(spf.locator('td').first(), 'pass', 'SPF check result of the unverified domain');
    await audit(page, 'Domains');
    await shot(page, 'list');

    // Keyboard: Tab reaches each "Check now", in the order of the cards.
    const order = await page.evaluate(() => [...document.querySelectorAll('main button[aria-label^="Check now"]')].map((b) => b.getAttribute('aria-label')));
    if (order.join() !== [`Check now ${P.bad_domain}`, `Check now ${P.good_domain}`].join()) {
      fail('Check now buttons', `one per domain (${P.bad_domain}, ${P.good_domain})`, JSON.stringify(order));
    }

    // Add a domain with the form: the records to publish are shown.
    const form = page.getByRole('region', { name: 'Add a domain', exact: true });
    await (await visible(form.getByLabel('Domain', { exact: true }), 'Domain field')).fill(P.good_domain);
    await form.getByLabel('Sending IP addresses', { exact: true }).fill('127.0.0.1');
    await form.getByRole('button', { name: 'Add domain', exact: true }).click();
    await hasText(form.getByRole('alert'), 'has been added already', 'adding an existing domain');
    await form.getByLabel('Domain', { exact: true }).fill(P.added_domain);
    await form.getByLabel('Sending IP addresses', { exact: true }).fill('127.0.0.1, 127.0.0.4');
    await form.getByRole('button', { name: 'Add domain', exact: true }).click();
    await hasText(form.getByRole('status'), `Added ${P.added_domain}`, 'added notice');
    const recs = await visible(form.getByRole('table', { name: 'DNS records to publish' }), 'records table');
    await hasText(recs, `._domainkey.${P.added_domain}`, 'DKIM record');
    await hasText(recs, 'v=spf1 ip4:127.0.0.1 ip4:127.0.0.4', 'SPF record');
    await hasText(recs, `_dmarc.${P.added_domain}`, 'DMARC record');
    await hasText(recs, 'Return path', 'return-path records');
    const added = await visible(page.getByRole('region', { name: P.added_domain, exact: true }), `card of ${P.added_domain}`);
    await hasText(added.locator('.domain-badge'), /^not verified$/, `${P.added_domain} badge`);
    await hasText(added, 'Last checked: never', 'never checked');
    await hasText(added, 'Not checked yet', 'no checks yet');
    await audit(page, 'Domains after adding one');
    await shot(page, 'added');

    await page.setViewportSize({ width: 480, height: 900 });
    await audit(page, 'Domains in a narrow window');
    await shot(page, 'narrow');
  },

  async domains_check(page) {
    // The DKIM keys of bad_domain are in DNS now: "Check now" verifies it.
    await signIn(page);
    await navTo(page, 'Domains');
    await heading(page, 'Domains');
    const card = await visible(page.getByRole('region', { name: P.bad_domain, exact: true }), `card of ${P.bad_domain}`);
    await hasText(card.locator('.domain-badge'), /^not verified$/, 'badge before the check');
    const before = await card.locator('time').first().getAttribute('datetime');
    const button = card.getByRole('button', { name: `Check now ${P.bad_domain}`, exact: true });
    await button.focus();
    await page.keyboard.press('Enter');
    const status = card.getByRole('status');
    await hasText(status, 'Checking…', 'status while checking');
    await shot(page, 'checking');
    await hasText(status, /Checked at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: verified/, 'status after the check', WAIT_MAX);
    await hasText(card.locator('.domain-badge'), /^verified$/, 'badge after the check');
    await hasText(page.locator('.domain-summary'), '3 domains, 2 verified', 'summary after the check');
    const after = await card.locator('time').first().getAttribute('datetime');
    if (!after || after === before) fail('last checked', `a time after ${before}`, String(after));
    const checks = card.getByRole('table', { name: /DNS checks/ });
    for (const t of await checks.locator('tbody tr td:nth-child(2)').allInnerTexts()) {
      if (!/pass/.test(t)) fail(`checks of ${P.bad_domain} after publishing`, 'every result "pass"', JSON.stringify(t));
    }
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('aria-label'));
    if (focused !== `Check now ${P.bad_domain}`) fail('focus after the check', 'still on the Check now button', JSON.stringify(focused));
    await audit(page, 'Domains after Check now');
    await shot(page, 'checked');
  },

  async api_key(page) {
    await signIn(page, { apiKey: true });
    await shot(page, 'activity');
  },

  async wrong_password(page) {
    await page.goto(P.base_url + '/activity', { waitUntil: 'domcontentloaded', timeout: WAIT_MAX });
    await atPath(page, /^\/login/, 'signed-out visit to /activity');
    await heading(page, 'Sign in');
    await page.getByLabel('User name', { exact: true }).fill(P.username);
    await page.getByLabel('Password', { exact: true }).fill(P.password + 'x');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await hasText(page.getByRole('alert'), 'Wrong user name or password', 'error message', WAIT_MAX);
    await atPath(page, /^\/login/, 'after a wrong password');
    if (await page.locator('#site-header').isVisible()) fail('header after a wrong password', 'hidden', 'visible');
    await shot(page, 'login-error');
    // Straight after a failure the server makes the next try wait (429,
    // Retry-After); the page waits that out once and signs in.
    await page.getByLabel('Password', { exact: true }).fill(P.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await atPath(page, /^\/activity/, 'the right password after a wrong one', WAIT_MAX);
    await heading(page, 'Activity');
  },

  async expired(page) {
    await signIn(page);
    await page.waitForTimeout((P.wait_seconds || 3) * 1000);
    await navTo(page, 'Queue');
    await atPath(page, /^\/login/, 'after the session expired');
    await hasText(page.getByRole('alert'), 'Your session has expired. Sign in again.', 'expiry message');
    await shot(page, 'login');
  },

  async cross_site(page, context) {
    // Sign in, then visit pages on other origins that try to act for the
    // user: one on the same host and another port (same site: the
    // SameSite=Strict cookie goes along, so the server's own checks must
    // refuse), one on another site (http://evil.example, served by
    // page.route). Each tries a form POST, a no-cors fetch and a DELETE.
    await signIn(page);
    const target = `${P.base_url}/api/v1/queue/${encodeURIComponent(P.message)}`;
    const q = `?recipient=${encodeURIComponent(P.deferred)}`;
    const evil = (origin) => `<!doctype html><html lang="en"><head><title>Win a prize</title></head><body>
<h1>Win a prize</h1>
<form id="f" method="post" action="${target}/retry${q}"><input type="hidden" name="x" value="1"></form>
<script>
fetch(${JSON.stringify(target + '/retry' + q)}, {method: 'POST', mode: 'no-cors', credentials: 'include', body: 'x=1'})
  .catch(() => {}).finally(() =>
    fetch(${JSON.stringify(target + q)}, {method: 'DELETE', credentials: 'include'}).catch(() => {}).finally(() => {
      document.title = 'sent'; document.getElementById('f').submit();
    }));
</script></body></html>`;

    const server = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(evil(`http://127.0.0.1:${server.address().port}`));
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    await context.route('http://evil.example/**', (route) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: evil('http://evil.example') }));

    const seen = [];
    page.on('response', (res) => {
      const u = res.url();
      if (u.startsWith(P.base_url + '/api/')) seen.push({ method: res.request().method(), url: u, status: res.status(), from: page.url() });
    });
    const origins = { 'same-site': `http://127.0.0.1:${server.address().port}/`, 'cross-site': 'http://evil.example/' };
    try {
      for (const [label, url] of Object.entries(origins)) {
        const before = seen.length;
        await page.goto(url, { waitUntil: 'domcontentloaded', timeout: WAIT_MAX });
        // The form's POST navigates to the daemon's answer.
        await atPath(page, /^\/api\/v1\/queue\//, `${label}: the form was posted`, WAIT_MAX);
        await page.waitForLoadState('load', { timeout: WAIT_MAX }).catch(() => {});
        const mine = seen.slice(before);
        const posts = mine.filter((s) => s.method === 'POST');
        if (!posts.length) fail(`${label}: the daemon's answers`, 'at least the form POST', JSON.stringify(mine));
        for (const s of mine) {
          if (s.method === 'OPTIONS') continue; // a CORS preflight: the DELETE itself was never allowed
          if (s.status !== 401 && s.status !== 403) fail(`${label}: ${s.method} ${s.url}`, '401 or 403', s.status);
        }
        if (label === 'same-site' && posts.some((s) => s.status !== 403)) {
          fail('same-site POST with the cookie', '403 (the Origin or the missing CSRF token refused)', JSON.stringify(posts));
        }
        await shot(page, label);
      }
    } finally {
      server.close();
    }
    result({ responses: seen });
  },
};

// -- main -------------------------------------------------------------------------

async function main() {
  if (!scenarios[scenario]) {
    console.error(`usage: PH_DASH='{...}' node dashboard.mjs SCENARIO\nscenarios: ${Object.keys(scenarios).join(', ')}`);
    return 2;
  }
  if (!P.base_url) {
    console.error('PH_DASH needs base_url');
    return 2;
  }
  const profile = mkdtempSync(path.join(os.tmpdir(), 'ph-chromium-'));
  let context;
  let page;
  const problems = [];
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1280, height: 900 },
      acceptDownloads: true,
      timeout: WAIT_MAX,
      locale: 'en-US',
      timezoneId: 'Europe/Berlin', // the page must show UTC whatever the browser's zone
    });
    context.setDefaultTimeout(WAIT);
    context.setDefaultNavigationTimeout(WAIT_MAX);
    page = context.pages()[0] || (await context.newPage());
    // A violated CSP or an uncaught error is a failure of every scenario.
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      const t = m.text();
      if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(t) && new URL(page.url()).origin === P.base_url) {
        problems.push(`console: ${t}`);
      }
    });
    await scenarios[scenario](page, context);
    if (problems.length) fail('the page logged problems', 'none', problems.join('\n            '));
    console.log(`ok ${scenario}`);
    return 0;
  } catch (e) {
    if (e instanceof Failure) console.error(`FAIL ${scenario}: ${e.message}`);
    else console.error(`FAIL ${scenario}: ${e && e.stack ? e.stack : e}`);
    if (problems.length) console.error(`page problems:\n  ${problems.join('\n  ')}`);
    if (page) {
      console.error(`at ${page.url()}`);
      await shot(page, 'failure').catch(() => {});
    }
    return 1;
  } finally {
    if (context) await context.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
}

process.exitCode = await main();
