// format.js - how the dashboard writes times, replies, rates and sizes.
// Times are shown in UTC ("2026-11-22 18:14:38 UTC") because postmasters
// compare them with server logs; a relative hint ("5 min ago") may follow.

import { h } from './dom.js';

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(0, 19).replace('T', ' ') + ' UTC';
}

/** "HH:MM:SS.mmm" of an ISO time (transcript lines), or the input unchanged. */
export function fmtClock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().slice(11, 23);
}

export function relTime(iso, now = Date.now()) {
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '';
  const diff = Math.round((t - now) / 1000);
  const abs = Math.abs(diff);
  let text;
  if (abs < 45) text = `${abs} s`;
  else if (abs < 45 * 60) text = `${Math.round(abs / 60)} min`;
  else if (abs < 36 * 3600) text = `${Math.round(abs / 3600)} h`;
  else text = `${Math.round(abs / 86400)} d`;
  if (abs < 5) return 'just now';
  return diff < 0 ? `${text} ago` : `in ${text}`;
}

/** <time> with the UTC time and, optionally, a relative hint after it. */
export function timeEl(iso, { relative = false } = {}) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const t = h('time', { datetime: iso }, fmtTime(iso));
  if (!relative) return t;
  const rel = relTime(iso);
  return h('span', { class: 'time-with-rel' }, t, rel ? h('span', { class: 'rel' }, ` (${rel})`) : null);
}

/** "451 4.3.0 text" from an SMTP code, enhanced code and text. */
export function fmtReply(code, enhanced, text) {
  return [code, enhanced, text].filter((x) => x !== null && x !== undefined && x !== '').join(' ');
}

export function fmtPct(rate) {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return '—';
  const p = rate * 100;
  return (p === 100 || p === 0 ? p.toFixed(0) : p.toFixed(1)) + '%';
}

export function fmtNum(n) {
  return Number(n || 0).toLocaleString('en-US');
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return null;
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** TLS facts of an event: null means the session was not encrypted. */
export function fmtTls(tls) {
  if (!tls) return 'none (not encrypted)';
  if (typeof tls === 'string') return tls;
  const parts = [tls.version, tls.cipher].filter(Boolean).join(' ');
  let text = parts || 'yes';
  if (tls.verified !== undefined && tls.verified !== null) {
    text += tls.verified ? ', certificate verified' : ', certificate not verified';
  }
  if (tls.peer_subject) text += ` (${tls.peer_subject})`;
  return text;
}

/** "mx.example.net [127.0.0.2]" or whichever half is known. */
export function fmtHost(host, ip) {
  if (host && ip) return `${host} [${ip}]`;
  return host || (ip ? `[${ip}]` : null);
}

export function fmtSender(from) {
  return from ? from : '<> (null sender)';
}
