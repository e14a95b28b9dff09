// Step-up in place: a change the API refuses with 403 `step_up_required` (a second
// factor older than the API allows) asks, where the user is, for the password and a
// fresh code, then runs the change again with the new session. Every guarded route
// goes through `guarded`, the admin forms as much as the account's.

import { call, session } from './api.js';
import { h, replace, field, form, button, showError } from './ui.js';
import { secondFactor } from './signin.js';

// Runs `action` (returning a Reply); on step_up_required asks for the password and a
// fresh code in `slot`, then resolves with the answer of `action` run again (or with
// the refusal, if the user cancels).
export function guarded(slot, action) {
  return action().then((r) => (r.error !== 'step_up_required' ? r : new Promise((resolve) => {
    const finish = async () => { replace(slot); resolve(await action()); };
    const cancel = () => { replace(slot); resolve(r); };
    stepUp(slot, finish, cancel);
  })));
}

function stepUp(slot, retry, cancel) {
  const s = session.get();
  if (!s) return cancel();
  // A tab opened after the sign-in resumed the session without knowing who typed what.
  const askEmail = !s.email;
  const box = h('div', { class: 'stepup', role: 'group', 'aria-label': 'Confirm it is you' });
  replace(slot, box);
  replace(box,
    h('h3', {}, 'Confirm it is you'),
    h('p', {}, 'This change needs a recent sign-in: enter your password, then a fresh code if your account has a second factor.'),
    form([
      askEmail ? field('Email', 'email', { type: 'email', autocomplete: 'username' }) : null,
      field('Password', 'password', { type: 'password', autocomplete: 'current-password' }),
    ], 'Continue', async (v, f) => {
      const email = askEmail ? v.email : s.email;
      const tenant = s.tenant ?? session.claims()?.tenant;
      // Without cookies: a remembered browser must not stand in for the fresh code.
      const r = await call('POST', '/login', { email, tenant, password: v.password }, { anonymous: true, omitCookies: true });
      if (r.error === 'invalid_credentials') return showError(f, { ...r, field: 'password' }, { invalid_credentials: 'The password is wrong.' });
      if (!r.ok) return showError(f, r);
      const signedIn = async (token, body) => { session.set({ ...s, email, tenant, token: await adopt(token, body) }); retry(); };
      if (r.body.status === 'signed_in') return signedIn(r.body.access_token, r.body);
      if (r.body.status !== 'two_factor_required') return showError(f, { message: 'Sign in again to make this change.' });
      secondFactor(box, r.body, signedIn, { stepUp: true, restart: () => stepUp(slot, retry, cancel) });
    }, [button('Cancel', cancel, { kind: 'link' })]));
  box.scrollIntoView({ block: 'nearest' });
  box.querySelector('input').focus();
}

// The step-up's sign-in is a session of its own, whose refresh cookie the browser did
// not take (it sent and took no cookies). This browser keeps one session: the one the
// cookie holds is ended (which clears the cookie), and the new one's refresh token is
// renewed once with cookies, which sets the cookie to it. Its access token, or the
// step-up's should that fail (a reload will then ask to sign in again).
async function adopt(token, body) {
  if (typeof body?.refresh_token !== 'string') return token;
  await call('POST', '/token/revoke', {}, { anonymous: true });
  const r = await call('POST', '/token/refresh', { refresh_token: body.refresh_token }, { anonymous: true });
  return r.ok && typeof r.body?.access_token === 'string' ? r.body.access_token : token;
}
