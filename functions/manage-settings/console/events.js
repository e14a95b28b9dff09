// Security events, newest first, a page at a time: the user's own on Account
// security (`/account/events`), the side's on Administration (`/events`).

import { call } from './api.js';
import { h, replace, button, notice, describe, when } from './ui.js';

export const EVENT_NAMES = {
  sign_in: 'Signed in',
  sign_in_failed: 'Failed sign-in',
  locked_out: 'Locked out',
  unlocked: 'Unlocked by an administrator',
  two_factor_enabled: 'Two-factor sign-in turned on',
  two_factor_disabled: 'Two-factor sign-in turned off',
  two_factor_reset: 'Second factor reset by an administrator',
  authenticator_added: 'Authenticator app set up',
  authenticator_removed: 'Authenticator app removed',
  recovery_codes_generated: 'New recovery codes',
  recovery_code_used: 'Recovery code used',
  phone_confirmed: 'Phone number confirmed',
  email_confirmed: 'Email confirmed',
  password_changed: 'Password changed',
  password_reset: 'Password reset with an emailed code',
  signed_out_everywhere: 'Signed out everywhere',
  browser_remembered: 'Browser remembered',
  browser_forgotten: 'Remembered browser forgotten',
  browsers_forgotten: 'Every remembered browser forgotten',
  settings_changed: 'Two-factor settings changed',
  lockout_settings_changed: 'Lockout settings changed',
  feature_changed: "A tenant's two-factor feature changed",
  tenant_created: 'Tenant created',
};

const AMR = { pwd: 'password', otp: 'authenticator app', sms: 'SMS code', email: 'email code', rec: 'recovery code', device: 'remembered browser' };

// The facts of `details` in words; values the console does not know are shown as sent.
function facts(details = {}) {
  // `amr` already says which provider.
  return Object.entries(details).filter(([k]) => !(k === 'provider' && details.amr)).map(([k, v]) => {
    if (k === 'amr' && Array.isArray(v)) return `with ${v.map((a) => AMR[a] || a).join(' + ')}`;
    const text = Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
    return `${k.replace(/_/g, ' ')}: ${text}`;
  }).join('; ');
}

// A list of events from `path` (query already set, or none), with "Show more" while
// the API has a next page. `admin`: show whose account each event is about.
export function eventList(path, { admin = false, ownId } = {}) {
  const slot = h('div', { class: 'events' });
  const rows = h('tbody');
  const more = h('div', { class: 'actions' });
  const table = h('table', {},
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'What'),
      admin ? h('th', { scope: 'col' }, 'User id') : null,
      h('th', { scope: 'col' }, 'From'))),
    rows);
  const load = async (cursor) => {
    const sep = path.includes('?') ? '&' : '?';
    const r = await call('GET', cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    if (!r.ok) return r.error === 'unauthorized' ? null : replace(slot, notice(describe(r), 'error'));
    if (!cursor && r.body.events.length === 0) return replace(slot, h('p', { class: 'empty' }, 'No events yet.'));
    if (!cursor) replace(slot, table, more);
    rows.append(...r.body.events.map((e) => h('tr', { 'data-type': e.type },
      h('td', {}, when(e.at)),
      h('td', {}, h('span', { class: 'what' }, EVENT_NAMES[e.type] || e.type),
        e.actor_id && e.actor_id !== (admin ? e.user_id : ownId) ? h('span', { class: 'hint' }, admin ? ` by administrator ${e.actor_id}` : ' by an administrator') : null,
        Object.keys(e.details || {}).length ? h('div', { class: 'hint' }, facts(e.details)) : null),
      admin ? h('td', {}, h('code', {}, e.user_id)) : null,
      h('td', { class: 'hint' }, [e.ip, e.user_agent].filter(Boolean).join(' · ')))));
    replace(more, r.body.next_cursor ? button('Show more', () => load(r.body.next_cursor), { kind: 'secondary' }) : null);
  };
  replace(slot, h('p', { class: 'hint' }, 'Loading…'));
  load();
  return slot;
}
