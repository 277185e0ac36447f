// queue.js - the Queue page: recipients waiting for another attempt, with
// the last reason and the next attempt, and per row "Retry now" and "Delete"
// (Delete asks first in a modal <dialog>). Both send X-CSRF-Token (api.js);
// after either, a role="status" line says what happened and the list reloads.

import { request } from './api.js';
import { h, loadInto } from './dom.js';
import { timeEl, fmtReply, fmtHost } from './format.js';

const PAGE_SIZE = 100;

function confirmDelete(recipient) {
  // Resolves true for "Delete", false for "Cancel" or Escape.
  return new Promise((resolve) => {
    const titleId = 'delete-title';
    const descId = 'delete-desc';
    const del = h('button', { type: 'button', class: 'btn btn-danger' }, 'Delete');
    const cancel = h('button', { type: 'button', class: 'btn' }, 'Cancel');
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId, 'aria-describedby': descId },
      h('h2', { id: titleId }, 'Delete from the queue'),
      h('p', { id: descId }, 'Delete this recipient from the queue? It will not be delivered.'),
      h('p', { class: 'dialog-subject' }, h('strong', null, recipient)),
      h('div', { class: 'button-row button-row-end' }, cancel, del));
    const opener = document.activeElement;
    let answer = false;
    del.addEventListener('click', () => {
      answer = true;
      dlg.close();
    });
    cancel.addEventListener('click', () => dlg.close());
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (opener && opener.isConnected) opener.focus();
      resolve(answer);
    });
    document.body.append(dlg);
    dlg.showModal();
    cancel.focus(); // the safe choice has focus
  });
}

export async function render(ctx) {
  ctx.setTitle('Queue');
  const status = h('div', { class: 'notice notice-info', role: 'status' });
  const alertBox = h('div', { class: 'notice notice-error', role: 'alert', hidden: true });
  const list = h('div', { class: 'results', 'aria-busy': 'true' });
  ctx.main.append(
    h('div', { class: 'page-head' },
      h('h1', null, 'Queue'),
      h('p', { class: 'lede' }, 'Recipients that were deferred and wait for another attempt. “Retry now” tries again at once; “Delete” gives up on a recipient.')),
    status, alertBox, list);

  const say = (text) => {
    alertBox.hidden = true;
    status.textContent = text;
  };
  const fail = (text) => {
    status.textContent = '';
    alertBox.textContent = text;
    alertBox.hidden = false;
  };

  let cursors = ['']; // cursor of each page shown so far; the last is current

  async function load() {
    const page = await loadInto(list, ctx.alive, 'the queue',
      () => request('GET', '/api/v1/queue', { query: { limit: PAGE_SIZE, cursor: cursors[cursors.length - 1] } }));
    if (!page) return;
    const rows = page.data || [];
    if (!rows.length) {
      list.replaceChildren(h('div', { class: 'empty' },
        h('p', { class: 'empty-title' }, cursors.length > 1 ? 'No more deferred recipients.' : 'The queue is empty.'),
        h('p', { class: 'muted' }, 'No recipient is waiting for another attempt.')));
    } else {
      list.replaceChildren(table(rows));
    }
    const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
    if (cursors.length > 1) {
      pager.append(h('button', { type: 'button', class: 'btn', onclick: () => { cursors.pop(); load(); } }, '← First page'));
    }
    if (page.next_cursor) {
      pager.append(h('button', { type: 'button', class: 'btn pager-older', onclick: () => { cursors.push(page.next_cursor); load(); } }, 'More →'));
    }
    if (pager.childNodes.length) list.append(pager);
  }

  async function act(button, fn, done) {
    button.disabled = true;
    try {
      await fn();
      if (!ctx.alive()) return;
      say(done);
    } catch (e) {
      if (!ctx.alive()) return;
      fail(e.status === 404 ? 'That recipient is no longer in the queue.' : e.message);
    }
    await load();
  }

  function table(rows) {
    return h('div', { class: 'table-wrap' }, h('table', { class: 'data queue-table' },
      h('caption', null, `Deferred recipients (${rows.length})`),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, 'Recipient'),
        h('th', { scope: 'col' }, 'Subject'),
        h('th', { scope: 'col', class: 'num' }, 'Attempts'),
        h('th', { scope: 'col' }, 'Last reason'),
        h('th', { scope: 'col' }, 'Next attempt (UTC)'),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      h('tbody', null, rows.map((r) => {
        const msgPath = `/api/v1/queue/${encodeURIComponent(r.message)}`;
        const retry = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': `Retry now ${r.recipient}` }, 'Retry now');
        retry.addEventListener('click', () => act(retry,
          () => request('POST', `${msgPath}/retry`, { query: { recipient: r.recipient } }),
          `Retry started for ${r.recipient}.`));
        const del = h('button', { type: 'button', class: 'btn btn-small btn-danger-quiet', 'aria-label': `Delete ${r.recipient}` }, 'Delete');
        del.addEventListener('click', async () => {
          const yes = await confirmDelete(r.recipient);
          if (!ctx.alive()) return;
          if (!yes) {
            say(`Kept ${r.recipient} in the queue.`);
            return;
          }
          await act(del, () => request('DELETE', msgPath, { query: { recipient: r.recipient } }),
            `Deleted ${r.recipient} from the queue.`);
        });
        const last = r.last;
        const reason = last ? fmtReply(last.smtp_code, last.enhanced_code, last.response) : '';
        return h('tr', null,
          h('td', { class: 'addr' }, r.recipient),
          h('td', { class: 'subject' },
            h('a', { href: `/messages/${encodeURIComponent(r.message)}?recipient=${encodeURIComponent(r.recipient)}`, 'data-nav': true }, r.subject || '(no subject)'),
            r.from ? h('div', { class: 'muted small addr' }, `from ${r.from}`) : null),
          h('td', { class: 'num' }, String(r.attempts ?? '')),
          h('td', { class: 'reason' },
            reason ? h('code', { class: 'reply' }, reason) : h('span', { class: 'muted' }, 'no attempt yet'),
            last && (last.mx_host || last.remote_ip) ? h('div', { class: 'muted small' }, fmtHost(last.mx_host, last.remote_ip), last.at ? [' · ', timeEl(last.at)] : null) : null),
          h('td', { class: 'nowrap' }, timeEl(r.next_attempt_at, { relative: true })),
          h('td', { class: 'actions' }, h('div', { class: 'button-row' }, retry, del)));
      })),
    ));
  }

  await load();
}
