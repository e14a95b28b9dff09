// Register, sign in (with a password, or a passkey alone), the second factor (choose
// a provider, the code with "Remember this browser", a passkey, a recovery code), and
// enrolment for a user who must set one up.

import { call, session } from './api.js';
import { h, replace, field, checkbox, form, button, showError, clearErrors, notice, section, describe } from './ui.js';
import { enrolment } from './account.js';
import { usePasskey, PASSKEY_WORDS } from './passkeys.js';

const PROVIDER_NAMES = { passkey: 'Passkey', authenticator: 'Authenticator app', email: 'Email', sms: 'SMS' };

// Every refusal of a passwordless sign-in answers alike (401 invalid_credentials).
const PASSKEY_SIGN_IN_WORDS = {
  ...PASSKEY_WORDS,
  invalid_credentials: 'This passkey was not accepted: it may have been removed from your account, or your device did not confirm it is you (fingerprint, face, PIN or screen lock). Try again, or sign in with your password.',
};

function tenantField(value = '') {
  return field('Tenant', 'tenant', { value, required: false, autocomplete: 'organization', hint: 'Leave empty unless your organisation gave you a tenant name.' });
}

const tenantOf = (v) => (v.tenant ? v.tenant : undefined);

export function register(main, go) {
  replace(main,
    h('h1', {}, 'Register'),
    form([
      field('Email', 'email', { type: 'email', autocomplete: 'email' }),
      field('Password', 'password', { type: 'password', autocomplete: 'new-password', hint: 'At least 12 characters; not a commonly used password.' }),
      tenantField(),
    ], 'Register', async (v, f) => {
      const r = await call('POST', '/register', { email: v.email, password: v.password, tenant: tenantOf(v) }, { anonymous: true });
      if (!r.ok) return showError(f, r);
      replace(main, h('h1', {}, 'Registered'),
        notice(`Your account ${r.body.email} is ready. Sign in to confirm your email and set up two-factor sign-in.`),
        h('p', {}, h('a', { href: '#/sign-in' }, 'Sign in')));
    }),
    h('p', {}, 'Already registered? ', h('a', { href: '#/sign-in' }, 'Sign in')));
  main.querySelector('input').focus();
}

export function signIn(main, go, { email = '', tenant = '', message } = {}) {
  const f = form([
    field('Email', 'email', { type: 'email', autocomplete: 'username', value: email }),
    field('Password', 'password', { type: 'password', autocomplete: 'current-password' }),
    tenantField(tenant),
  ], 'Sign in', async (v) => {
    const who = { email: v.email, tenant: tenantOf(v) };
    const r = await call('POST', '/login', { email: v.email, password: v.password, tenant: who.tenant }, { anonymous: true });
    if (!r.ok) return showError(f, r);
    const done = (token) => { session.set({ token, ...who }); go('#/account'); };
    if (r.body.status === 'signed_in') return done(r.body.access_token);
    if (r.body.status === 'two_factor_required') return secondFactor(main, r.body, done, { restart: () => signIn(main, go, { email: v.email, tenant: v.tenant }) });
    if (r.body.status === 'two_factor_setup_required') return setupRequired(main, go, r.body.setup_token, v);
  });
  replace(main,
    h('h1', {}, 'Sign in'),
    message ? notice(message, message.startsWith('Your session') ? 'warn' : 'ok') : null,
    f,
    passwordless(f, go),
    h('p', {}, h('a', {
      href: '#/forgot',
      // Carries what was typed over, so the email need not be typed twice.
      onclick: (ev) => { ev.preventDefault(); go('#/forgot', { email: f.email.value.trim(), tenant: f.tenant.value.trim() }); },
    }, 'Forgot your password?')),
    h('p', {}, 'No account yet? ', h('a', { href: '#/register' }, 'Register')));
  main.querySelector(email ? 'input[type=password]' : 'input').focus();
}

// "Sign in with a passkey": a passkey alone (both factors at once), on the side the
// sign-in form's tenant names. Who signed in is not typed: step-up asks the email.
function passwordless(f, go) {
  const status = h('p', { class: 'form-error', role: 'alert' });
  const fail = (r) => {
    if (r.field || r.error === 'unknown_tenant') return showError(f, r);
    status.textContent = PASSKEY_SIGN_IN_WORDS[r.error] || describe(r);
  };
  const run = async (ev) => {
    const trigger = ev.currentTarget;
    clearErrors(f);
    status.textContent = '';
    trigger.disabled = true;
    try {
      const tenant = f.tenant.value.trim() || undefined;
      const start = await call('POST', '/passkeys/sign-in', { tenant }, { anonymous: true });
      if (!start.ok) return fail(start);
      const used = await usePasskey(start.body.options);
      if (used.failure) return fail({ message: used.failure });
      const r = await call('POST', '/passkeys/sign-in/finish', { tenant, ceremony_id: start.body.ceremony_id, credential: used.credential }, { anonymous: true });
      if (!r.ok) return fail(r);
      session.set({ token: r.body.access_token, email: '', tenant });
      go('#/account');
    } finally { trigger.disabled = false; }
  };
  return h('div', { class: 'passkey-sign-in' },
    h('p', {}, 'Or, without a password:'),
    button('Sign in with a passkey', run, { kind: 'secondary' }),
    h('p', { class: 'hint' }, 'A passkey needs neither your email nor your password; fill in the tenant above if you have one.'),
    status);
}

// The second factor of a sign-in (or of a step-up): choose a provider, then the code.
// `step` is the login answer; `done(accessToken, signedIn)` gets the session.
export function secondFactor(container, step, done, { restart, stepUp = false } = {}) {
  const heading = stepUp ? 'h3' : 'h1';
  const choose = () => {
    replace(container,
      h(heading, {}, stepUp ? 'Confirm it is you' : 'Two-factor authentication'),
      h('p', {}, 'Choose how to prove it is you.'),
      h('div', { class: 'choices' },
        step.providers.map((p) => button(
          p === 'passkey' ? 'Use a passkey' : p === 'authenticator' ? 'Use your authenticator app' : `Send code by ${PROVIDER_NAMES[p]}`,
          () => (p === 'passkey' ? passkey() : p === 'authenticator' ? enter(p) : send(p)), { kind: 'secondary' })),
        button('Use a recovery code', () => enter('recovery_code'), { kind: 'link' })));
    container.querySelector('button').focus();
  };
  const send = async (provider, again) => {
    const r = await call('POST', '/send-code', { two_factor_token: step.two_factor_token, provider }, { anonymous: true, omitCookies: stepUp });
    if (r.status === 401) return expired();
    if (!r.ok) return enter(provider, r);
    document.dispatchEvent(new CustomEvent('twofa:code-sent'));
    enter(provider, null, `We sent a code to ${r.body.destination_hint}.${again ? ' Any earlier code no longer works.' : ''}`);
  };
  const expired = () => replace(container, notice('This sign-in took too long and has expired. Start again.', 'warn'),
    restart ? button('Start again', restart) : null);
  const enter = (provider, failure, sent) => {
    const recovery = provider === 'recovery_code';
    const f = form([
      recovery
        ? field('Recovery code', 'code', { autocomplete: 'off', hint: 'One of the codes you saved when you set up two-factor sign-in. Each works once.' })
        : field('Code', 'code', { autocomplete: 'one-time-code', inputmode: 'numeric', hint: provider === 'authenticator' ? 'The 6-digit code your authenticator app shows now.' : null }),
      step.remember_browser_allowed && !stepUp ? checkbox('Remember this browser', 'remember_browser') : null,
    ], 'Verify', async (v, f) => {
      const body = { two_factor_token: step.two_factor_token, provider, code: v.code.replace(/\s+/g, '') };
      if (v.remember_browser) body.remember_browser = true;
      const r = await call('POST', '/verify-code', body, { anonymous: true, omitCookies: stepUp });
      if (r.ok) return done(r.body.access_token, r.body);
      if (r.error === 'unauthorized') return expired();
      showError(f, r);
    }, [
      provider === 'email' || provider === 'sms' ? button('Send code again', () => send(provider, true), { kind: 'secondary' }) : null,
      recovery ? null : button('Use a recovery code', () => enter('recovery_code'), { kind: 'link' }),
      button('Choose another way', choose, { kind: 'link' }),
    ]);
    replace(container,
      h(heading, {}, stepUp ? `Confirm it is you: ${recovery ? 'recovery code' : `${PROVIDER_NAMES[provider]} code`}`
        : recovery ? 'Use a recovery code' : `Verify: ${PROVIDER_NAMES[provider]}`),
      sent ? notice(sent) : null, f);
    if (failure) showError(f, failure);
    f.querySelector('input').focus();
  };
  // The browser asks for the passkey when the button is pressed: a ceremony for this
  // sign-in (send-code), the browser's answer, verify-code.
  const passkey = () => {
    const f = form([
      h('p', {}, 'Your browser will ask for a passkey of this account: your fingerprint, face, screen lock or security key.'),
      step.remember_browser_allowed && !stepUp ? checkbox('Remember this browser', 'remember_browser') : null,
    ], 'Use your passkey', async (v, g) => {
      const start = await call('POST', '/send-code', { two_factor_token: step.two_factor_token, provider: 'passkey' }, { anonymous: true, omitCookies: stepUp });
      if (start.status === 401) return expired();
      if (!start.ok) return showError(g, start, PASSKEY_WORDS);
      const used = await usePasskey(start.body.options);
      if (used.failure) return showError(g, { message: used.failure });
      const body = { two_factor_token: step.two_factor_token, provider: 'passkey', ceremony_id: start.body.ceremony_id, credential: used.credential };
      if (v.remember_browser) body.remember_browser = true;
      const r = await call('POST', '/verify-code', body, { anonymous: true, omitCookies: stepUp });
      if (r.ok) return done(r.body.access_token, r.body);
      if (r.error === 'unauthorized') return expired();
      const left = r.body && r.body.attempts_remaining;
      showError(g, r, { ...PASSKEY_WORDS, invalid_code: `Your passkey was not accepted.${left !== undefined ? ` ${left} attempt(s) left before the account locks.` : ''}` });
    }, [
      button('Use a recovery code', () => enter('recovery_code'), { kind: 'link' }),
      button('Choose another way', choose, { kind: 'link' }),
    ]);
    replace(container, h(heading, {}, stepUp ? 'Confirm it is you: passkey' : 'Verify: Passkey'), f);
    f.querySelector('button[type=submit]').focus();
  };
  const only = step.providers.length === 1 && step.providers[0];
  if (only === 'authenticator') enter('authenticator');
  else if (only === 'passkey') passkey();
  else choose();
}

// A user the policy forces into two-factor sign-in with nothing to prove it: enrol
// with the setup token, then sign in again.
function setupRequired(main, go, setupToken, v) {
  const again = () => go('#/sign-in', { email: v.email, tenant: v.tenant, message: 'Two-factor sign-in is set up. Sign in again to use it.' });
  replace(main,
    h('h1', {}, 'Set up two-factor sign-in'),
    notice('Your organisation requires two-factor sign-in, and your account has no way to prove it yet. Set one up below, then sign in again.', 'warn'),
    enrolment(setupToken, again),
    section('Done?', h('p', {}, 'After setting up a way above, sign in again with it.'), button('Sign in again', again)));
}
