// app.js - the dashboard's entry point: the router (History API), the
// session check at start-up, the header, and the hand-off to each page.
//
// Routes: / and /activity (Activity), /messages/<id>[?recipient=&tab=] (Message),
// /statistics, /queue, /domains, /login. Every page exports render(ctx);
// ctx carries the <main> element, the route's parameters and query,
// navigate(), and alive(), false once the user has moved on (pages check it
// after each await so a slow answer never paints over a newer page).

import { loadSession, currentSession, logout, onSessionEnded, SessionEnded } from './api.js';
import { h, clear, errorBox } from './dom.js';
import * as loginPage from './login.js';
import * as activityPage from './activity.js';
import * as messagePage from './message.js';
import * as statisticsPage from './statistics.js';
import * as queuePage from './queue.js';
import * as domainsPage from './domains.js';

const ROUTES = [
  { re: /^\/(?:activity)?$/, page: activityPage, section: 'activity' },
  { re: /^\/messages\/([^/]+)$/, page: messagePage, section: 'activity' },
  { re: /^\/statistics$/, page: statisticsPage, section: 'statistics' },
  { re: /^\/queue$/, page: queuePage, section: 'queue' },
  { re: /^\/domains$/, page: domainsPage, section: 'domains' },
  { re: /^\/login$/, page: loginPage, section: null, public: true },
];

const EXPIRED = 'Your session has expired. Sign in again.';

let renderSeq = 0;
let flash = null; // {kind: 'alert'|'status', text} shown once by the login page
let firstRender = true;

function match(pathname) {
  for (const r of ROUTES) {
    const m = r.re.exec(pathname);
    if (m) return { route: r, params: m.slice(1).map(decodeURIComponent) };
  }
  return null;
}

function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  render();
}

function loginUrlFor(path) {
  if (!path || path === '/' || path.startsWith('/login')) return '/login';
  return '/login?next=' + encodeURIComponent(path);
}

function updateHeader(section) {
  const header = document.getElementById('site-header');
  const s = currentSession();
  header.hidden = !s;
  document.getElementById('account-name').textContent = s ? s.account : '';
  for (const a of header.querySelectorAll('a[data-section]')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function render() {
  const seq = ++renderSeq;
  const main = document.getElementById('main');
  const { pathname, search } = window.location;
  const found = match(pathname);
  const s = currentSession();

  if (found && !found.route.public && !s) {
    history.replaceState(null, '', loginUrlFor(pathname + search));
    return render();
  }
  if (found && found.route.page === loginPage && s) {
    const next = new URLSearchParams(search).get('next');
    history.replaceState(null, '', safeNext(next));
    return render();
  }

  updateHeader(found ? found.route.section : null);
  clear(main);
  const ctx = {
    main,
    params: found ? found.params : [],
    query: new URLSearchParams(search),
    navigate,
    alive: () => seq === renderSeq,
    setTitle: (t) => {
      document.title = t ? `${t} · posthaste` : 'posthaste';
    },
    takeFlash: () => {
      const f = flash;
      flash = null;
      return f;
    },
    safeNext,
  };
  if (!found) {
    ctx.setTitle('Not found');
    main.append(
      h('h1', { tabindex: '-1' }, 'Page not found'),
      h('p', null, 'There is no page at this address. ', h('a', { href: '/activity', 'data-nav': true }, 'Go to Activity'), '.'),
    );
  } else {
    try {
      await found.route.page.render(ctx);
    } catch (e) {
      if (!(e instanceof SessionEnded) && ctx.alive()) {
        main.append(errorBox(e && e.message ? e.message : String(e)));
      }
    }
  }
  if (!firstRender && ctx.alive()) {
    // Move focus to the new page's heading so screen readers announce it.
    const h1 = main.querySelector('h1');
    if (h1) {
      if (!h1.hasAttribute('tabindex')) h1.setAttribute('tabindex', '-1');
      h1.focus({ preventScroll: false });
    }
  }
  firstRender = false;
}

/** Only same-site page paths are followed after login. */
function safeNext(next) {
  if (next && /^\/[^/\\]/.test(next) && !next.startsWith('/login') && match(next.split('?')[0])) {
    return next;
  }
  return '/activity';
}

function onClick(e) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest('a[href]');
  if (!a || a.hasAttribute('download') || (a.target && a.target !== '_self')) return;
  const url = new URL(a.href, window.location.href);
  if (url.origin !== window.location.origin || !match(url.pathname)) return;
  e.preventDefault();
  if (url.pathname === window.location.pathname && url.search === window.location.search && url.hash) {
    const target = document.getElementById(url.hash.slice(1));
    if (target) target.focus();
    return;
  }
  navigate(url.pathname + url.search);
}

async function signOut() {
  try {
    await logout();
    flash = { kind: 'status', text: 'You have signed out.' };
  } catch (e) {
    flash = { kind: 'alert', text: `Signing out failed: ${e.message}` };
  }
  navigate('/login');
}

async function start() {
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => render());
  document.getElementById('sign-out').addEventListener('click', signOut);
  onSessionEnded(() => {
    const { pathname, search } = window.location;
    if (pathname === '/login') return;
    flash = { kind: 'alert', text: EXPIRED };
    navigate(loginUrlFor(pathname + search));
  });
  // Skip link: move focus into <main> without changing the route.
  const skip = document.querySelector('.skip-link');
  if (skip) {
    skip.addEventListener('click', (e) => {
      e.preventDefault();
      document.getElementById('main').focus();
    });
  }
  try {
    await loadSession();
  } catch (e) {
    const main = document.getElementById('main');
    clear(main).append(h('h1', null, 'posthaste'), errorBox(e.message));
    return;
  }
  render();
}

start();
