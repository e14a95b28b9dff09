// Passkeys (WebAuthn): the browser's side of the ceremonies, and the account's
// Passkeys section (add, list, rename, remove). The API's options arrive in
// WebAuthn's JSON form and the credential goes back as `toJSON()` gives it, so no
// base64url is handled here.

import { call, signOut } from './api.js';
import { h, replace, field, form, button, showError, notice, describe, when } from './ui.js';
import { guarded } from './stepup.js';

// WebAuthn with its JSON methods (level 3): without them this page cannot pass the
// API's options to the browser.
const supported = () => typeof window.PublicKeyCredential === 'function'
  && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function'
  && typeof PublicKeyCredential.parseRequestOptionsFromJSON === 'function';

const UNSUPPORTED = 'This browser cannot use passkeys. Use another way, or another browser.';

// Browsers take no IP address as a passkey's site: the local API's passkeys belong
// to `localhost`.
const atAnAddress = () => /^[\d.]+$|^\[/.test(location.hostname);

// The browser's refusal, in words.
function refusal(e, creating) {
  switch (e && e.name) {
    case 'NotAllowedError': case 'AbortError':
      return creating ? 'No passkey was made: the request was cancelled or timed out.'
        : 'No passkey was used: the request was cancelled or timed out, or this device has no passkey for this site.';
    case 'InvalidStateError': return 'This authenticator is already registered: it holds a passkey for your account.';
    case 'SecurityError':
      return atAnAddress() ? `Passkeys do not work at an IP address. Open this page at http://localhost${location.port ? `:${location.port}` : ''} instead.`
        : "The browser refused: this page's address is not the site the passkeys belong to.";
    case 'NotSupportedError': return UNSUPPORTED;
    default: return `The passkey request failed${e && e.message ? `: ${e.message}` : ''}.`;
  }
}

// Runs the browser's side of a ceremony: `{ credential }` to send to the API, or
// `{ failure }` in words.
async function ceremony(options, creating) {
  if (!supported()) return { failure: UNSUPPORTED };
  // Tolerates the options wrapped in `publicKey`, as some relying parties send them.
  const json = options && options.publicKey ? options.publicKey : options;
  try {
    const credential = creating
      ? await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(json) })
      : await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(json) });
    return credential ? { credential: credential.toJSON() } : { failure: refusal(null, creating) };
  } catch (e) {
    return { failure: refusal(e, creating) };
  }
}

export const createPasskey = (options) => ceremony(options, true);
export const usePasskey = (options) => ceremony(options, false);

// The API's refusals of a passkey, in words (`showError` takes them).
export const PASSKEY_WORDS = {
  invalid_ceremony: 'This passkey request expired or was already used. Try again.',
  passkey_refused: 'The passkey was not accepted: the authenticator\'s answer was refused, or this passkey is already registered.',
  conflict: 'You have 10 passkeys, the most an account keeps: remove one first.',
  provider_unavailable: 'Passkeys are not available here: the service has none set up, or your administrator does not allow them.',
};

// The Passkeys section: `state` is `providers.passkey` of GET /account/two-factor
// (absent on enrolment with a setup token, which only adds one); `onChange` redraws.
export function passkeySection(state, opts, onChange, go) {
  const slot = h('div');
  const intro = h('p', {}, 'A passkey signs you in without a password, with your fingerprint, face, screen lock or a security key. It also proves it is you as a second factor.');
  if (state && !state.allowed) return replace(slot, h('p', {}, 'Your administrator does not allow passkeys.'));
  const list = h('div');
  replace(slot, intro, list, addForm(opts, onChange));
  if (state && !opts.token) listPasskeys(list, onChange, go);
  return slot;
}

function addForm(opts, onChange) {
  const stepSlot = h('div');
  const f = form([
    field('Name of the new passkey', 'name', { required: false, autocomplete: 'off', maxlength: 64, hint: 'To tell your passkeys apart, e.g. "Work laptop". Left empty: "Passkey 1", "Passkey 2"…' }),
  ], 'Add a passkey', async (v, g) => {
    const start = await guarded(stepSlot, () => call('POST', '/account/passkeys/register', {}, opts));
    if (!start.ok) return start.error === 'unauthorized' && !opts.token ? null : showError(g, start, PASSKEY_WORDS);
    const made = await createPasskey(start.body.options);
    if (made.failure) return showError(g, { message: made.failure });
    const body = { ceremony_id: start.body.ceremony_id, credential: made.credential };
    if (v.name) body.name = v.name;
    const r = await call('POST', '/account/passkeys/register/finish', body, opts);
    if (!r.ok) return r.error === 'unauthorized' && !opts.token ? null : showError(g, r, PASSKEY_WORDS);
    onChange();
  });
  return h('div', {}, f, stepSlot);
}

async function listPasskeys(slot, onChange, go) {
  const r = await call('GET', '/account/passkeys');
  if (!r.ok) return r.status === 401 ? null : replace(slot, notice(describe(r), 'error'));
  const keys = r.body || [];
  if (keys.length === 0) return replace(slot, h('p', { class: 'empty' }, 'No passkeys yet.'));
  replace(slot, h('ul', { class: 'passkeys' }, keys.map((p) => passkeyItem(p, onChange, go))));
}

function passkeyItem(p, onChange, go) {
  const li = h('li', { 'data-passkey-id': p.passkey_id });
  const removeSlot = h('div');
  const show = () => replace(li,
    h('div', {}, h('span', { class: 'name' }, p.name), ' ',
      h('span', { class: 'badge' }, p.backed_up ? 'Synced between your devices' : 'On this device only')),
    h('div', { class: 'hint' }, `Added ${when(p.created_at)}, ${p.last_used_at ? `last used ${when(p.last_used_at)}` : 'never used'}.`),
    h('div', { class: 'actions' },
      button('Rename', rename, { kind: 'secondary', 'aria-label': `Rename ${p.name}` }),
      button('Remove', remove, { kind: 'danger', 'aria-label': `Remove ${p.name}` })),
    removeSlot);
  const rename = () => {
    const f = form([field('New name', 'name', { value: p.name, autocomplete: 'off', maxlength: 64 })], 'Save name', async (v, g) => {
      const d = await call('PATCH', `/account/passkeys/${encodeURIComponent(p.passkey_id)}`, { name: v.name });
      if (d.ok) { p = d.body; return show(); }
      if (d.status !== 401) showError(g, d);
    }, [button('Cancel', () => show(), { kind: 'link' })]);
    replace(li, f);
    f.querySelector('input').select();
  };
  // Removing a passkey ends every session, this one too (the API answers 204).
  const remove = async () => {
    const d = await guarded(removeSlot, () => call('DELETE', `/account/passkeys/${encodeURIComponent(p.passkey_id)}`));
    if (d.ok) {
      await signOut();
      return go('#/sign-in', { message: `The passkey "${p.name}" was removed, and every session was signed out, this one too. Sign in again.` });
    }
    if (d.status === 404) return onChange();
    if (d.status !== 401) replace(removeSlot, notice(describe(d), 'error'));
  };
  return show();
}
