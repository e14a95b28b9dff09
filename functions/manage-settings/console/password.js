import { call, session, signOut } from './api.js';
// sign out everywhere (signed in). A change, a reset and signing out everywhere end
// every session, this one included: the console then goes back to sign-in and says why.

import { h, replace, field, form, button, showError, notice, describe } from './ui.js';
import { guarded } from './stepup.js';

const NEW_PASSWORD_HINT = 'At least 12 characters; not a commonly used password.';

function tenantField(value = '') {
  return field('Tenant', 'tenant', { value, required: false, autocomplete: 'organization', hint: 'Leave empty unless your organisation gave you a tenant name.' });
}

// "Forgot your password?": the email (and tenant), then the code it receives with a
// new password. The API answers alike whether or not the account exists, and so
// does this page.
export function forgotPassword(main, go, { email = '', tenant = '' } = {}) {
  replace(main,
    h('h1', {}, 'Forgot your password?'),
    h('p', {}, 'Enter the email address of your account. If it is confirmed, we email it a code to choose a new password.'),
    form([
      field('Email', 'email', { type: 'email', autocomplete: 'username', value: email }),
      tenantField(tenant),
    ], 'Send code', async (v, f) => {
      const who = { email: v.email, tenant: v.tenant ? v.tenant : undefined };
      const r = await call('POST', '/password/forgot', who, { anonymous: true });
      if (!r.ok) return showError(f, r);
      document.dispatchEvent(new CustomEvent('twofa:code-sent'));
      resetPassword(main, go, who);
    }),
    h('p', {}, h('a', { href: '#/sign-in' }, 'Back to sign in')));
  main.querySelector('input').focus();
}

function resetPassword(main, go, who) {
  const f = form([
    field('Code', 'code', { autocomplete: 'one-time-code', inputmode: 'numeric', hint: 'The 6-digit code in the email.' }),
    field('New password', 'new_password', { type: 'password', autocomplete: 'new-password', hint: NEW_PASSWORD_HINT }),
  ], 'Reset password', async (v, g) => {
    const r = await call('POST', '/password/reset', { ...who, code: v.code.replace(/\s+/g, ''), new_password: v.new_password }, { anonymous: true });
    if (!r.ok) {
      return showError(g, r, {
        invalid_code: 'That code is wrong, was already used, or was not sent to this email.',
      });
    }
    go('#/sign-in', { email: who.email, tenant: who.tenant, message: 'Your password was reset and every session was signed out. Sign in with your new password.' });
  }, [button('Send code again', () => forgotPassword(main, go, who), { kind: 'secondary' })]);
  replace(main,
    h('h1', {}, 'Reset your password'),
    notice(`If ${who.email} belongs to an account with a confirmed email address, we sent it a code.`),
    f,
    h('p', {}, h('a', { href: '#/sign-in' }, 'Back to sign in')));
  f.querySelector('input').focus();
}

// Account security's "Password" section. With 2FA on, the change may first ask for
// a fresh second factor, in place.
export function changePassword(go) {
  const stepSlot = h('div');
  const f = form([
    field('Current password', 'current_password', { type: 'password', autocomplete: 'current-password' }),
    field('New password', 'new_password', { type: 'password', autocomplete: 'new-password', hint: NEW_PASSWORD_HINT }),
  ], 'Change password', async (v, g) => {
    const r = await guarded(stepSlot, () => call('PUT', '/account/password', v));
    if (r.ok) return ended(go, 'Your password was changed and every session was signed out. Sign in with your new password.');
    if (r.error === 'invalid_credentials') return showError(g, { ...r, field: 'current_password' }, { invalid_credentials: 'This is not your current password.' });
    if (r.error !== 'unauthorized') showError(g, r);
  });
  return h('div', {}, h('p', {}, 'Changing it signs you out everywhere, here too, and forgets your remembered browsers.'), f, stepSlot);
}

// Account security's "Sign out everywhere" section.
export function signOutEverywhere(go) {
  const slot = h('div');
  return h('div', {},
    h('p', {}, 'Ends every session of your account, on every device, this one included, and forgets your remembered browsers.'),
    button('Sign out everywhere', async () => {
      const r = await call('POST', '/account/sign-out-everywhere', {});
      if (r.ok) return ended(go, 'You were signed out everywhere.');
      if (r.error !== 'unauthorized') replace(slot, notice(describe(r), 'error'));
    }, { kind: 'danger' }),
    slot);
}

function ended(go, message) {
  const s = session.get() || {};
  // The session ended on the API's side; this clears the refresh cookie too.
  signOut();
  go('#/sign-in', { email: s.email, tenant: s.tenant, message });
}
