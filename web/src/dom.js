// dom.js - a tiny element builder and a few DOM helpers, so the pages read
// as markup without a framework. h('a', {href, class, onclick}, ...kids);
// kids may be strings, nodes, arrays, or null/false (skipped). Text is always
// set as text, never as HTML.

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (v === true) el.setAttribute(k, '');
      else el.setAttribute(k, String(v));
    }
  }
  append(el, kids);
  return el;
}

export function append(el, kids) {
  for (const k of kids) {
    if (k === null || k === undefined || k === false) continue;
    if (Array.isArray(k)) append(el, k);
    else if (k instanceof Node) el.appendChild(k);
    else el.appendChild(document.createTextNode(String(k)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

let idSeq = 0;
/** A document-unique id with a readable prefix. */
export function uid(prefix) {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

/** A <dl> from [label, value] pairs; pairs whose value is empty are left out. */
export function factList(pairs, cls = 'facts') {
  const dl = h('dl', { class: cls });
  for (const [label, value] of pairs) {
    if (value === null || value === undefined || value === '') continue;
    dl.append(h('div', { class: 'fact' }, h('dt', null, label), h('dd', null, value)));
  }
  return dl;
}

/** A status badge: the status word, coloured by class (status-<word>). */
export function badge(status, extra = '') {
  const word = String(status || 'unknown');
  const safe = word.replace(/[^a-z_-]/gi, '');
  return h('span', { class: `badge status-${safe}${extra ? ' ' + extra : ''}` }, word);
}

/** An error box (role=alert) for a failed load. */
export function errorBox(message) {
  return h('div', { class: 'notice notice-error', role: 'alert' }, message);
}

/**
 * Fill a region from the API: marks el aria-busy while fetch() runs, then
 * returns its value; on failure shows "Could not load <what>: ..." in el.
 * Returns null after a failure, or when alive() says the page has moved
 * on meanwhile (the answer is then dropped).
 */
export async function loadInto(el, alive, what, fetch) {
  el.setAttribute('aria-busy', 'true');
  let value;
  try {
    value = await fetch();
  } catch (e) {
    if (!alive()) return null;
    el.setAttribute('aria-busy', 'false');
    el.replaceChildren(errorBox(`Could not load ${what}: ${e.message}`));
    return null;
  }
  if (!alive()) return null;
  el.setAttribute('aria-busy', 'false');
  return value;
}
