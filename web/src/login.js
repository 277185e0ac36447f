// login.js - the sign-in page: the account's SMTP user name and password,
// or (second form, behind a toggle) an API key. POST /auth/login sets the
// HttpOnly session cookie; on success the user goes on to ?next= or Activity.
// Failures are told in a role="alert" box; the server slows down repeated
// failures, so the button stays disabled while a request is out.

import { login, ApiError } from './api.js';
import { h } from './dom.js';

export async function render(ctx) {
  ctx.setTitle('Sign in');
  const flash = ctx.takeFlash();
  const alertBox = h('div', { class: 'notice notice-error', role: 'alert', hidden: true });
  const statusBox = h('div', { class: 'notice notice-info', role: 'status' });
  if (flash && flash.kind === 'alert') {
    alertBox.textContent = flash.text;
    alertBox.hidden = false;
  } else if (flash) {
    statusBox.textContent = flash.text;
  }

  const showError = (text) => {
    alertBox.textContent = text;
    alertBox.hidden = false;
  };

  async function submit(form, credentials, wrongText) {
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    button.textContent = 'Signing in…';
    try {
      try {
        await login(credentials);
      } catch (e) {
        // Right after a failed try the server makes the next one wait a
        // moment (429 with Retry-After); wait once for a short delay.
        if (!(e instanceof ApiError && e.status === 429 && e.retryAfter !== null && e.retryAfter <= 5)) throw e;
        await new Promise((r) => setTimeout(r, e.retryAfter * 1000 + 100));
        if (!ctx.alive()) return;
        await login(credentials);
      }
      if (!ctx.alive()) return;
      ctx.navigate(ctx.safeNext(ctx.query.get('next')), { replace: true });
    } catch (e) {
      if (!ctx.alive()) return;
      if (e instanceof ApiError && e.status === 401) showError(wrongText);
      else if (e instanceof ApiError && e.status === 429) showError('Too many failed sign-ins. Wait a little and try again.');
      else showError(e.message);
      button.disabled = false;
      button.textContent = 'Sign in';
    }
  }

  // User name and password.
  const user = h('input', { id: 'login-user', name: 'username', type: 'text', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const pass = h('input', { id: 'login-pass', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const pwForm = h('form', { class: 'stack', novalidate: true, 'aria-label': 'Sign in with user name and password' },
    h('div', { class: 'field' }, h('label', { for: 'login-user' }, 'User name'), user),
    h('div', { class: 'field' }, h('label', { for: 'login-pass' }, 'Password'), pass),
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in'),
  );
  pwForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!user.value || !pass.value) {
      showError('Enter the user name and the password.');
      (user.value ? pass : user).focus();
      return;
    }
    submit(pwForm, { username: user.value.trim(), password: pass.value }, 'Wrong user name or password.');
  });

  // API key.
  const key = h('input', { id: 'login-key', name: 'api_key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const keyForm = h('form', { class: 'stack', novalidate: true, hidden: true, 'aria-label': 'Sign in with an API key' },
    h('div', { class: 'field' }, h('label', { for: 'login-key' }, 'API key'), key,
      h('p', { class: 'hint' }, 'An API key of the account, as printed by ', h('code', null, 'posthaste account create'), '.')),
    h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, 'Sign in'),
  );
  keyForm.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!key.value.trim()) {
      showError('Enter the API key.');
      key.focus();
      return;
    }
    submit(keyForm, { api_key: key.value.trim() }, 'That API key was not accepted.');
  });

  const toggle = h('button', { type: 'button', class: 'btn-link' }, 'Sign in with an API key');
  toggle.addEventListener('click', () => {
    const toKey = keyForm.hidden;
    keyForm.hidden = !toKey;
    pwForm.hidden = toKey;
    alertBox.hidden = true;
    toggle.textContent = toKey ? 'Sign in with user name and password' : 'Sign in with an API key';
    (toKey ? key : user).focus();
  });

  ctx.main.append(
    h('div', { class: 'login-wrap' },
      h('div', { class: 'card login-card' },
        h('p', { class: 'login-brand', 'aria-hidden': 'true' }, h('span', { class: 'brand-mark' }, '✉'), ' posthaste'),
        h('h1', null, 'Sign in'),
        h('p', { class: 'muted' }, 'Use the SMTP user name and password of your posthaste account.'),
        alertBox, statusBox, pwForm, keyForm,
        h('p', { class: 'login-alt' }, toggle),
      ),
    ),
  );
  user.focus();
}
