// Administration of one side: a host admin the host's settings, tenants and their
// feature; a tenant admin its tenant's settings. Both: the side's lockout, its users
// (search, 2FA flag, unlock, reset of the second factor) and its security events.
// The API enforces who may do what and whose users are whose; this page only hides
// what a role never has. A change the API wants a fresh second factor for asks for
// it in place (stepup.js).

import { call } from './api.js';
import { h, replace, field, checkbox, radios, form, button, showError, notice, section, describe } from './ui.js';
import { guarded } from './stepup.js';
import { userSearch, manageUser } from './users.js';
import { eventList, EVENT_NAMES } from './events.js';

const BEHAVIOURS = [['forced', 'Forced: every user must use two-factor sign-in'], ['optional', 'Optional: each user chooses'], ['disabled', 'Disabled: nobody uses it']];
const PROVIDERS = [['passkey', 'Passkey'], ['authenticator', 'Authenticator app'], ['email', 'Email'], ['sms', 'SMS']];

export async function admin(main, go, claims) {
  const host = (claims.roles || []).includes('host_admin');
  const shown = main.dataset.screen;
  // The first hundred users name the accounts in the events; each page of users
  // looked at later adds its own.
  const [settings, lockout, known] = await Promise.all([
    call('GET', '/settings/two-factor'), call('GET', '/settings/lockout'), call('GET', '/users?limit=100')]);
  if (main.dataset.screen !== shown) return null;
  const failed = [settings, lockout, known].find((r) => !r.ok);
  if (failed) return failed.error === 'unauthorized' ? null : replace(main, h('h1', {}, 'Administration'), notice(describe(failed), 'error'));
  const names = new Map(known.body.users.map((u) => [u.user_id, u.email]));
  const people = { names, ownId: claims.sub };
  let reload = () => {};
  const [manage, open] = manageUser(() => reload(), people);
  const [search, again] = userSearch(open, names);
  reload = again;
  replace(main,
    h('h1', {}, host ? 'Host administration' : 'Tenant administration'),
    h('p', { class: 'hint' }, host ? "You administer the host's own users; each tenant's admin administers that tenant." : 'You administer your tenant\'s users, within what the host allows.'),
    section('Two-factor settings', settingsForm(settings.body, host)),
    section('Lockout', lockoutForm(lockout.body, host)),
    host ? section('Tenants', createTenant()) : null,
    host ? section("A tenant's two-factor feature", tenantFeature()) : null,
    section('Users', search),
    section('Manage a user', manage),
    section('Security events', sideEvents(people)));
}

function settingsForm(s, host) {
  const saved = h('div', { role: 'status' });
  const stepSlot = h('div');
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
      const r = await guarded(stepSlot, () => call('PUT', '/settings/two-factor', v));
      if (r.error === 'unauthorized') return null;
      if (!r.ok) return showError(f, r, {
        controlled_by_host: 'The host decides two-factor sign-in for your tenant: you can change the behaviour only while the host leaves it optional.',
      });
      replace(saved, notice('Settings saved.'));
    }),
    stepSlot, saved);
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
    // Cleared first: the form of the tenant shown before must not be saved meanwhile.
    replace(slot);
    const r = await call('GET', `/tenants/${encodeURIComponent(v.tenant)}/features/two-factor`);
    if (!r.ok) return showError(f, r);
    const saved = h('div', { role: 'status' });
    const stepSlot = h('div');
    replace(slot, form([radios(`Two-factor sign-in in ${v.tenant}`, 'behaviour', BEHAVIOURS, r.body.behaviour)], 'Save feature', async (w, g) => {
      replace(saved);
      const p = await guarded(stepSlot, () => call('PUT', `/tenants/${encodeURIComponent(v.tenant)}/features/two-factor`, { behaviour: w.behaviour }));
      if (p.error === 'unauthorized') return null;
      if (!p.ok) return showError(g, p);
      replace(saved, notice(`${v.tenant}: ${p.body.behaviour}.`));
    }), stepSlot, saved);
  });
  return h('div', {}, h('p', { class: 'hint' }, 'Optional leaves the choice to the tenant\'s admin; forced or disabled decides for every user of the tenant.'), load, slot);
}

// The side's lockout: after how many failed passwords or codes an account locks,
// and for how long. `source` says whose values these are while the side has none.
function lockoutForm(l, host) {
  const saved = h('div', { role: 'status' });
  const stepSlot = h('div');
  const SOURCE = {
    side: host ? "The host's own values." : "Your tenant's own values.",
    host: "Your tenant follows the host's values until you save its own.",
    defaults: host ? "The service's defaults, until you save the host's own." : "Your tenant follows the service's defaults until you save its own.",
  };
  const source = h('p', { class: 'hint lockout-source' }, SOURCE[l.source] || '');
  return h('div', {},
    source,
    form([
      field('Failed attempts before the account locks', 'max_failed_attempts', { type: 'number', inputmode: 'numeric', min: 1, max: 100, value: String(l.max_failed_attempts), hint: 'From 1 to 100. Wrong passwords and wrong codes both count.' }),
      field('Lockout duration in seconds', 'lockout_seconds', { type: 'number', inputmode: 'numeric', min: 1, max: 2592000, value: String(l.lockout_seconds), hint: 'From 1 second to 2592000 (30 days). 900 is 15 minutes.' }),
    ], 'Save lockout', async (v, f) => {
      replace(saved);
      const body = {};
      // A number the API can judge; anything else stays text, and the API names the field.
      for (const k of ['max_failed_attempts', 'lockout_seconds']) body[k] = /^\d+$/.test(v[k]) ? Number(v[k]) : v[k];
      const r = await guarded(stepSlot, () => call('PUT', '/settings/lockout', body));
      if (r.error === 'unauthorized') return null;
      if (r.field === 'max_failed_attempts') return showError(f, r, { invalid_request: 'Enter a whole number from 1 to 100.' });
      if (r.field === 'lockout_seconds') return showError(f, r, { invalid_request: 'Enter a whole number of seconds from 1 to 2592000 (30 days).' });
      if (!r.ok) return showError(f, r);
      source.textContent = SOURCE[r.body.source] || '';
      replace(saved, notice(`Lockout saved: ${r.body.max_failed_attempts} failed attempts lock an account for ${r.body.lockout_seconds} seconds.`));
    }),
    stepSlot, saved);
}

// The side's security events, newest first, by type and user.
function sideEvents(people) {
  const slot = h('div');
  const show = (v = {}) => {
    const q = new URLSearchParams();
    if (v.user_id) q.set('user_id', v.user_id);
    if (v.type) q.set('type', v.type);
    replace(slot, eventList(`/events${q.toString() ? `?${q}` : ''}`, { admin: true, ...people }));
  };
  const typeId = 'events-type';
  const filter = form([
    h('div', { class: 'field' },
      h('label', { for: typeId }, 'Type'),
      h('select', { id: typeId, name: 'type' }, h('option', { value: '' }, 'Every type'),
        Object.entries(EVENT_NAMES).map(([value, label]) => h('option', { value }, label))),
      h('p', { class: 'error', 'data-error-for': 'type' })),
    field('User id', 'user_id', { required: false, autocomplete: 'off', hint: 'Leave empty for every user of your side.' }),
  ], 'Show events', async (v, f) => {
    // The user filter answers 404 for a user of another side: say so beside it.
    replace(slot);
    if (v.user_id) {
      const r = await call('GET', `/users/${encodeURIComponent(v.user_id)}/two-factor`);
      if (!r.ok) return r.error === 'unauthorized' ? null : showError(f, { ...r, field: 'user_id' }, { not_found: 'There is no such user on your side.' });
    }
    show(v);
  });
  show();
  return h('div', {}, h('p', { class: 'hint' }, 'What happened on your side, newest first. Admin changes name the administrator who made them.'), filter, slot);
}
