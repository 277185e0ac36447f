// statistics.js - the Statistics page: totals, volume and acceptance rate
// over time (uPlot line charts) and by recipient domain (bars and a table)
// for the last 24 hours, 7 days or 30 days (GET /api/v1/stats with a bucket).
// Every chart has a text alternative: a one-line summary for screen readers
// and the numbers in a table behind "Show the numbers".
//
// A recipient-domain filter (?domain=, the API's domain parameter) narrows
// everything to one domain: a select lists the domains of the period, largest
// first, and each domain in the table links to its filter. The select updates
// the page in place (history.replaceState), so focus stays on it; the links
// are ordinary links, so Back returns to all domains.

import { request } from './api.js';
import { h, uid, loadInto } from './dom.js';
import { fmtNum, fmtPct, fmtTime } from './format.js';
import { lineChart, COLORS, formatX } from './charts.js';

const RANGES = {
  '24h': { label: 'Last 24 hours', seconds: 86400, bucket: 'hour', step: 3600 },
  '7d': { label: 'Last 7 days', seconds: 7 * 86400, bucket: 'hour', step: 3600 },
  '30d': { label: 'Last 30 days', seconds: 30 * 86400, bucket: 'day', step: 86400 },
};
const COUNTS = ['queued', 'deferred', 'delivered', 'bounced', 'expired', 'suppressed', 'deleted'];

const iso = (sec) => new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const same = (a, b) => String(a || '').toLowerCase() === String(b || '').toLowerCase();

/** /statistics with the current range and domain, changed by changes ({range, domain}; '' removes). */
function statsUrl(changes) {
  const cur = new URLSearchParams(window.location.search);
  const q = new URLSearchParams();
  for (const k of ['range', 'domain']) {
    const v = k in changes ? changes[k] : cur.get(k);
    if (v) q.set(k, v);
  }
  const s = q.toString();
  return '/statistics' + (s ? `?${s}` : '');
}

function rangePicker(ctx, current) {
  const name = uid('range');
  return h('fieldset', { class: 'segmented' },
    h('legend', { class: 'visually-hidden' }, 'Period'),
    Object.entries(RANGES).map(([key, r]) => {
      const id = `${name}-${key}`;
      const input = h('input', { type: 'radio', name, id, value: key, checked: key === current });
      input.addEventListener('change', () => {
        if (input.checked) ctx.navigate(statsUrl({ range: key }), { replace: true });
      });
      return h('span', { class: 'segment' }, input, h('label', { for: id }, r.label));
    }));
}

/** The "Recipient domain" select: "All domains", then fill(domains, current). */
function domainPicker(onChange) {
  const id = uid('domain');
  const sel = h('select', { id, name: 'domain' });
  sel.addEventListener('change', () => onChange(sel.value));
  const fill = (domains, current) => {
    const names = domains.filter((d, i) => domains.findIndex((e) => same(e, d)) === i);
    if (current && !names.some((d) => same(d, current))) names.push(current);
    sel.replaceChildren(h('option', { value: '' }, 'All domains'),
      ...names.map((d) => h('option', { value: d, selected: same(d, current) }, d)));
    if (!current) sel.value = '';
  };
  fill([], '');
  return { el: h('div', { class: 'field domain-filter' }, h('label', { for: id }, 'Recipient domain'), sel), fill };
}

function statCard(label, value, cls = '') {
  return h('div', { class: `stat ${cls}` }, h('div', { class: 'stat-label' }, label), h('div', { class: 'stat-value' }, value));
}

/** One x per bucket from the start of the range to now; counts default to 0. */
function fillSeries(series, range, nowSec) {
  const step = range.step;
  const start = Math.floor((nowSec - range.seconds) / step) * step; // the first bucket may be partial
  const end = Math.floor(nowSec / step) * step;
  const byAt = new Map();
  for (const p of series) {
    const t = Math.floor(new Date(p.at).getTime() / 1000);
    byAt.set(Math.floor(t / step) * step, p);
  }
  const x = [];
  const cols = { delivered: [], bounced: [], deferred: [], received: [], rate: [] };
  for (let t = start; t <= end; t += step) {
    const p = byAt.get(t);
    x.push(t);
    cols.delivered.push(p ? p.delivered || 0 : 0);
    cols.bounced.push(p ? p.bounced || 0 : 0);
    cols.deferred.push(p ? p.deferred || 0 : 0);
    cols.received.push(p ? p.received || 0 : 0);
    cols.rate.push(p && p.acceptance_rate !== null && p.acceptance_rate !== undefined ? p.acceptance_rate * 100 : null);
  }
  return { x, cols };
}

function numbersTable(caption, head, rows) {
  return h('details', { class: 'numbers' },
    h('summary', null, 'Show the numbers'),
    h('div', { class: 'table-wrap' }, h('table', { class: 'data data-compact' },
      h('caption', null, caption),
      h('thead', null, h('tr', null, head.map((c, i) => h('th', { scope: 'col', class: i ? 'num' : null }, c)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => (i ? h('td', { class: 'num' }, c) : h('th', { scope: 'row' }, c)))))))));
}

function chartFigure(title, summary, canvasHolder, table) {
  const id = uid('chart');
  return h('figure', { class: 'card chart-card', 'aria-labelledby': id },
    h('figcaption', { id, class: 'chart-title' }, title),
    h('p', { class: 'visually-hidden' }, summary),
    canvasHolder,
    table);
}

function domainRows(byDomain) {
  return Object.entries(byDomain || {}).map(([domain, d]) => {
    const delivered = d.delivered || 0;
    const bounced = d.bounced || 0;
    const deferred = d.deferred || 0;
    const other = (d.expired || 0) + (d.queued || 0) + (d.suppressed || 0);
    return { domain, delivered, bounced, deferred, other, total: delivered + bounced + deferred + other, rate: d.acceptance_rate };
  }).sort((a, b) => b.total - a.total || a.domain.localeCompare(b.domain));
}

function domainTable(rows, current) {
  const max = Math.max(1, ...rows.map((r) => r.total));
  const bar = (r) => {
    const el = h('div', { class: 'dbar', 'aria-hidden': 'true' });
    el.style.width = `${(r.total / max) * 100}%`;
    for (const k of ['delivered', 'bounced', 'deferred', 'other']) {
      if (!r[k]) continue;
      const seg = h('span', { class: `dbar-seg dbar-${k}` });
      seg.style.width = `${(r[k] / r.total) * 100}%`;
      el.append(seg);
    }
    return el;
  };
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data domain-table' },
    h('caption', null, current ? `Recipients by domain: ${current} only` : 'Recipients by domain, largest first'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Domain'),
      h('th', { scope: 'col', class: 'bar-col' }, h('span', { class: 'visually-hidden' }, 'Share (chart)')),
      h('th', { scope: 'col', class: 'num' }, 'Delivered'),
      h('th', { scope: 'col', class: 'num' }, 'Bounced'),
      h('th', { scope: 'col', class: 'num' }, 'Deferred'),
      h('th', { scope: 'col', class: 'num' }, 'Acceptance'))),
    h('tbody', null, rows.map((r) => h('tr', null,
      h('th', { scope: 'row', class: 'addr' }, current ? r.domain : h('a', { href: statsUrl({ domain: r.domain }), 'data-nav': true }, r.domain)),
      h('td', { class: 'bar-col' }, bar(r)),
      h('td', { class: 'num' }, fmtNum(r.delivered)),
      h('td', { class: 'num' }, fmtNum(r.bounced)),
      h('td', { class: 'num' }, fmtNum(r.deferred)),
      h('td', { class: 'num' }, fmtPct(r.rate))))),
  ));
}

/** Totals, charts and the domain table of one answer of GET /api/v1/stats, into body. */
function paint(body, stats, range, nowSec, domain) {
  const total = stats.total || {};
  const received = COUNTS.reduce((n, k) => n + (total[k] || 0), 0);
  const cards = h('div', { class: 'stat-grid' },
    statCard('Received', fmtNum(received)),
    statCard('Delivered', fmtNum(total.delivered), 'stat-delivered'),
    statCard('Bounced', fmtNum(total.bounced), 'stat-bounced'),
    statCard('Deferred', fmtNum(total.deferred), 'stat-deferred'),
    statCard('Acceptance rate', fmtPct(total.acceptance_rate), 'stat-rate'));

  const { x, cols } = fillSeries(stats.series || [], range, nowSec);
  const day = range.bucket === 'day';
  const unit = day ? 'day' : 'hour';
  const sum = (a) => a.reduce((n, v) => n + (v || 0), 0);
  const busiest = x.length ? x.reduce((best, t, i) => (cols.received[i] > cols.received[best] ? i : best), 0) : -1;

  const volHolder = h('div', { class: 'chart', 'aria-hidden': 'true' });
  const volSummary = `${range.label}${domain ? `, recipients at ${domain}` : ''}: ${fmtNum(sum(cols.delivered))} delivered, ${fmtNum(sum(cols.bounced))} bounced, ${fmtNum(sum(cols.deferred))} deferred` +
    (busiest >= 0 && cols.received[busiest] ? `; the busiest ${unit} was ${formatX(x[busiest], day)} UTC with ${fmtNum(cols.received[busiest])} recipients.` : '.');
  const rows = x.map((t, i) => [formatX(t, day), fmtNum(cols.delivered[i]), fmtNum(cols.bounced[i]), fmtNum(cols.deferred[i])]).filter((r, i) => cols.received[i] || cols.delivered[i] || cols.bounced[i] || cols.deferred[i]);
  const volume = chartFigure('Volume', volSummary, volHolder,
    numbersTable(`Recipients per ${unit} (UTC), ${unit}s with mail only`, [`${day ? 'Day' : 'Hour'} (UTC)`, 'Delivered', 'Bounced', 'Deferred'], rows));

  const rateHolder = h('div', { class: 'chart', 'aria-hidden': 'true' });
  const rates = cols.rate.filter((v) => v !== null);
  const rateSummary = rates.length
    ? `Acceptance rate per ${unit}: from ${fmtPct(Math.min(...rates) / 100)} to ${fmtPct(Math.max(...rates) / 100)}; ${fmtPct(total.acceptance_rate)} over the whole period.`
    : 'No acceptance rate yet: no recipient has had a final answer in this period.';
  const rateRows = x.map((t, i) => [formatX(t, day), cols.rate[i] === null ? '—' : fmtPct(cols.rate[i] / 100)]).filter((r, i) => cols.rate[i] !== null);
  const rateFig = chartFigure('Acceptance rate', rateSummary, rateHolder,
    numbersTable(`Acceptance rate per ${unit} (UTC)`, [`${day ? 'Day' : 'Hour'} (UTC)`, 'Acceptance'], rateRows));

  const domains = domainRows(stats.by_domain);
  const domainSection = h('section', { class: 'card', 'aria-labelledby': 'by-domain' },
    h('h2', { id: 'by-domain', class: 'chart-title' }, 'By recipient domain'),
    domain
      ? h('p', { class: 'muted small domain-hint' }, `Only recipients at ${domain}. `, h('a', { href: statsUrl({ domain: '' }), 'data-nav': true }, 'Show all domains'))
      : domains.length > 1 ? h('p', { class: 'muted small domain-hint' }, 'Choose a domain to see only its mail.') : null,
    domains.length ? domainTable(domains, domain) : h('p', { class: 'muted' }, domain ? `No recipients at ${domain} in this period.` : 'No recipients in this period.'),
    domains.length ? h('p', { class: 'legend small' },
      h('span', { class: 'key key-delivered' }), ' delivered ',
      h('span', { class: 'key key-bounced' }), ' bounced ',
      h('span', { class: 'key key-deferred' }), ' deferred ',
      h('span', { class: 'key key-other' }), ' other') : null);

  body.replaceChildren(
    cards,
    h('p', { class: 'muted small' }, `From ${fmtTime(iso(nowSec - range.seconds))} to now${domain ? `, recipients at ${domain} only` : ''}.`),
    h('div', { class: 'chart-grid' }, volume, rateFig),
    domainSection);

  lineChart(volHolder, {
    x,
    dayBuckets: day,
    yFormat: (v) => fmtNum(Math.round(v)),
    series: [
      { label: 'Delivered', values: cols.delivered, color: COLORS.delivered, fill: 'rgba(21,128,61,0.08)' },
      { label: 'Bounced', values: cols.bounced, color: COLORS.bounced },
      { label: 'Deferred', values: cols.deferred, color: COLORS.deferred },
    ],
  });
  lineChart(rateHolder, {
    x,
    dayBuckets: day,
    yMax: 100,
    yFormat: (v) => `${Math.round(v)}%`,
    series: [{ label: 'Acceptance rate', values: cols.rate, color: COLORS.rate, fill: 'rgba(29,78,216,0.08)' }],
  });
}

export async function render(ctx) {
  const key = RANGES[ctx.query.get('range')] ? ctx.query.get('range') : '24h';
  const range = RANGES[key];
  let domain = (ctx.query.get('domain') || '').trim();
  let domains = null; // the period's domains, unfiltered, largest first
  let seq = 0;
  const title = () => ctx.setTitle(domain ? `Statistics: ${domain}` : 'Statistics');
  const status = h('p', { class: 'visually-hidden', role: 'status' });
  const body = h('div', { class: 'stats-body', 'aria-busy': 'true' }, h('p', { class: 'muted loading' }, 'Loading statistics…'));

  const load = async (announce) => {
    const mine = ++seq;
    const current = () => ctx.alive() && mine === seq;
    const nowSec = Math.floor(Date.now() / 1000);
    const since = iso(nowSec - range.seconds);
    const got = await loadInto(body, current, 'statistics', () => Promise.all([
      request('GET', '/api/v1/stats', { query: { since, bucket: range.bucket, domain } }),
      domain && !domains ? request('GET', '/api/v1/stats', { query: { since } }) : null,
    ]));
    if (!got) return;
    const [stats, all] = got;
    if (!domain || all) domains = domainRows((all || stats).by_domain).map((r) => r.domain);
    const listed = domains.find((d) => same(d, domain));
    if (listed && listed !== domain) {
      domain = listed; // the spelling of the list: ?domain=EXAMPLE.NET -> example.net
      history.replaceState(null, '', statsUrl({ domain }));
      title();
    }
    picker.fill(domains, domain);
    paint(body, stats, range, nowSec, domain);
    if (announce) {
      const received = COUNTS.reduce((n, k) => n + ((stats.total || {})[k] || 0), 0);
      status.textContent = `${domain ? `Recipients at ${domain}` : 'All domains'}: ${fmtNum(received)} received.`;
    }
  };

  const picker = domainPicker((value) => {
    domain = value;
    history.replaceState(null, '', statsUrl({ domain }));
    title();
    load(true);
  });
  picker.fill([], domain);
  title();
  ctx.main.append(
    h('div', { class: 'page-head page-head-row' },
      h('div', null,
        h('h1', null, 'Statistics'),
        h('p', { class: 'lede' }, 'Recipients by the time their message was received, and what became of them. Times are UTC.')),
      h('div', { class: 'stats-controls' }, picker.el, rangePicker(ctx, key))),
    status,
    body);
  await load(false);
}
