// Passkeys through the console, in headless Chromium with the DevTools protocol's
// virtual authenticator (a CTAP2 platform authenticator that holds discoverable
// credentials and verifies its user), against the local API on DynamoDB Local. The
// API is reached as http://localhost:PORT, its relying party: browsers take no IP
// address as a passkey's site. What a user sees is asserted, refusals in words.
// Any console error or CSP violation fails the run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApi, launch, newPage, shot, codeFromOutbox, signIn, signOut, region, PASSWORD, ADMIN } from './support.mjs';

let api;
let browser;
const problems = [];

before(async () => {
  api = await startApi({ host: 'localhost' });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  api?.stop();
});

const heading = (page, name) => page.getByRole('heading', { name, level: 1 }).waitFor();

// A user registered through the API (not the subject here).
async function registered() {
  const email = `pat-${randomUUID().slice(0, 8)}@example.org`;
  const r = await fetch(`${api.direct}/register`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(r.status, 201);
  return email;
}

// The page's virtual authenticator: `call('setUserVerified', {...})` and the like
// send the WebAuthn domain's commands for it.
async function virtualAuthenticator(page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });
  return (method, params = {}) => cdp.send(`WebAuthn.${method}`, { authenticatorId, ...params });
}

const passkeyButton = (page) => page.getByRole('button', { name: 'Sign in with a passkey' });
const formError = (page) => page.locator('.passkey-sign-in .form-error');

test('a passkey is added and renamed, signs in without a password, is the second factor and the step-up, and once removed signs nobody in', async () => {
  const email = await registered();
  const page = await newPage(browser, problems);
  const authenticator = await virtualAuthenticator(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Account security');
  const keys = region(page, 'Passkeys');
  await keys.getByText('No passkeys yet.').waitFor();

  // Add one, named. Its enrolment changed the security stamp: the page goes on with
  // the fresh token the answer carries.
  const bearers = [];
  page.on('request', (r) => { const a = r.headers().authorization; if (a) bearers.push([r.url(), a.slice(7)]); });
  await keys.getByLabel('Name of the new passkey').fill('Work laptop');
  const finished = page.waitForResponse((r) => r.url().endsWith('/account/passkeys/register/finish'));
  await keys.getByRole('button', { name: 'Add a passkey' }).click();
  const enrolled = await finished;
  assert.equal(enrolled.status(), 201);
  const fresh = (await enrolled.json()).access_token;
  await keys.locator('li', { hasText: 'Work laptop' }).getByText('On this device only').waitFor();
  await keys.getByText(/never used/).waitFor();
  const later = bearers.filter(([url]) => !url.includes('/register'));
  assert.ok(later.length > 0 && later.every(([, t]) => t === fresh), 'the account page reloads with the fresh token');
  const { credentials } = await authenticator('getCredentials');
  assert.equal(credentials.length, 1);
  assert.equal(credentials[0].isResidentCredential, true, 'a discoverable credential');

  // Rename it.
  await keys.getByRole('button', { name: 'Rename Work laptop' }).click();
  await keys.getByLabel('New name').fill('Laptop');
  await keys.getByRole('button', { name: 'Save name' }).click();
  await keys.locator('li .name').getByText('Laptop', { exact: true }).waitFor();
  await shot(page, 'passkeys', keys);

  // A confirmed email too, and two-factor sign-in on; then a passwordless sign-in,
  // which is both factors.
  await region(page, 'Email').getByRole('button', { name: 'Send code' }).click();
  await region(page, 'Email').getByLabel('Code').fill(await codeFromOutbox(page, email));
  await region(page, 'Email').getByRole('button', { name: 'Verify' }).click();
  await region(page, 'Email').getByText(/confirmed\.$/).waitFor();
  await page.getByRole('switch', { name: /Two-factor sign-in/ }).click();
  await page.getByRole('switch', { name: /Two-factor sign-in/, checked: true }).waitFor();
  await signOut(page);
  await passkeyButton(page).waitFor();
  await shot(page, 'passkey-sign-in');
  await passkeyButton(page).click();
  await heading(page, 'Account security');
  await page.getByText(/^Signed in\. Your user id/).waitFor();
  await region(page, 'Signed-in sessions').getByText(/with passkey/).waitFor();
  await keys.getByText(/last used/).waitFor();

  // The same authenticator again: the browser refuses, and says why.
  await keys.getByRole('button', { name: 'Add a passkey' }).click();
  await keys.getByText('This authenticator is already registered: it holds a passkey for your account.').waitFor();

  // The password, then the passkey as the second factor, the first way offered;
  // this browser remembered.
  await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Two-factor authentication');
  const ways = page.locator('main .choices button');
  assert.deepEqual(await ways.allTextContents(), ['Use a passkey', 'Send code by Email', 'Use a recovery code']);
  await shot(page, 'passkey-choose');
  await ways.first().click();
  await heading(page, 'Verify: Passkey');
  await page.getByLabel('Remember this browser').check();
  await shot(page, 'passkey-second-factor');
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await heading(page, 'Account security');
  await region(page, 'Signed-in sessions').getByText(/with password and passkey/).waitFor();

  // The remembered browser signs in with the password alone; removing the passkey
  // then asks for a fresh second factor in place (the passkey itself), and ends
  // every session, this one too.
  await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Account security');
  await keys.getByRole('button', { name: 'Remove Laptop' }).click();
  const stepUp = page.getByRole('group', { name: 'Confirm it is you' });
  await stepUp.getByLabel('Password').fill(PASSWORD);
  await stepUp.getByRole('button', { name: 'Continue' }).click();
  await stepUp.getByRole('button', { name: 'Use a passkey' }).click();
  await stepUp.getByRole('button', { name: 'Use your passkey' }).click();
  await heading(page, 'Sign in');
  await page.getByText('The passkey "Laptop" was removed, and every session was signed out, this one too. Sign in again.').waitFor();

  // The authenticator still holds the credential; the API no longer knows it.
  await passkeyButton(page).click();
  await formError(page).getByText(/^This passkey was not accepted/).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Sign in', level: 1 }).count(), 1);

  await page.context().close();
  assert.deepEqual(problems, []);
});

test('a passwordless sign-in without user verification, or with a bogus signature, is refused in words', async () => {
  const email = await registered();
  const page = await newPage(browser, problems);
  const authenticator = await virtualAuthenticator(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Account security');
  await region(page, 'Passkeys').getByRole('button', { name: 'Add a passkey' }).click();
  await region(page, 'Passkeys').locator('li .name').getByText('Passkey 1', { exact: true }).waitFor();
  await signOut(page);

  // The authenticator cannot verify its user: the browser itself refuses the
  // ceremony, which asks for user verification.
  await authenticator('setUserVerified', { isUserVerified: false });
  await passkeyButton(page).click();
  await formError(page).getByText('No passkey was used: the request was cancelled or timed out, or this device has no passkey for this site.').waitFor();
  await shot(page, 'passkey-refused');
  await authenticator('setUserVerified', { isUserVerified: true });

  // An answer that says its user was not verified reaches the API, which refuses it.
  await authenticator('setResponseOverrideBits', { isBadUV: true });
  let refused = page.waitForResponse((r) => r.url().endsWith('/passkeys/sign-in/finish'));
  await passkeyButton(page).click();
  assert.equal((await refused).status(), 401);
  await formError(page).getByText(/^This passkey was not accepted/).waitFor();
  await authenticator('setResponseOverrideBits', { isBadUV: false });

  await authenticator('setResponseOverrideBits', { isBogusSignature: true });
  refused = page.waitForResponse((r) => r.url().endsWith('/passkeys/sign-in/finish'));
  await passkeyButton(page).click();
  assert.equal((await refused).status(), 401);
  await formError(page).getByText(/^This passkey was not accepted/).waitFor();
  assert.equal(await page.getByRole('heading', { name: 'Sign in', level: 1 }).count(), 1);

  // The same passkey, honest again, signs in.
  await authenticator('setResponseOverrideBits', { isBogusSignature: false });
  await passkeyButton(page).click();
  await heading(page, 'Account security');

  await page.context().close();
  assert.deepEqual(problems, []);
});

test('a browser without passkeys, or the console opened at an IP address, is told so', async () => {
  const bare = await newPage(browser, problems);
  await bare.addInitScript(() => { delete window.PublicKeyCredential; });
  await bare.goto(`${api.base}/#/sign-in`);
  await passkeyButton(bare).click();
  await formError(bare).getByText('This browser cannot use passkeys. Use another way, or another browser.').waitFor();
  await bare.context().close();

  const byAddress = await newPage(browser, problems);
  await byAddress.goto(`${api.direct}/#/sign-in`);
  await passkeyButton(byAddress).click();
  await formError(byAddress).getByText(`Passkeys do not work at an IP address. Open this page at ${api.base} instead.`).waitFor();
  await byAddress.context().close();
  assert.deepEqual(problems, []);
});

test("a tenant's user whom the policy forces into two-factor sign-in, with nothing set up, enrols a passkey and signs in with it alone", async () => {
  // The host admin makes a tenant and forces two-factor sign-in on it (through the API).
  const tenant = `initech${randomUUID().slice(0, 8)}`;
  const asAdmin = async (method, path, body, token) => {
    const r = await fetch(`${api.direct}${path}`, {
      method, headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body),
    });
    assert.ok(r.ok, `${method} ${path}: ${r.status}`);
    return r.json();
  };
  const { access_token: admin } = await asAdmin('POST', '/login', { email: ADMIN.email, password: ADMIN.password });
  await asAdmin('POST', '/tenants', { name: tenant, admin_email: `admin@${tenant}.example.com`, admin_password: PASSWORD }, admin);
  await asAdmin('PUT', `/tenants/${tenant}/features/two-factor`, { behaviour: 'forced' }, admin);

  const page = await newPage(browser, problems);
  await virtualAuthenticator(page);
  const email = `user@${tenant}.example.com`;
  await page.goto(`${api.base}/#/register`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('Tenant').fill(tenant);
  await page.locator('main form').getByRole('button', { name: 'Register' }).click();
  await heading(page, 'Registered');
  await signIn(page, api.base, email, PASSWORD, tenant);
  await heading(page, 'Set up two-factor sign-in');
  await region(page, 'Passkeys').getByRole('button', { name: 'Add a passkey' }).click();
  await heading(page, 'Sign in');
  await page.getByText('Sign in again to use it.').waitFor();

  // Without the tenant the passkey is nobody's on the host's side; with it, it signs in.
  await page.getByLabel('Tenant').fill('');
  await passkeyButton(page).click();
  await formError(page).getByText(/^This passkey was not accepted/).waitFor();
  await page.getByLabel('Tenant').fill(tenant);
  await passkeyButton(page).click();
  await heading(page, 'Account security');
  await page.getByText(/^Signed in\. Your user id/).waitFor();
  assert.equal(await page.locator('.behaviour').textContent(), 'Required');

  await page.context().close();
  assert.deepEqual(problems, []);
});
