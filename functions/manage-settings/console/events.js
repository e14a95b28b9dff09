// Security events, newest first, a page at a time: the user's own on Account
// security (`/account/events`), the side's on Administration (`/events`).

import { call } from './api.js';
import { h, replace, button, notice, describe, when } from './ui.js';

export const EVENT_NAMES = {
  sign_in: 'Signed in',
  sign_in_failed: 'Failed sign-in',
  locked_out: 'Locked out',
  unlocked: 'Account unlocked',
  two_factor_enabled: 'Two-factor sign-in turned on',
  two_factor_disabled: 'Two-factor sign-in turned off',
  two_factor_reset: 'Second factor reset',
  authenticator_added: 'Authenticator app set up',
  authenticator_removed: 'Authenticator app removed',
  passkey_added: 'Passkey added',
  passkey_removed: 'Passkey removed',
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

const AMR = { pwd: 'password', otp: 'authenticator app', sms: 'SMS code', email: 'email code', rec: 'recovery code', device: 'remembered browser', hwk: 'passkey', swk: 'synced passkey' };

const PAGE_SIZE = 25;
const words = (k) => k.replace(/_/g, ' ');

// The facts of `details` in words. An admin's change lists each setting as
// "from → to"; timestamps read as dates; anything else is shown as sent.
function facts(details = {}) {
  const changes = Array.isArray(details.changes) ? details.changes : [];
  const moved = new Set(changes.map((c) => c.field));
  const out = changes.map((c) => `${words(String(c.field))}: ${c.from} → ${c.to}${c.weakens ? ' (weakens)' : ''}`);
  for (const [k, v] of Object.entries(details)) {
    // `amr` already says which provider; `side` is the reader's own; `changes` above.
    if (['changes', 'side', 'weakening'].includes(k) || moved.has(k) || (k === 'provider' && details.amr)) continue;
    if (k === 'amr' && Array.isArray(v)) out.push(`with ${v.map((a) => AMR[a] || a).join(' + ')}`);
    else if (/(_until|_at)$/.test(k) && typeof v === 'number') out.push(`${words(k)}: ${when(v)}`);
    else if (k === 'factor') out.push(`factor: ${words(String(v))}`);
    else out.push(`${words(k)}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`);
  }
  return out.join('; ');
}

// "Chrome 156 on Linux" from a User-Agent; the whole string stays in the title.
export function browserName(ua) {
  if (!ua) return '';
  const app = ['HeadlessChrome', 'Edg', 'OPR', 'Firefox', 'Chrome', 'Version']
    .map((n) => ua.match(new RegExp(`${n}/(\\d+)`))).find(Boolean);
  const os = ['Windows', 'Android', 'iPhone', 'iPad', 'Mac OS X', 'Linux'].find((o) => ua.includes(o));
  if (!app) return ua.slice(0, 40);
  const name = { Edg: 'Edge', OPR: 'Opera', Version: 'Safari' }[app[0].split('/')[0]] || app[0].split('/')[0];
  return `${name} ${app[1]}${os ? ` on ${os === 'Mac OS X' ? 'macOS' : os}` : ''}`;
}

// A list of events from `path` (query already set, or none), with "Show more" while
// the API has a next page. `admin`: show whose account each event is about, by email
// where `names` (user id → email) knows it; `ownId`: the reader's user id.
export function eventList(path, { admin = false, ownId, names = new Map() } = {}) {
  const who = (id) => (id === ownId ? 'you' : names.get(id) || `user ${id.slice(0, 8)}…`);
  const slot = h('div', { class: 'events' });
  const rows = h('tbody');
  const more = h('div', { class: 'actions' });
  const table = h('table', {},
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, 'When'), h('th', { scope: 'col' }, 'What'),
      admin ? h('th', { scope: 'col' }, 'User') : null,
      h('th', { scope: 'col' }, 'From'))),
    rows);
  const load = async (cursor) => {
    const sep = path.includes('?') ? '&' : '?';
    const r = await call('GET', `${path}${sep}limit=${PAGE_SIZE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (!r.ok) return r.error === 'unauthorized' ? null : replace(slot, notice(describe(r), 'error'));
    if (!cursor && r.body.events.length === 0) return replace(slot, h('p', { class: 'empty' }, 'No events yet.'));
    if (!cursor) replace(slot, table, more);
    rows.append(...r.body.events.map((e) => h('tr', { 'data-type': e.type },
      h('td', {}, when(e.at)),
      h('td', {}, h('span', { class: 'what' }, EVENT_NAMES[e.type] || e.type),
        e.actor_id && e.actor_id !== e.user_id ? h('span', { class: 'hint' }, admin ? ` by ${who(e.actor_id)}` : ' by an administrator') : null,
        Object.keys(e.details || {}).length ? h('div', { class: 'hint' }, facts(e.details)) : null),
      admin ? h('td', { title: e.user_id, 'data-user-id': e.user_id }, who(e.user_id)) : null,
      h('td', { class: 'hint', title: e.user_agent || undefined }, [e.ip, browserName(e.user_agent)].filter(Boolean).join(' · ')))));
    replace(more, r.body.next_cursor ? button('Show more', () => load(r.body.next_cursor), { kind: 'secondary' }) : null);
  };
  replace(slot, h('p', { class: 'hint' }, 'Loading…'));
  load();
  return slot;
}
