// api.js - every request the dashboard makes: the cookie session
// (/auth/*) and the JSON API (/api/v1/*), same origin only.
//
// The session token lives in an HttpOnly cookie the page never sees; what the
// page keeps is the account name and the CSRF token, which it sends as
// X-CSRF-Token on every request that changes something. A 401 from the API
// means the session ended: onSessionEnded() (set by app.js) sends the user
// to the login page, and the request rejects with SessionEnded, which pages
// ignore. Other failures reject with ApiError (status, code, message).

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message || `request failed (${status})`);
    this.status = status;
    this.code = code || 'error';
    this.retryAfter = retryAfter; // seconds, from Retry-After (429, 503)
  }
}

export class SessionEnded extends Error {
  constructor() {
    super('session ended');
  }
}

let session = null; // {account, csrf_token, expires_at}
let onEnded = () => {};

export function currentSession() {
  return session;
}

export function onSessionEnded(fn) {
  onEnded = fn;
}

function buildUrl(path, query) {
  const url = new URL(path, window.location.origin);
  if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v !== null && v !== undefined && v !== '') url.searchParams.set(k, v);
    }
  }
  return url.pathname + url.search;
}

/** The same-origin URL of an API path with a query (for links). */
export function apiUrl(path, query) {
  return buildUrl(path, query);
}

async function errorFrom(res) {
  let code = 'http_' + res.status;
  let message = `The server answered ${res.status} ${res.statusText}`.trim();
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON: keep the generic message
  }
  const ra = Number.parseInt(res.headers.get('Retry-After') || '', 10);
  return new ApiError(res.status, code, message, Number.isFinite(ra) ? ra : null);
}

/**
 * request(method, path, {query, body, text}) -> parsed JSON (or text).
 * Network failures reject with ApiError(0, 'network').
 */
export async function request(method, path, { query, body, text = false } = {}) {
  const headers = { Accept: text ? 'text/plain' : 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session && session.csrf_token) {
    headers['X-CSRF-Token'] = session.csrf_token;
  }
  let res;
  try {
    res = await fetch(buildUrl(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      redirect: 'error',
    });
  } catch {
    throw new ApiError(0, 'network', 'Could not reach the posthaste server. Check your connection and try again.');
  }
  if (res.status === 401 && path.startsWith('/api/')) {
    session = null;
    onEnded();
    throw new SessionEnded();
  }
  if (!res.ok) throw await errorFrom(res);
  if (text) return res.text();
  if (res.status === 204) return {};
  return res.json();
}

/** GET /auth/session: the session, or null when not signed in. */
export async function loadSession() {
  try {
    session = await request('GET', '/auth/session');
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) session = null;
    else throw e;
  }
  return session;
}

/** POST /auth/login with {username, password} or {api_key}. */
export async function login(credentials) {
  session = await request('POST', '/auth/login', { body: credentials });
  return session;
}

export async function logout() {
  try {
    await request('POST', '/auth/logout', { body: {} });
  } finally {
    session = null;
  }
}
