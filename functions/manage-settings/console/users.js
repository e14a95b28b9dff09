// An admin's users, of its own side only (the API answers another side's user as an
// unknown one): search by the start of the email, a page at a time, and one user
// managed: the 2FA flag, unlock, reset of the second factor, the user's events.

import { call } from './api.js';
import { h, replace, field, checkbox, form, button, showError, notice, describe, when } from './ui.js';
import { guarded } from './stepup.js';
import { eventList } from './events.js';

const PAGE_SIZE = 10;
const WAYS = { passkey: 'passkey', authenticator: 'authenticator app', email: 'email', sms: 'SMS' };

// The "Users" section; `manage(user)` opens one in the "Manage a user" section;
// `names` (user id → email) learns every user shown. Returns [element, reload] so
// a change to a user can redraw the page shown.
export function userSearch(manage, names) {
  const results = h('div', { class: 'results' });
  let prefix = '';
  // The cursors of the pages before the one shown: "Previous page" pops one.
  let cursors = [];
  const show = async (cursor) => {
    const q = new URLSearchParams({ email: prefix, limit: String(PAGE_SIZE) });
    if (cursor) q.set('cursor', cursor);
    const r = await call('GET', `/users?${q}`);
    if (!r.ok) return r.error === 'unauthorized' ? null : replace(results, notice(describe(r), 'error'));
    const page = cursors.length + 1;
    const { users, next_cursor: next } = r.body;
    users.forEach((u) => names.set(u.user_id, u.email));
    replace(results,
      users.length === 0 ? h('p', { class: 'empty' }, prefix ? `No user's email starts with "${prefix}".` : 'No users yet.')
        : h('table', {},
          h('caption', {}, `Page ${page}${prefix ? `, emails starting with "${prefix}"` : ''}`),
          h('thead', {}, h('tr', {}, ['Email', 'Two-factor', 'Ways to sign in', 'Status', ''].map((t) => h('th', { scope: 'col' }, t)))),
          h('tbody', {}, users.map((u) => h('tr', {},
            h('td', {}, u.email, u.roles.length ? h('span', { class: 'hint' }, ` (${u.roles.map((x) => x.replace('_', ' ')).join(', ')})`) : null),
            h('td', {}, u.two_factor_enabled ? 'On' : 'Off'),
            h('td', {}, u.providers.length ? u.providers.map((p) => WAYS[p] || p).join(', ') : 'none'),
            h('td', { class: u.locked_until ? 'locked' : '' }, u.locked_until ? `Locked until ${when(u.locked_until)}`
              : [u.email_confirmed ? 'Email confirmed' : 'Email not confirmed', u.phone_hint ? `${u.phone_hint}${u.phone_confirmed ? '' : ' (not confirmed)'}` : null].filter(Boolean).join(', ')),
            h('td', {}, button('Manage', () => manage(u), { kind: 'secondary', 'aria-label': `Manage ${u.email}` })))))),
      h('div', { class: 'actions' },
        cursors.length ? button('Previous page', () => { cursors.pop(); show(cursors[cursors.length - 1]); }, { kind: 'secondary' }) : null,
        next ? button('Next page', () => { cursors.push(next); show(next); }, { kind: 'secondary' }) : null));
  };
  const search = form([
    field('Email starts with', 'email', { required: false, autocomplete: 'off', hint: 'Leave empty to list every user of your side.' }),
  ], 'Search', async (v) => {
    // The API compares emails whatever their case; the caption shows what it matched.
    prefix = v.email.toLowerCase();
    cursors = [];
    await show();
  });
  show();
  return [h('div', {}, search, results), () => show(cursors[cursors.length - 1])];
}

// The "Manage a user" section: a user picked from the list, or looked up by id;
// `people`: { names, ownId } for its events.
export function manageUser(changed, people) {
  const slot = h('div');
  let open = null;
  const lookup = form([field('User id', 'user_id', { autocomplete: 'off', hint: 'Users see their id on their Account security page.' })], 'Look up', async (v, f) => {
    const r = await open({ user_id: v.user_id });
    if (r && !r.ok) showError(f, r, { not_found: 'There is no such user on your side.' });
  });
  open = async (user) => {
    const path = `/users/${encodeURIComponent(user.user_id)}`;
    // Cleared first, so nothing acts on the user shown before while this one loads.
    replace(slot);
    const r = await call('GET', `${path}/two-factor`);
    if (!r.ok) return r;
    const status = h('div', { role: 'status' });
    const stepSlot = h('div');
    const flag = form([checkbox('Two-factor sign-in on for this user', 'enabled', r.body.enabled), h('p', { class: 'error', 'data-error-for': 'enabled' })], 'Save', async (w, g) => {
      replace(status);
      const p = await guarded(stepSlot, () => call('PUT', `${path}/two-factor`, { enabled: w.enabled }));
      if (!p.ok) return p.error === 'unauthorized' ? null : showError(g, p, { not_optional: 'Policy forces or disables two-factor sign-in for this user: their own setting does not apply.' });
      replace(status, notice(`Two-factor sign-in is ${p.body.enabled ? 'on' : 'off'} for this user.`));
      changed();
    });
    const act = (label, route, done, kind) => button(label, async () => {
      replace(status);
      const p = await guarded(stepSlot, () => call('POST', `${path}/${route}`, {}));
      if (p.ok) { replace(status, notice(done)); changed(); } else if (p.error !== 'unauthorized') replace(status, notice(describe(p), 'error'));
    }, { kind });
    const events = h('div');
    replace(slot,
      h('h3', {}, user.email || people.names.get(user.user_id) || 'A user of your side'),
      h('p', { class: 'hint' }, 'User id: ', h('code', { class: 'user-id' }, user.user_id)),
      flag,
      h('div', { class: 'actions' },
        act('Unlock', 'unlock', 'The account is unlocked and its failed attempts are cleared.', 'secondary'),
        act('Reset second factor', 'reset-two-factor', 'The second factor is reset: the passkeys, the authenticator app and recovery codes are removed and every remembered browser and session ended. A confirmed email or phone still works.', 'danger'),
        button("Show this user's events", () => replace(events, eventList(`/events?user_id=${encodeURIComponent(user.user_id)}`, { admin: true, ...people })), { kind: 'link' })),
      stepSlot, status, events);
    slot.querySelector('h3').scrollIntoView({ block: 'nearest' });
    return r;
  };
  const fromList = async (user) => {
    const r = await open(user);
    if (!r.ok && r.error !== 'unauthorized') replace(slot, notice(describe(r), 'error'));
  };
  return [h('div', {}, lookup, slot), fromList];
}
