// activity.js - the Activity page: search messages by recipient, sender,
// subject, status and received time; one row per (message, recipient),
// newest first, with status badges. Filters live in the URL query so a
// search can be shared; paging follows the API's cursor (never an offset):
// "Older" opens the page at next_cursor, "Newer" goes back through the
// cursors seen on the way (kept per search in sessionStorage).

import { request } from './api.js';
import { h, badge, loadInto } from './dom.js';
import { timeEl, fmtSender } from './format.js';

export const STATUSES = ['queued', 'deferred', 'delivered', 'bounced', 'expired', 'suppressed', 'deleted'];
const PAGE_SIZE = 50;
const FILTERS = ['recipient', 'from', 'subject', 'status', 'since', 'until'];
const TRAIL_KEY = 'posthaste.activity.trail';

/** "2026-11-22T16:00:00Z" -> "2026-11-22T16:00" for datetime-local. */
function toLocalInput(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().slice(0, 16);
}

/** datetime-local value (read as UTC) -> RFC 3339 UTC, or ''. */
function fromLocalInput(v) {
  if (!v) return '';
  const d = new Date(v.length === 16 ? `${v}:00Z` : `${v}Z`);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function searchKey(query) {
  return FILTERS.map((f) => `${f}=${query.get(f) || ''}`).join('&');
}

/** Cursor trail of the current search: the cursors of the pages before this one. */
function loadTrail(key) {
  try {
    const t = JSON.parse(sessionStorage.getItem(TRAIL_KEY) || 'null');
    if (t && t.key === key && Array.isArray(t.cursors)) return t.cursors;
  } catch {
    // storage unavailable: paging back still works through "Newest"
  }
  return [];
}

function saveTrail(key, cursors) {
  try {
    sessionStorage.setItem(TRAIL_KEY, JSON.stringify({ key, cursors }));
  } catch {
    // ignore
  }
}

function pageUrl(query, cursor) {
  const q = new URLSearchParams();
  for (const f of FILTERS) if (query.get(f)) q.set(f, query.get(f));
  if (cursor) q.set('cursor', cursor);
  const s = q.toString();
  return '/activity' + (s ? `?${s}` : '');
}

function field(id, label, input, hint) {
  return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint || null);
}

function filterForm(ctx) {
  const q = ctx.query;
  const text = (id, name, label, placeholder, type = 'text') =>
    field(id, label, h('input', { id, name, type, value: q.get(name) || '', placeholder, autocomplete: 'off', spellcheck: 'false' }));
  const status = h('select', { id: 'f-status', name: 'status' },
    h('option', { value: '' }, 'Any'),
    STATUSES.map((s) => h('option', { value: s, selected: q.get('status') === s }, s)));
  const since = h('input', { id: 'f-since', name: 'since', type: 'datetime-local', value: toLocalInput(q.get('since')), 'aria-describedby': 'f-utc-hint' });
  const until = h('input', { id: 'f-until', name: 'until', type: 'datetime-local', value: toLocalInput(q.get('until')), 'aria-describedby': 'f-utc-hint' });

  const form = h('form', { class: 'filters', role: 'search', 'aria-label': 'Search messages', action: '/activity', method: 'get' },
    h('div', { class: 'filter-grid' },
      text('f-recipient', 'recipient', 'Recipient', 'alice@example.net'),
      text('f-from', 'from', 'Sender', 'app@example.com'),
      text('f-subject', 'subject', 'Subject', 'Words in the subject'),
      field('f-status', 'Status', status),
      h('fieldset', { class: 'time-range' },
        h('legend', null, 'Received'),
        h('div', { class: 'time-range-fields' },
          field('f-since', 'From', since),
          field('f-until', 'To', until)),
        h('p', { class: 'hint', id: 'f-utc-hint' }, 'Times are UTC.')),
    ),
    h('div', { class: 'filter-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary' }, 'Search'),
      FILTERS.some((f) => q.get(f)) ? h('a', { href: '/activity', class: 'btn btn-quiet', 'data-nav': true }, 'Clear filters') : null),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const f of ['recipient', 'from', 'subject', 'status']) {
      const v = String(data.get(f) || '').trim();
      if (v) next.set(f, v);
    }
    const s = fromLocalInput(since.value);
    const u = fromLocalInput(until.value);
    if (s) next.set('since', s);
    if (u) next.set('until', u);
    saveTrail(searchKey(next), []);
    ctx.navigate('/activity' + (next.toString() ? `?${next}` : ''));
  });
  return form;
}

/** Rows to show for one message: its recipients, narrowed by the filters. */
function rowsOf(msg, query) {
  const want = (query.get('recipient') || '').toLowerCase();
  const status = query.get('status') || '';
  let rcpts = msg.recipients || [];
  const narrowed = rcpts.filter((r) => (!want || r.recipient.toLowerCase() === want) && (!status || r.status === status));
  if (narrowed.length) rcpts = narrowed;
  return rcpts.map((r) => ({ msg, r }));
}

function resultsTable(rows, captionText) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data activity-table' },
      h('caption', null, captionText),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Status'),
        h('th', { scope: 'col' }, 'Received (UTC)'),
        h('th', { scope: 'col' }, 'Recipient'),
        h('th', { scope: 'col' }, 'Subject'),
        h('th', { scope: 'col' }, 'Sender'))),
      h('tbody', null, rows.map(({ msg, r }) => h('tr', null,
        h('td', null, badge(r.status)),
        h('td', { class: 'nowrap' }, timeEl(msg.received_at)),
        h('td', { class: 'addr' }, h('a', { href: `/messages/${encodeURIComponent(msg.id)}?recipient=${encodeURIComponent(r.recipient)}`, 'data-nav': true }, r.recipient)),
        h('td', { class: 'subject' }, msg.subject || h('span', { class: 'muted' }, '(no subject)')),
        h('td', { class: 'addr muted-strong' }, fmtSender(msg.from))))),
    ),
  );
}

export async function render(ctx) {
  ctx.setTitle('Activity');
  const q = ctx.query;
  const cursor = q.get('cursor') || '';
  const key = searchKey(q);
  let trail = loadTrail(key);
  // The trail holds the cursors of the pages before this one; a shared link
  // that starts mid-way has none, and "Newest" gets back to the start.
  const at = trail.indexOf(cursor);
  if (cursor && at >= 0) trail = trail.slice(0, at);

  const results = h('div', { class: 'results', 'aria-busy': 'true' }, h('p', { class: 'muted loading' }, 'Loading messages…'));
  ctx.main.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Activity'),
      h('p', { class: 'lede' }, 'Every message and what happened to each recipient, newest first.')),
    filterForm(ctx),
    results,
  );

  const query = { limit: PAGE_SIZE, cursor };
  for (const f of FILTERS) query[f] = q.get(f) || '';
  const page = await loadInto(results, ctx.alive, 'messages',
    () => request('GET', '/api/v1/messages', { query }));
  if (!page) return;

  const rows = page.data.flatMap((m) => rowsOf(m, q));
  const filtered = FILTERS.some((f) => q.get(f));
  const pageNo = cursor ? (trail.length ? trail.length + 1 : null) : 1;
  const caption = `Messages${filtered ? ' matching the search' : ''}, newest first` +
    (pageNo ? ` — page ${pageNo}` : ' — older page') + ` (${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`;

  const parts = [];
  if (!rows.length) {
    parts.push(h('div', { class: 'empty' },
      h('p', { class: 'empty-title' }, cursor ? 'No older messages.' : 'No messages found.'),
      h('p', { class: 'muted' }, filtered
        ? 'Nothing matches these filters. Recipient and sender match whole addresses; the subject matches any part.'
        : 'Messages appear here as soon as posthaste accepts them.')));
  } else {
    parts.push(resultsTable(rows, caption));
  }

  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  if (cursor) {
    const prev = trail.length ? trail[trail.length - 1] : '';
    const newer = h('button', { type: 'button', class: 'btn' }, trail.length ? '← Newer' : '← Newest');
    newer.addEventListener('click', () => {
      saveTrail(key, trail.slice(0, -1));
      ctx.navigate(pageUrl(q, trail.length ? prev : ''));
    });
    pager.append(newer);
  }
  if (page.next_cursor) {
    const older = h('button', { type: 'button', class: 'btn pager-older' }, 'Older →');
    older.addEventListener('click', () => {
      saveTrail(key, [...trail, cursor]);
      ctx.navigate(pageUrl(q, page.next_cursor));
    });
    pager.append(older);
  }
  if (pager.childNodes.length) parts.push(pager);
  results.replaceChildren(...parts);
}
