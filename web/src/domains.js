// domains.js - the Domains page: the account's sender domains, whether each
// is verified (only verified domains may send), the last DNS checks (DKIM,
// SPF, DMARC, return path) with the reason of each, and the DKIM keys.
// "Check now" asks the server to run the checks (POST .../verify answers 202
// and they run in the background, for every domain), then re-reads the
// domains every second, for up to ten, until this one's checked_at changes,
// and shows the new results of all; a role="status" line per domain says
// where that stands. "Add a domain" (POST /api/v1/domains)
// shows the DNS records to publish.

import { request, currentSession, ApiError } from './api.js';
import { h, uid, loadInto } from './dom.js';
import { timeEl, fmtTime } from './format.js';

const POLL_MS = 1000;
const POLL_TIMES = 10;

// What each check is called here (the API's names are short identifiers).
const CHECKS = {
  dkim: 'DKIM key',
  dkim_pending: 'DKIM key (new)',
  dkim_retiring: 'DKIM key (old)',
  dkim_rotation: 'DKIM key rotation',
  spf: 'SPF',
  return_path_spf: 'Return-path SPF',
  return_path_mx: 'Return-path MX',
  dmarc: 'DMARC',
};


const PURPOSES = { dkim: 'DKIM key', spf: 'SPF', dmarc: 'DMARC', return_path: 'Return path' };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function domainPath(name) {
  return `/api/v1/domains/${encodeURIComponent(name)}`;
}

/** The DKIM keys of a domain: [{selector, alg, dnsName, state}] (pending, active, retiring). */
function keysOf(d) {
  return (Array.isArray(d.dkim_keys) ? d.dkim_keys : []).map((k) => ({
    selector: k.selector,
    alg: k.algorithm,
    dnsName: `${k.selector}._domainkey.${d.domain}`,
    state: k.state,
  }));
}

function verifiedBadge(verified) {
  return h('span', { class: `badge badge-lg ${verified ? 'status-verified' : 'status-unverified'}` },
    verified ? 'verified' : 'not verified');
}

function resultBadge(result) {
  const pass = result === 'pass';
  return h('span', { class: `badge ${pass ? 'status-pass' : 'status-fail'}` },
    h('span', { 'aria-hidden': 'true' }, pass ? '✓ ' : '✗ '), pass ? 'pass' : 'fail');
}

function checksTable(d) {
  const checks = Array.isArray(d.checks) ? d.checks : [];
  if (!checks.length) {
    return h('p', { class: 'muted' }, 'Not checked yet. Publish the DNS records, then choose “Check now”.');
  }
  const failed = checks.filter((c) => c.result !== 'pass').length;
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data data-compact checks-table' },
    h('caption', null, `DNS checks of ${d.domain}: ${failed ? `${failed} of ${checks.length} failed` : `all ${checks.length} passed`}`),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Check'),
      h('th', { scope: 'col' }, 'Result'),
      h('th', { scope: 'col' }, 'Detail'))),
    h('tbody', null, checks.map((c) => h('tr', { class: c.result === 'pass' ? null : 'row-fail' },
      h('th', { scope: 'row', class: 'nowrap' }, CHECKS[c.check] || c.check),
      h('td', null, resultBadge(c.result)),
      h('td', { class: 'detail' }, c.detail || h('span', { class: 'muted' }, '—'))))),
  ));
}

function keysTable(d) {
  const keys = keysOf(d);
  if (!keys.length) return h('p', { class: 'muted' }, 'No DKIM keys.');
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data data-compact keys-table' },
    h('caption', null, `DKIM keys of ${d.domain}`),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Selector'),
      h('th', { scope: 'col' }, 'Algorithm'),
      h('th', { scope: 'col' }, 'State'),
      h('th', { scope: 'col' }, 'DNS name (TXT)'))),
    h('tbody', null, keys.map((k) => h('tr', null,
      h('th', { scope: 'row' }, h('code', null, k.selector)),
      h('td', { class: 'nowrap' }, k.alg || '—'),
      h('td', null, k.state),
      h('td', { class: 'addr' }, h('code', null, k.dnsName))))),
  ));
}

/** The parts of a domain's card that a check changes. */
function cardBody(d) {
  const ips = String(d.sending_ips || '').split(',').filter(Boolean);
  return [
    h('p', { class: 'domain-meta muted' },
      'Last checked: ', d.checked_at ? timeEl(d.checked_at, { relative: true }) : 'never',
      ips.length ? [' · Sending IP addresses: ', h('span', { class: 'muted-strong' }, ips.join(', '))] : null),
    h('h3', { class: 'h-small' }, 'Checks'),
    checksTable(d),
    h('h3', { class: 'h-small' }, 'DKIM keys'),
    keysTable(d),
  ];
}

/**
 * One domain's card: {el, show(domain)}. "Check now" hands the whole list it
 * read afterwards to onList (the server re-checks every domain at once).
 */
function domainCard(ctx, initial, onList) {
  const name = initial.domain;
  const titleId = uid('domain');
  const status = h('p', { class: 'notice notice-info domain-status', role: 'status' });
  const badgeSlot = h('span', { class: 'domain-badge' }, verifiedBadge(initial.verified));
  const body = h('div', { class: 'domain-body' }, cardBody(initial));
  const button = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Check now ${name}` }, 'Check now');
  const card = h('section', { class: 'card domain-card', 'aria-labelledby': titleId },
    h('div', { class: 'domain-head' },
      h('h2', { id: titleId, class: 'domain-name' }, name),
      badgeSlot,
      h('div', { class: 'domain-actions' }, button)),
    status,
    body);

  const show = (d) => {
    badgeSlot.replaceChildren(verifiedBadge(d.verified));
    body.replaceChildren(...cardBody(d));
  };
  const say = (text, error = false) => {
    status.classList.toggle('notice-error', error);
    status.classList.toggle('notice-info', !error);
    status.textContent = text;
  };

  let busy = false;
  button.addEventListener('click', async () => {
    // aria-disabled rather than disabled: the button keeps keyboard focus.
    if (busy) return;
    busy = true;
    button.setAttribute('aria-disabled', 'true');
    say('Checking…');
    try {
      const before = await request('POST', `${domainPath(name)}/verify`);
      let got = null;
      for (let i = 0; i < POLL_TIMES && !got; i++) {
        await sleep(POLL_MS);
        if (!ctx.alive()) return;
        const all = await request('GET', '/api/v1/domains');
        if (!ctx.alive()) return;
        const d = (Array.isArray(all) ? all : []).find((x) => x.domain === name);
        if (!d) throw new ApiError(404, 'not_found', 'no such domain');
        if (d.checked_at && d.checked_at !== before.checked_at) {
          got = d;
          onList(all);
        }
      }
      if (got) {
        const failed = (got.checks || []).filter((c) => c.result !== 'pass').length;
        say(`Checked at ${fmtTime(got.checked_at)}: ${got.verified ? 'verified' : 'not verified'}` +
          (failed ? `, ${failed} ${failed === 1 ? 'check' : 'checks'} failed.` : ', every check passed.'));
      } else {
        say('The checks have not finished yet. The results shown are from the last check; try again in a minute.');
      }
    } catch (e) {
      if (!ctx.alive()) return;
      say(e.status === 404 ? `${name} is no longer one of this account's domains.` : `Checking failed: ${e.message}`, true);
    } finally {
      busy = false;
      button.removeAttribute('aria-disabled');
    }
  });
  return { el: card, show };
}

function emptyState() {
  const s = currentSession();
  return h('div', { class: 'empty' },
    h('p', { class: 'empty-title' }, 'No sender domains yet.'),
    h('p', { class: 'muted' }, 'Add one with the form below, or on the server with'),
    h('p', null, h('code', { class: 'command' }, `posthaste domain add example.com --account ${s ? s.account : 'NAME'} --ip 192.0.2.10`)),
    h('p', { class: 'muted' }, 'then publish the DNS records it lists and check the domain here. Only verified domains may send.'));
}

function recordsTable(records) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'data data-compact records-table' },
    h('caption', null, 'DNS records to publish'),
    h('thead', null, h('tr', null,
      h('th', { scope: 'col' }, 'Name'),
      h('th', { scope: 'col' }, 'Type'),
      h('th', { scope: 'col' }, 'Value'),
      h('th', { scope: 'col' }, 'Purpose'))),
    h('tbody', null, records.map((r) => h('tr', null,
      h('td', { class: 'addr' }, h('code', null, r.name)),
      h('td', null, r.type),
      h('td', { class: 'record-value' }, h('code', null, r.value)),
      h('td', { class: 'nowrap' }, PURPOSES[r.purpose] || r.purpose)))),
  ));
}

function addForm(ctx, reload) {
  const titleId = uid('add');
  const domain = h('input', { id: 'd-domain', name: 'domain', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'example.com' });
  const ips = h('input', { id: 'd-ips', name: 'ips', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: '192.0.2.10', 'aria-describedby': 'd-ips-hint' });
  const status = h('p', { class: 'notice notice-info', role: 'status' });
  const alertBox = h('div', { class: 'notice notice-error', role: 'alert', hidden: true });
  const out = h('div', { class: 'add-records' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Add domain');
  const form = h('form', { class: 'add-domain-form', novalidate: true },
    h('div', { class: 'add-grid' },
      h('div', { class: 'field' }, h('label', { for: 'd-domain' }, 'Domain'), domain),
      h('div', { class: 'field' }, h('label', { for: 'd-ips' }, 'Sending IP addresses'), ips,
        h('p', { class: 'hint', id: 'd-ips-hint' }, 'The addresses posthaste sends from, separated by commas or spaces.')),
      h('div', { class: 'add-submit' }, submit)));

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = domain.value.trim().toLowerCase();
    const list = ips.value.split(/[\s,]+/).filter(Boolean);
    alertBox.hidden = true;
    if (!name || !list.length) {
      alertBox.textContent = !name ? 'Enter the domain.' : 'Enter at least one sending IP address.';
      alertBox.hidden = false;
      (!name ? domain : ips).focus();
      return;
    }
    submit.disabled = true;
    status.textContent = `Adding ${name}…`;
    try {
      const res = await request('POST', '/api/v1/domains', { body: { domain: name, ips: list } });
      if (!ctx.alive()) return;
      status.textContent = `Added ${res.domain || name}. Publish these records in its DNS, then choose “Check now”.`;
      out.replaceChildren(h('h3', { class: 'h-small' }, `Records for ${res.domain || name}`), recordsTable(res.records || []));
      form.reset();
      await reload();
    } catch (err) {
      if (!ctx.alive()) return;
      status.textContent = '';
      alertBox.textContent = err.status === 409 ? `${name} has been added already.` : `Adding ${name} failed: ${err.message}`;
      alertBox.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  return h('section', { class: 'card add-domain', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, 'Add a domain'),
    h('p', { class: 'muted small' }, 'posthaste makes two DKIM keys for it and lists the DNS records to publish. The domain may send once its DKIM keys are in DNS and a check has found them.'),
    form, status, alertBox, out);
}

export async function render(ctx) {
  ctx.setTitle('Domains');
  const list = h('div', { class: 'results domain-list', 'aria-busy': 'true' }, h('p', { class: 'muted loading' }, 'Loading domains…'));
  const summary = h('p', { class: 'muted small domain-summary' });
  const cards = new Map(); // domain -> its card

  const summarize = (domains) => {
    const verified = domains.filter((d) => d.verified).length;
    summary.textContent = domains.length
      ? `${domains.length} ${domains.length === 1 ? 'domain' : 'domains'}, ${verified} verified.`
      : '';
  };
  // After "Check now": every card shows the new results.
  const update = (domains) => {
    for (const d of domains) {
      const c = cards.get(d.domain);
      if (c) c.show(d);
    }
    summarize(domains);
  };

  async function load() {
    let domains = await loadInto(list, ctx.alive, 'the domains', () => request('GET', '/api/v1/domains'));
    if (!domains) return;
    domains = Array.isArray(domains) ? domains : [];
    summarize(domains);
    cards.clear();
    for (const d of domains) cards.set(d.domain, domainCard(ctx, d, update));
    if (!domains.length) list.replaceChildren(emptyState());
    else list.replaceChildren(...[...cards.values()].map((c) => c.el));
  }

  ctx.main.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Domains'),
      h('p', { class: 'lede' }, 'The domains this account sends from. Mail is signed with DKIM and accepted for sending only from verified domains: their DKIM keys must be in DNS. The server re-checks them periodically, or at once with “Check now”. Times are UTC.'),
      summary),
    list,
    addForm(ctx, load));
  await load();
}
