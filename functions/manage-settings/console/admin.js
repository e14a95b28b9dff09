// Administration of one side: a host admin the host's settings, tenants and their
// feature; a tenant admin its tenant's settings. Both: a user's own 2FA flag by id.
// The API enforces who may do what; this page only hides what a role never has.

import { call } from './api.js';
import { h, replace, field, checkbox, radios, form, button, showError, notice, section, describe } from './ui.js';

const BEHAVIOURS = [['forced', 'Forced: every user must use two-factor sign-in'], ['optional', 'Optional: each user chooses'], ['disabled', 'Disabled: nobody uses it']];
const PROVIDERS = [['authenticator', 'Authenticator app'], ['email', 'Email'], ['sms', 'SMS']];

export async function admin(main, go, claims) {
  const host = (claims.roles || []).includes('host_admin');
  const shown = main.dataset.screen;
  const settings = await call('GET', '/settings/two-factor');
  if (main.dataset.screen !== shown) return null;
  if (!settings.ok) return settings.status === 401 ? null : replace(main, h('h1', {}, 'Administration'), notice(describe(settings), 'error'));
  replace(main,
    h('h1', {}, host ? 'Host administration' : 'Tenant administration'),
    section('Two-factor settings', settingsForm(settings.body, host)),
    host ? section('Tenants', createTenant()) : null,
    host ? section("A tenant's two-factor feature", tenantFeature()) : null,
    section("A user's two-factor sign-in", userFlag()));
}

function settingsForm(s, host) {
  const saved = h('div', { role: 'status' });
  const providers = h('fieldset', { class: 'field' }, h('legend', {}, 'Allowed ways to sign in'),
    PROVIDERS.map(([value, label]) => {
      const box = checkbox(label, 'allowed_providers', s.allowed_providers.includes(value));
      box.querySelector('input').value = value;
      return box;
    }),
    h('p', { class: 'error', 'data-error-for': 'allowed_providers' }));
  return h('div', {},
    h('p', { class: 'hint' }, host ? 'For the host\'s own users. Each tenant has its own, within the feature you set for it.' : 'For your tenant\'s users, within what the host allows your tenant.'),
    form([
      radios('Behaviour', 'behaviour', BEHAVIOURS, s.behaviour),
      checkbox('Users can change their own two-factor setting', 'users_can_change', s.users_can_change),
      checkbox('Offer "Remember this browser"', 'remember_browser', s.remember_browser),
      providers,
    ], 'Save settings', async (v, f) => {
      replace(saved);
      const r = await call('PUT', '/settings/two-factor', v);
      if (!r.ok) return showError(f, r, {
        controlled_by_host: 'The host decides two-factor sign-in for your tenant: you can change the behaviour only while the host leaves it optional.',
      });
      replace(saved, notice('Settings saved.'));
    }),
    saved);
}

function createTenant() {
  const done = h('div', { role: 'status' });
  return h('div', {},
    form([
      field('Tenant name', 'name', { autocomplete: 'off' }),
      field("Tenant admin's email", 'admin_email', { type: 'email', autocomplete: 'off' }),
      field("Tenant admin's password", 'admin_password', { type: 'password', autocomplete: 'new-password' }),
    ], 'Create tenant', async (v, f) => {
      replace(done);
      const r = await call('POST', '/tenants', v);
      if (!r.ok) return showError(f, r);
      f.reset();
      replace(done, notice(`Tenant ${r.body.tenant} created. Its admin signs in with the tenant name.`));
    }),
    done);
}

function tenantFeature() {
  const slot = h('div');
  const load = form([field('Tenant name', 'tenant', { autocomplete: 'off' })], 'Show feature', async (v, f) => {
    const r = await call('GET', `/tenants/${encodeURIComponent(v.tenant)}/features/two-factor`);
    if (!r.ok) return showError(f, r);
    const saved = h('div', { role: 'status' });
    replace(slot, form([radios(`Two-factor sign-in in ${v.tenant}`, 'behaviour', BEHAVIOURS, r.body.behaviour)], 'Save feature', async (w, g) => {
      replace(saved);
      const p = await call('PUT', `/tenants/${encodeURIComponent(v.tenant)}/features/two-factor`, { behaviour: w.behaviour });
      if (!p.ok) return showError(g, p);
      replace(saved, notice(`${v.tenant}: ${p.body.behaviour}.`));
    }), saved);
  });
  return h('div', {}, h('p', { class: 'hint' }, 'Optional leaves the choice to the tenant\'s admin; forced or disabled decides for every user of the tenant.'), load, slot);
}

function userFlag() {
  const slot = h('div');
  const load = form([field('User id', 'user_id', { autocomplete: 'off', hint: 'Users see their id on their Account security page.' })], 'Look up', async (v, f) => {
    const path = `/users/${encodeURIComponent(v.user_id)}/two-factor`;
    const r = await call('GET', path);
    if (!r.ok) return showError(f, r, { not_found: 'There is no such user on your side.' });
    const saved = h('div', { role: 'status' });
    replace(slot, form([checkbox('Two-factor sign-in on for this user', 'enabled', r.body.enabled), h('p', { class: 'error', 'data-error-for': 'enabled' })], 'Save', async (w, g) => {
      replace(saved);
      const p = await call('PUT', path, { enabled: w.enabled });
      if (!p.ok) return showError(g, p, { not_optional: 'Policy forces or disables two-factor sign-in for this user: their own setting does not apply.' });
      replace(saved, notice(`Two-factor sign-in is ${p.body.enabled ? 'on' : 'off'} for this user.`));
    }), saved);
  });
  return h('div', {}, load, slot);
}
