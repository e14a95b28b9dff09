// The console's router and frame: which screens exist, the navigation, the
// outbox panel of the local API.

import { call, session, onSessionEnded, resume, signOut } from './api.js';
import { h, replace, button, when } from './ui.js';
import { signIn, register } from './signin.js';
import { account } from './account.js';
import { admin } from './admin.js';
import { forgotPassword } from './password.js';

const isAdmin = (c) => (c?.roles || []).some((r) => r === 'host_admin' || r === 'tenant_admin');

// Every screen: its address, its name in the navigation (none: reached by a link),
// who sees it.
const SCREENS = [
  { hash: '#/sign-in', label: 'Sign in', show: (c) => !c, render: signIn },
  { hash: '#/register', label: 'Register', show: (c) => !c, render: register },
  { hash: '#/forgot', title: 'Forgot your password?', show: (c) => !c, render: forgotPassword },
  { hash: '#/account', label: 'Account security', show: (c) => !!c, render: account },
  { hash: '#/admin', label: 'Administration', show: isAdmin, render: admin },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let pending = null;

function go(hash, state) {
  pending = state || null;
  if (location.hash === hash) render(); else location.hash = hash;
}

function render() {
  const claims = session.claims();
  const wanted = SCREENS.find((s) => s.hash === location.hash);
  const screen = wanted && wanted.show(claims) ? wanted : SCREENS.find((s) => s.show(claims));
  if (screen.hash !== location.hash) { history.replaceState(null, '', screen.hash); }
  replace(nav, h('ul', {},
    SCREENS.filter((s) => s.label && s.show(claims)).map((s) => h('li', {},
      h('a', { href: s.hash, 'aria-current': s === screen ? 'page' : undefined }, s.label))),
    claims ? h('li', {}, button('Sign out', async () => { await signOut(); go('#/sign-in', { message: 'You have signed out.' }); }, { kind: 'link' })) : null));
  const state = pending; pending = null;
  // Screens that load data first check this before drawing: a slow answer must not
  // draw over the screen the user has moved on to.
  main.dataset.screen = String(Number(main.dataset.screen || 0) + 1);
  document.title = `${screen.label || screen.title} · twofa`;
  screen.render(main, go, claims && screen.render === admin ? claims : state || {});
}

onSessionEnded(() => go('#/sign-in', { email: '', message: 'Your session has ended (it expired, or your security settings changed). Sign in again.' }));
window.addEventListener('hashchange', render);
// A reload (or a new tab) resumes the session the refresh cookie holds, if any,
// before the first screen is chosen.
resume().then(render);

// The local API's outbox: what its log senders would have delivered. A deployed
// stack has no such route and the panel stays hidden.
const outbox = document.getElementById('outbox');
async function refreshOutbox() {
  const r = await call('GET', '/_local/outbox', undefined, { anonymous: true });
  if (!r.ok || !Array.isArray(r.body)) return;
  outbox.hidden = false;
  const list = outbox.querySelector('ol');
  const items = r.body.slice().reverse();
  replace(list, items.length === 0 ? h('li', { class: 'empty' }, 'Nothing sent yet.') : items.map((m) => h('li', { class: 'message', 'data-to': m.to, 'data-channel': m.channel },
    h('div', { class: 'meta' }, h('span', { class: 'channel' }, m.channel === 'sms' ? 'SMS' : 'Email'), ' to ', h('span', { class: 'to' }, m.to), ' · ', when(m.sent_at)),
    m.subject ? h('div', { class: 'subject' }, m.subject) : null,
    m.code ? h('div', {}, 'Code: ', h('code', { class: 'code' }, m.code)) : h('div', { class: 'body' }, m.body))));
}
outbox.querySelector('button').addEventListener('click', refreshOutbox);
document.addEventListener('twofa:code-sent', refreshOutbox);
refreshOutbox();
