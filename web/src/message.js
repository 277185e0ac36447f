// message.js - the Message page (/messages/<id>?recipient=ADDR&tab=transcript):
// what happened to one recipient of one message. The subject heads the page;
// a picker chooses the recipient; a Timeline tab lists every event (time,
// remote host and IP, the reply, TLS) and a Transcript tab shows the SMTP
// conversations of that recipient's attempts; the Evidence card sums it up
// for the recipient's IT, with a copy button and a download. The recipient
// and the open tab (Timeline, the default, has no parameter) are kept in the
// URL with history.replaceState, so a link shares the view and a reload
// keeps it without adding history entries.

import { request, apiUrl, SessionEnded } from './api.js';
import { h, badge, factList, errorBox, uid } from './dom.js';
import { timeEl, fmtTime, fmtClock, fmtReply, fmtTls, fmtHost, fmtBytes, fmtSender } from './format.js';
import { tabs } from './tabs.js';

const TABS = ['timeline', 'transcript'];

const same = (a, b) => String(a || '').toLowerCase() === String(b || '').toLowerCase();
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

// -- timeline -------------------------------------------------------------------

function eventTitle(e) {
  const host = fmtHost(e.mx_host, e.remote_ip);
  switch (e.type) {
    case 'received':
      return `Accepted from ${e.client_ip || 'the submitter'}${e.source ? ` (${e.source === 'api' ? 'HTTP API' : e.source.toUpperCase()})` : ''}`;
    case 'delivered':
      return host ? `Delivered to ${host}` : 'Delivered';
    case 'bounced':
      return host ? `Rejected by ${host}` : 'Bounced';
    case 'deferred':
      return host ? `Deferred by ${host}` : 'Deferred';
    case 'expired':
      return 'Expired: gave up retrying';
    case 'suppressed':
      return 'Suppressed: not sent to this address';
    case 'deleted':
      return 'Deleted from the queue';
    default:
      return e.type ? e.type.charAt(0).toUpperCase() + e.type.slice(1).replace(/_/g, ' ') : 'Event';
  }
}

function eventFacts(e) {
  if (e.type === 'received') {
    return factList([
      ['Source', e.source === 'api' ? 'HTTP API' : e.source],
      ['Client IP', e.client_ip],
      ['HELO', e.helo],
      ['Authenticated as', e.auth_user],
      ['Envelope sender', e.mail_from !== undefined ? fmtSender(e.mail_from) : null],
      ['Size', fmtBytes(e.size)],
      ['TLS', e.source === 'api' ? null : fmtTls(e.tls)],
    ]);
  }
  const reply = fmtReply(e.smtp_code, e.enhanced_code, e.response);
  return factList([
    ['Attempt', e.attempt],
    ['Remote host', e.mx_host],
    ['Remote IP', e.remote_ip],
    ['Reply', reply ? h('code', { class: 'reply' }, reply) : null],
    ['Remote queue id', e.remote_queue_id ? h('code', null, e.remote_queue_id) : null],
    ['TLS', e.mx_host || e.remote_ip ? fmtTls(e.tls) : null],
    ['Sent from', fmtHost(e.helo_name, e.local_ip)],
    ['Bounce type', e.bounce_type],
    ['Category', e.category ? e.category.replace(/_/g, ' ') : null],
    ['Next attempt', e.next_attempt ? timeEl(e.next_attempt, { relative: true }) : null],
    ['Duration', e.duration_ms !== undefined && e.duration_ms !== null ? `${e.duration_ms} ms` : null],
    ['Route', e.route],
  ]);
}

function timelineView(events, onTranscript) {
  if (!events.length) return h('p', { class: 'muted' }, 'No events for this recipient yet.');
  return h('ol', { class: 'timeline' }, events.map((e) => h('li', { class: `event event-${String(e.type).replace(/[^a-z_-]/gi, '')}` },
    h('div', { class: 'event-dot', 'aria-hidden': 'true' }),
    h('div', { class: 'event-body' },
      h('div', { class: 'event-head' },
        badge(e.type),
        h('span', { class: 'event-title' }, eventTitle(e)),
        h('span', { class: 'event-time' }, timeEl(e.at))),
      eventFacts(e),
      e.transcript_id ? h('button', { type: 'button', class: 'btn-link event-transcript', onclick: () => onTranscript(e.transcript_id) }, 'Show the SMTP transcript') : null),
  )));
}

// -- transcript -----------------------------------------------------------------

const MARKS = {
  '>': { cls: 'sent', prefix: 'C:', title: 'sent by posthaste' },
  '<': { cls: 'reply', prefix: 'S:', title: 'reply from the receiving server' },
  '--': { cls: 'info', prefix: '--', title: 'connection' },
  dns: { cls: 'dns', prefix: 'DNS', title: 'DNS lookup' },
};

function parseLine(line) {
  const sp1 = line.indexOf(' ');
  if (sp1 < 0) return { ts: '', mark: '--', text: line };
  const ts = line.slice(0, sp1);
  const rest = line.slice(sp1 + 1);
  const sp2 = rest.indexOf(' ');
  const mark = sp2 < 0 ? rest : rest.slice(0, sp2);
  const text = sp2 < 0 ? '' : rest.slice(sp2 + 1);
  if (!MARKS[mark]) return { ts, mark: '--', text: rest };
  return { ts, mark, text };
}

function transcriptBlock(t, attempts, recipient) {
  const lines = String(t.text || '').split('\n').filter((l) => l.length);
  const pre = h('pre', { class: 'transcript', tabindex: '0', 'aria-label': 'SMTP transcript' });
  for (const raw of lines) {
    const { ts, mark, text } = parseLine(raw);
    const m = MARKS[mark];
    const mine = recipient && text.toLowerCase().includes(`<${recipient.toLowerCase()}>`);
    pre.append(h('span', { class: `tline tline-${m.cls}${mine ? ' tline-mine' : ''}` },
      h('span', { class: 'tts' }, fmtClock(ts)), ' ',
      h('span', { class: 'tmark', title: m.title }, m.prefix.padEnd(3, ' ')), ' ',
      h('span', { class: 'ttext' }, text), '\n'));
  }
  const first = attempts[0] || {};
  const headId = `transcript-${t.id}`;
  const label = [
    first.attempt ? `Attempt ${first.attempt}` : 'Attempt',
    fmtTime(t.at || first.at),
    fmtHost(first.mx_host, first.remote_ip),
  ].filter(Boolean).join(' · ');
  return h('section', { class: 'transcript-section', 'aria-labelledby': headId },
    h('h3', { id: headId, tabindex: '-1', class: 'transcript-head' }, label,
      first.type ? h('span', { class: 'sr-sep' }, ' ') : null, first.type ? badge(first.type) : null),
    pre);
}

function transcriptView(transcripts, events, recipient) {
  const ids = [];
  for (const e of events) if (e.transcript_id && !ids.includes(e.transcript_id)) ids.push(e.transcript_id);
  if (!ids.length) {
    return h('p', { class: 'muted' }, 'No delivery attempt has been made for this recipient yet, so there is no transcript.');
  }
  const byId = new Map(transcripts.map((t) => [t.id, t]));
  return h('div', { class: 'transcripts' },
    h('p', { class: 'transcript-legend' },
      h('span', { class: 'legend-item tline-sent' }, h('span', { class: 'tmark' }, 'C:'), ' sent by posthaste'),
      h('span', { class: 'legend-item tline-reply' }, h('span', { class: 'tmark' }, 'S:'), ' reply from the receiving server'),
      h('span', { class: 'legend-item tline-info' }, h('span', { class: 'tmark' }, '--'), ' connection'),
      h('span', { class: 'legend-item tline-dns' }, h('span', { class: 'tmark' }, 'DNS'), ' lookup')),
    ids.map((id) => {
      const t = byId.get(id);
      const attempts = events.filter((e) => e.transcript_id === id);
      if (!t) return h('p', { class: 'muted' }, `Transcript ${id} is no longer stored.`);
      return transcriptBlock(t, attempts, recipient);
    }));
}

// -- evidence -------------------------------------------------------------------

function evidenceFacts(ev) {
  const delivered = ev.status === 'delivered';
  const reply = fmtReply(ev.smtp_code, ev.enhanced_code, ev.response);
  return factList([
    ['Status', h('span', null, badge(ev.status), ev.attempts ? ` after ${plural(ev.attempts, 'attempt', 'attempts')}` : '')],
    [delivered ? 'Delivered at' : 'Last attempt', ev.delivered_at || ev.last_attempt_at ? timeEl(delivered ? ev.delivered_at || ev.last_attempt_at : ev.last_attempt_at) : null],
    ['Next attempt', ev.next_attempt_at ? timeEl(ev.next_attempt_at, { relative: true }) : null],
    ['Receiving server', fmtHost(ev.receiving_mx, ev.receiving_ip)],
    ["Server's reply", reply ? h('code', { class: 'reply' }, reply) : null],
    ["Server's queue id", ev.remote_queue_id ? h('code', null, ev.remote_queue_id) : null],
    ['TLS', ev.receiving_mx || ev.receiving_ip ? fmtTls(ev.tls) : null],
    ['Sending server', fmtHost(ev.sending_host, ev.sending_ip)],
    ['Sending IP', ev.sending_host ? null : ev.sending_ip],
    ['Reason', ev.category ? ev.category.replace(/_/g, ' ') : null],
  ], 'facts facts-evidence');
}

function safeFilePart(s) {
  return String(s).replace(/[^A-Za-z0-9@._+-]/g, '_');
}

function evidenceCard(id, recipient) {
  const headId = uid('evidence');
  const body = h('div', { class: 'evidence-body', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading evidence…'));
  const card = h('section', { class: 'card evidence', 'aria-labelledby': headId },
    h('h2', { id: headId }, 'Evidence'),
    h('p', { class: 'muted small' }, 'What to send the recipient’s mail administrator when they ask whether the message arrived.'),
    body);

  const textUrl = apiUrl(`/api/v1/messages/${encodeURIComponent(id)}/evidence`, { recipient, format: 'text' });
  Promise.all([
    request('GET', `/api/v1/messages/${encodeURIComponent(id)}/evidence`, { query: { recipient } }),
    request('GET', `/api/v1/messages/${encodeURIComponent(id)}/evidence`, { query: { recipient, format: 'text' }, text: true }),
  ]).then(([json, text]) => {
    const ev = (json.recipients || []).find((r) => same(r.recipient, recipient)) || (json.recipients || [])[0];
    body.setAttribute('aria-busy', 'false');
    if (!ev) {
      body.replaceChildren(h('p', { class: 'muted' }, 'No evidence for this recipient.'));
      return;
    }
    const status = h('p', { class: 'copy-status', role: 'status' });
    const fallbackId = uid('evidence-text');
    const area = h('textarea', { id: fallbackId, class: 'evidence-text', readonly: true, rows: '12', spellcheck: 'false' });
    area.value = text;
    const fallback = h('div', { class: 'field evidence-fallback', hidden: true },
      h('label', { for: fallbackId }, 'Evidence text'), area);
    const copy = h('button', { type: 'button', class: 'btn btn-primary' }, "Copy for the recipient's IT");
    copy.addEventListener('click', async () => {
      status.textContent = '';
      try {
        if (!navigator.clipboard || !navigator.clipboard.writeText) throw new Error('no clipboard');
        await navigator.clipboard.writeText(text);
        status.textContent = 'Copied';
      } catch {
        fallback.hidden = false;
        area.focus();
        area.select();
        status.textContent = 'Copying is blocked here: the text below is selected — press Ctrl+C (⌘C on a Mac) to copy it.';
      }
    });
    const download = h('a', { class: 'btn', href: textUrl, download: `evidence-${safeFilePart(id)}-${safeFilePart(recipient)}.txt` }, 'Download');
    const steps = ev.next_steps && ev.next_steps.length
      ? [h('h3', { class: 'h-small' }, 'What the recipient’s IT can do'), h('ol', { class: 'next-steps' }, ev.next_steps.map((s) => h('li', null, s)))]
      : null;
    body.replaceChildren(evidenceFacts(ev), ...(steps || []), h('div', { class: 'button-row' }, copy, download), status, fallback);
  }).catch((e) => {
    body.setAttribute('aria-busy', 'false');
    if (!(e instanceof SessionEnded)) body.replaceChildren(errorBox(`Could not load the evidence: ${e.message}`));
  });
  return card;
}

// -- page -----------------------------------------------------------------------

/** The current URL with the query parameter name set to value (or removed). */
function urlWith(name, value) {
  const q = new URLSearchParams(window.location.search);
  if (value) q.set(name, value);
  else q.delete(name);
  const s = q.toString();
  return window.location.pathname + (s ? `?${s}` : '');
}

function recipientSection(ctx, data, recipient, view) {
  const { detail, events, transcripts } = data;
  const r = detail.recipients.find((x) => same(x.recipient, recipient));
  const mine = events.filter((e) => same(e.recipient || e.rcpt, recipient))
    .map((e, i) => ({ e, i }))
    .sort((a, b) => String(a.e.at).localeCompare(String(b.e.at)) || a.i - b.i)
    .map((x) => x.e);

  const transcriptPanel = transcriptView(transcripts, mine, recipient);
  let tabset;
  const showTranscript = (tid) => {
    tabset.select('transcript', { focus: true });
    const head = document.getElementById(`transcript-${tid}`);
    if (head) head.scrollIntoView({ block: 'start' });
  };
  tabset = tabs({
    label: 'Delivery details',
    items: [
      { key: 'timeline', label: 'Timeline', panel: timelineView(mine, showTranscript) },
      { key: 'transcript', label: 'Transcript', panel: transcriptPanel },
    ],
    selected: view.tab,
    onSelect: (k) => {
      view.tab = k;
      if (!ctx.alive()) return;
      const url = urlWith('tab', k === TABS[0] ? '' : k);
      if (url !== window.location.pathname + window.location.search) history.replaceState(null, '', url);
    },
  });

  const summary = h('div', { class: 'rcpt-summary' },
    badge(r.status, 'badge-lg'),
    h('span', { class: 'rcpt-addr' }, r.recipient),
    h('span', { class: 'muted' }, plural(r.attempts || 0, 'attempt', 'attempts')),
    r.next_attempt_at ? h('span', null, 'Next attempt ', timeEl(r.next_attempt_at, { relative: true })) : null,
    r.updated_at ? h('span', { class: 'muted' }, 'Updated ', timeEl(r.updated_at)) : null);

  return h('div', { class: 'rcpt-section' },
    summary,
    h('div', { class: 'message-grid' },
      h('div', { class: 'message-main' }, tabset.el),
      h('div', { class: 'message-side' }, evidenceCard(detail.id, r.recipient))));
}

export async function render(ctx) {
  const id = ctx.params[0];
  ctx.setTitle('Message');
  const enc = encodeURIComponent(id);
  const loading = h('p', { class: 'muted loading' }, 'Loading the message…');
  ctx.main.append(h('p', { class: 'crumbs' }, h('a', { href: '/activity', 'data-nav': true }, '← Activity')), loading);

  let detail, ev, tr;
  try {
    [detail, ev, tr] = await Promise.all([
      request('GET', `/api/v1/messages/${enc}`),
      request('GET', `/api/v1/messages/${enc}/events`),
      request('GET', `/api/v1/messages/${enc}/transcript`).catch((e) => {
        if (e.status === 404) return { transcripts: [] };
        throw e;
      }),
    ]);
  } catch (e) {
    if (!ctx.alive()) return;
    loading.remove();
    ctx.main.append(h('h1', null, 'Message'), errorBox(e.status === 404 ? `There is no message ${id}.` : `Could not load the message: ${e.message}`));
    return;
  }
  if (!ctx.alive()) return;
  loading.remove();
  const data = { detail, events: ev.events || [], transcripts: tr.transcripts || [] };
  const rcpts = detail.recipients || [];
  const wanted = ctx.query.get('recipient');
  let recipient = (rcpts.find((r) => same(r.recipient, wanted)) || rcpts[0] || {}).recipient;
  const view = { tab: TABS.includes(ctx.query.get('tab')) ? ctx.query.get('tab') : TABS[0] };

  ctx.setTitle(detail.subject || '(no subject)');
  const sub = detail.submission || {};
  const meta = factList([
    ['From', fmtSender(detail.from)],
    ['Received', timeEl(detail.received_at, { relative: true })],
    ['Message id', h('code', null, detail.id)],
    ['Message-ID header', detail.message_id_header ? h('code', null, detail.message_id_header) : null],
    ['Size', fmtBytes(detail.size)],
    ['Submitted', [detail.source === 'api' ? 'HTTP API' : detail.source ? detail.source.toUpperCase() : null,
      sub.client_ip ? `from ${sub.client_ip}` : null, sub.auth_user ? `as ${sub.auth_user}` : null,
      sub.tls_version ? `over ${sub.tls_version}` : null].filter(Boolean).join(' ')],
    ['DKIM', detail.dkim ? (typeof detail.dkim === 'string' ? detail.dkim : [detail.dkim.domain, detail.dkim.selector].filter(Boolean).join(', selector ')) : 'not signed'],
    ['Recipients', String(rcpts.length)],
  ], 'facts facts-meta');

  const holder = h('div');
  const paint = () => {
    holder.replaceChildren(recipient ? recipientSection(ctx, data, recipient, view) : h('p', { class: 'muted' }, 'This message has no recipients.'));
  };

  let picker = null;
  if (rcpts.length > 1) {
    const sel = h('select', { id: 'rcpt-picker' }, rcpts.map((r) => h('option', { value: r.recipient, selected: r.recipient === recipient }, `${r.recipient} — ${r.status}`)));
    sel.addEventListener('change', () => {
      recipient = sel.value;
      history.replaceState(null, '', urlWith('recipient', recipient));
      paint();
    });
    picker = h('div', { class: 'field field-inline rcpt-picker' }, h('label', { for: 'rcpt-picker' }, 'Recipient'), sel,
      h('span', { class: 'muted small' }, `${rcpts.length} recipients`));
  }

  ctx.main.append(
    h('div', { class: 'page-head' },
      h('h1', { class: 'message-subject' }, detail.subject || '(no subject)'),
      meta),
    picker,
    holder);
  paint();
}
