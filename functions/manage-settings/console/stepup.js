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
  const box = h('div', { class: 'stepup', role: 'group', 'aria-label': 'Confirm it is you' });
  replace(slot, box);
  replace(box,
    h('h3', {}, 'Confirm it is you'),
    h('p', {}, 'This change needs a second factor proven in the last few minutes. Enter your password, then a fresh code.'),
    form([field('Password', 'password', { type: 'password', autocomplete: 'current-password' })], 'Continue', async (v, f) => {
      // Without cookies: a remembered browser must not stand in for the fresh code.
      const r = await call('POST', '/login', { email: s.email, tenant: s.tenant, password: v.password }, { anonymous: true, omitCookies: true });
      if (r.error === 'invalid_credentials') return showError(f, { ...r, field: 'password' }, { invalid_credentials: 'The password is wrong.' });
      if (!r.ok) return showError(f, r);
      const signedIn = (token) => { session.set({ ...s, token }); retry(); };
      if (r.body.status === 'signed_in') return signedIn(r.body.access_token);
      if (r.body.status !== 'two_factor_required') return showError(f, { message: 'Sign in again to make this change.' });
      secondFactor(box, r.body, signedIn, { stepUp: true, restart: () => stepUp(slot, retry, cancel) });
    }, [button('Cancel', cancel, { kind: 'link' })]));
  box.scrollIntoView({ block: 'nearest' });
  box.querySelector('input').focus();
}
