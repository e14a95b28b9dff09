// Account security: the effective behaviour and who decided it, the 2FA switch,
// confirming email and phone, passkeys, the authenticator with its QR code, recovery codes,
// the signed-in sessions, remembered browsers, the password, signing out everywhere,
// the account's security events. A change that needs a fresh second factor asks for it in place (stepup.js)
// and then carries on.

import { call, session, signOut } from './api.js';
import { h, replace, field, form, button, showError, notice, section, describe, when } from './ui.js';
import { guarded } from './stepup.js';
import { changePassword, signOutEverywhere } from './password.js';
import { eventList } from './events.js';
import { passkeySection } from './passkeys.js';

const BEHAVIOUR = { forced: 'Required', optional: 'Optional', disabled: 'Turned off' };
const DECIDED_BY = {
  host: "the host's two-factor settings",
  tenant_feature: "the host, for your whole tenant",
  tenant: "your tenant's two-factor settings",
  user: 'your own choice',
};

// Enrolment for a user with only a setup token (or a session: token undefined).
export function enrolment(token, onDone) {
  const opts = { token };
  return h('div', {},
    section('Passkeys', passkeySection(null, opts, onDone)),
    section('Authenticator app', authenticatorSetup(opts, onDone)),
    section('Email', confirmEmail(opts, null, onDone)),
    section('Phone number', confirmPhone(opts, null, onDone)));
}

function authenticatorSetup(opts, onDone) {
  const slot = h('div');
  const start = async () => {
    const r = await guarded(slot, () => call('POST', '/account/authenticator', {}, opts));
    if (!r.ok) return replace(slot, notice(describe(r), 'error'), button('Set up authenticator app', start));
    const key = r.body.shared_key.replace(/\s+/g, '').match(/.{1,4}/g).join(' ');
    const img = h('img', { class: 'qr', width: 200, height: 200, alt: 'QR code of your new authenticator key. Scan it with your authenticator app.' });
    // As an image, the SVG is drawn and nothing in it runs.
    img.src = `data:image/svg+xml;base64,${btoa(unescape(encodeURIComponent(r.body.qr_code_svg)))}`;
    const f = form([field('Code', 'code', { autocomplete: 'one-time-code', inputmode: 'numeric', hint: 'The 6-digit code the app shows for twofa.' })], 'Verify', async (v, f) => {
      const done = await call('POST', '/account/authenticator/verify', { code: v.code.replace(/\s+/g, '') }, opts);
      if (!done.ok) return showError(f, done);
      replace(slot, recoveryCodes(done.body.recovery_codes, onDone, 'Your authenticator app is set up.'));
    });
    replace(slot,
      h('ol', { class: 'steps' },
        h('li', {}, 'Scan this QR code with your authenticator app (Google Authenticator, Microsoft Authenticator, 1Password, ...).', h('div', {}, img)),
        h('li', {}, 'Or type this key into the app: ', h('code', { class: 'key', 'aria-label': `Key: ${key}` }, key)),
        h('li', {}, 'Enter the code the app shows.')),
      f);
    f.querySelector('input').focus();
  };
  replace(slot, h('p', {}, 'Use an app that shows a new 6-digit code every 30 seconds.'), button('Set up authenticator app', start));
  return slot;
}

// The codes, shown once, with copy and download.
function recoveryCodes(codes, onDone, headline) {
  const status = h('p', { role: 'status', class: 'hint' });
  const text = codes.join('\n') + '\n';
  return h('div', { class: 'recovery' },
    headline ? notice(headline) : null,
    h('h3', {}, 'Save your recovery codes'),
    h('p', {}, 'Each code signs you in once if you lose your phone. They are shown only now: copy or download them and keep them somewhere safe.'),
    h('ol', { class: 'codes' }, codes.map((c) => h('li', {}, h('code', {}, c)))),
    h('div', { class: 'actions' },
      button('Copy', () => navigator.clipboard.writeText(text).then(
        () => { status.textContent = 'Copied.'; },
        () => { status.textContent = 'This browser did not allow copying: select the codes and copy them.'; }), { kind: 'secondary' }),
      button('Download', () => {
        const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
        const a = h('a', { href: url, download: 'twofa-recovery-codes.txt' });
        document.body.append(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
        status.textContent = 'Downloaded twofa-recovery-codes.txt.';
      }, { kind: 'secondary' }),
      button('I have saved them', onDone)),
    status);
}

// Send a code, then enter it: for confirming the email address or a phone number.
// A new phone number needs a fresh second factor when it is confirmed too (the code
// may come back after the one proven for sending it grew old): asked in place.
function codeConfirmation(slot, opts, purpose, sendBody, onDone, again) {
  const stepSlot = h('div');
  const f = form([field('Code', 'code', { autocomplete: 'one-time-code', inputmode: 'numeric' })], 'Verify', async (v, f) => {
    const r = await guarded(stepSlot, () => call('POST', '/verify-code', { purpose, code: v.code.replace(/\s+/g, '') }, opts));
    if (!r.ok) return r.error === 'unauthorized' && !opts.token ? null : showError(f, r);
    onDone();
  }, [button('Send code again', again, { kind: 'secondary' })]);
  return h('div', {}, f, stepSlot);
}

function confirmEmail(opts, state, onDone) {
  const slot = h('div');
  const send = async () => {
    const r = await call('POST', '/send-code', { purpose: 'confirm_email' }, opts);
    if (!r.ok) return replace(slot, notice(describe(r), 'error'), button('Send code', send));
    document.dispatchEvent(new CustomEvent('twofa:code-sent'));
    const f = codeConfirmation(slot, opts, 'confirm_email', null, onDone, send);
    replace(slot, notice(`We sent a code to ${r.body.destination_hint}.`), f);
    f.querySelector('input').focus();
  };
  if (state && state.confirmed) replace(slot, h('p', {}, `${state.hint}: confirmed.`));
  else replace(slot, h('p', {}, state ? `${state.hint}: not confirmed yet.` : 'Confirm your email address to receive codes by email.'), button('Send code', send, { 'aria-label': 'Send code to my email' }));
  return slot;
}

function confirmPhone(opts, state, onDone) {
  const slot = h('div');
  const ask = (failure) => {
    const f = form([field('Phone number', 'phone_number', { type: 'tel', autocomplete: 'tel', hint: 'In international format, e.g. +15555550100.' })], 'Send code', async (v, f) => {
      const r = await guarded(stepSlot, () => call('POST', '/send-code', { purpose: 'confirm_phone', phone_number: v.phone_number }, opts));
      if (!r.ok) return showError(f, r);
      document.dispatchEvent(new CustomEvent('twofa:code-sent'));
      const c = codeConfirmation(slot, opts, 'confirm_phone', null, onDone, () => ask());
      replace(slot, notice(`We sent a code to ${r.body.destination_hint}.`), c);
      c.querySelector('input').focus();
    });
    const stepSlot = h('div');
    replace(slot, state && state.hint ? h('p', {}, `${state.hint}: ${state.confirmed ? 'confirmed' : 'not confirmed yet'}.`) : null, f, stepSlot);
    if (failure) showError(f, failure);
  };
  if (state && state.confirmed) replace(slot, h('p', {}, `${state.hint}: confirmed.`), button('Change phone number', () => ask(), { kind: 'secondary' }));
  else ask();
  return slot;
}

export async function account(main, go) {
  const shown = main.dataset.screen;
  const r = await call('GET', '/account/two-factor');
  if (main.dataset.screen !== shown) return null;
  if (!r.ok) return r.status === 401 ? null : replace(main, h('h1', {}, 'Account security'), notice(describe(r), 'error'));
  const s = session.get();
  const claims = session.claims() || {};
  const tf = r.body;
  const refresh = () => account(main, go);

  const switchSlot = h('div');
  const reason = tf.can_change ? null
    : tf.behaviour !== 'optional' ? `You cannot change it: it is ${BEHAVIOUR[tf.behaviour].toLowerCase()} by ${DECIDED_BY[tf.decided_by]}.`
    : 'You cannot change it: your administrator does not let users turn it on or off.';
  const toggle = h('button', {
    type: 'button', role: 'switch', class: 'switch', 'aria-checked': String(tf.enabled), disabled: !tf.can_change,
    'aria-describedby': reason ? 'switch-reason' : undefined,
    onclick: async () => {
      const done = await guarded(switchSlot, () => call('PUT', '/account/two-factor', { enabled: !tf.enabled }));
      if (done.ok) refresh(); else if (done.status !== 401) replace(switchSlot, notice(describe(done), 'error'));
    },
  }, h('span', { class: 'track', 'aria-hidden': 'true' }), h('span', {}, 'Two-factor sign-in'), h('span', { class: 'state' }, tf.enabled ? 'On' : 'Off'));

  const hasProvider = tf.providers.passkey?.count > 0 || tf.providers.authenticator.enabled || tf.providers.email.confirmed || tf.providers.sms.confirmed;
  const auth = tf.providers.authenticator;
  const authSlot = h('div');
  if (!auth.allowed) replace(authSlot, h('p', {}, 'Your administrator does not allow authenticator apps.'));
  else if (auth.enabled) {
    const removeSlot = h('div');
    replace(authSlot, h('p', {}, 'Your authenticator app is set up.'),
      button('Remove authenticator app', async () => {
        const d = await guarded(removeSlot, () => call('DELETE', '/account/authenticator'));
        if (d.ok) refresh(); else if (d.status !== 401) replace(removeSlot, notice(describe(d), 'error'));
      }, { kind: 'danger' }), removeSlot);
  } else replace(authSlot, authenticatorSetup({}, refresh));

  const codesSlot = h('div');
  const newCodes = async () => {
    const d = await guarded(codesSlot, () => call('POST', '/account/recovery-codes', {}));
    if (d.ok) replace(codesSlot, recoveryCodes(d.body.recovery_codes, refresh, 'New recovery codes: the old ones no longer work.'));
    else if (d.status !== 401) replace(codesSlot, notice(describe(d), 'error'));
  };

  const [live, browsers] = await Promise.all([sessions(refresh, go), devices(refresh, tf.remember_browser_allowed)]);
  if (main.dataset.screen !== shown) return null;
  replace(main,
    h('h1', {}, 'Account security'),
    h('p', { class: 'who' }, s.email ? `Signed in as ${s.email}${s.tenant ? ` (tenant ${s.tenant})` : ''}. ` : 'Signed in. ', 'Your user id: ', h('code', { class: 'user-id' }, claims.sub || '')),
    section('Two-factor sign-in',
      h('dl', { class: 'facts' },
        h('dt', {}, 'Behaviour'), h('dd', { class: 'behaviour' }, BEHAVIOUR[tf.behaviour]),
        h('dt', {}, 'Decided by'), h('dd', { class: 'decided-by' }, DECIDED_BY[tf.decided_by])),
      toggle,
      reason ? h('p', { class: 'hint', id: 'switch-reason' }, reason) : null,
      tf.enabled && !hasProvider ? notice('Two-factor sign-in is on but nothing is set up to prove it: set up a way below, or you will be asked to at your next sign-in.', 'warn') : null,
      switchSlot),
    section('Email', tf.providers.email.allowed ? null : h('p', { class: 'hint' }, 'Your administrator does not allow codes by email.'), confirmEmail({}, tf.providers.email, refresh)),
    section('Phone number', tf.providers.sms.allowed ? null : h('p', { class: 'hint' }, 'Your administrator does not allow codes by SMS.'), confirmPhone({}, tf.providers.sms, refresh)),
    section('Passkeys', passkeySection(tf.providers.passkey || { allowed: false }, {}, refresh, go)),
    section('Authenticator app', authSlot),
    section('Recovery codes',
      h('p', {}, `${tf.recovery_codes_left} recovery code(s) left.`),
      button('Generate new recovery codes', newCodes, { kind: 'secondary' }), codesSlot),
    section('Signed-in sessions', live),
    section('Remembered browsers', browsers),
    section('Password', changePassword(go)),
    section('Sign out everywhere', signOutEverywhere(go)),
    section('Security events', h('p', { class: 'hint' }, 'What happened on your account, newest first.'), eventList('/account/events', { ownId: claims.sub })));
}

// How a session proved it was the user (RFC 8176 values, as its tokens say).
const METHODS = { pwd: 'password', otp: 'one-time code', sms: 'SMS code', hwk: 'passkey', swk: 'synced passkey' };
const methods = (amr) => (amr || []).filter((m) => m !== 'mfa').map((m) => METHODS[m] || m).join(' and ');

// Every session signed in to the account, this one first, each with a button that
// ends it. Ending this one signs out here.
async function sessions(refresh, go) {
  const slot = h('div');
  const r = await call('GET', '/account/sessions');
  if (!r.ok) return replace(slot, notice(describe(r), 'error'));
  const list = (r.body || []).slice().sort((a, b) => Number(b.current) - Number(a.current) || b.last_used_at - a.last_used_at);
  const end = (s) => async () => {
    if (s.current) {
      await signOut();
      return go('#/sign-in', { message: 'You have signed out.' });
    }
    const d = await call('DELETE', `/account/sessions/${encodeURIComponent(s.session_id)}`);
    if (d.ok || d.status === 404) refresh(); else if (d.status !== 401) replace(slot, notice(describe(d), 'error'));
  };
  return replace(slot,
    h('p', {}, 'Where your account is signed in. Ending a session signs that browser or app out at once.'),
    h('ul', { class: 'sessions' }, list.map((s) => h('li', { 'data-current': String(!!s.current) },
      h('span', { class: 'ua' }, s.user_agent || 'Unknown browser or app'),
      s.current ? h('strong', { class: 'current' }, ' (this session)') : null,
      h('span', { class: 'hint' }, ` Signed in ${when(s.created_at)} with ${methods(s.amr) || 'a password'}${s.ip ? ` from ${s.ip}` : ''}, last used ${when(s.last_used_at)}. `),
      button('End', end(s), { kind: s.current ? 'danger' : 'secondary', 'aria-label': s.current ? 'End this session (sign out)' : `End the session of ${s.user_agent || 'an unknown browser'} signed in ${when(s.created_at)}` })))));
}

async function devices(refresh, allowed) {
  const slot = h('div');
  const r = await call('GET', '/account/devices');
  if (!r.ok) return replace(slot, notice(describe(r), 'error'));
  const list = r.body || [];
  const forget = (path, method) => async () => {
    const d = await call(method, path, method === 'POST' ? {} : undefined);
    if (d.ok) refresh(); else if (d.status !== 401) replace(slot, notice(describe(d), 'error'));
  };
  return replace(slot,
    h('p', {}, allowed ? 'Browsers where you chose "Remember this browser" sign in without a code.' : 'Your administrator does not allow remembering browsers.'),
    list.length === 0 ? h('p', { class: 'empty' }, 'No remembered browsers.') : h('ul', { class: 'devices' }, list.map((d) => h('li', {},
      h('span', { class: 'ua' }, d.user_agent || 'Unknown browser'),
      h('span', { class: 'hint' }, ` Remembered ${when(d.created_at)}, last used ${when(d.last_used_at)}, until ${when(d.expires_at)}. `),
      button('Forget', forget(`/account/devices/${encodeURIComponent(d.device_id)}`, 'DELETE'), { kind: 'secondary', 'aria-label': `Forget ${d.user_agent || 'this browser'}` })))),
    list.length ? button('Forget all remembered browsers', forget('/account/forget-browser', 'POST'), { kind: 'danger' }) : null);
}
