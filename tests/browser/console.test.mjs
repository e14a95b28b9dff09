// The console, clicked through in headless Chromium against the local API on
// DynamoDB Local: the second-factor walkthrough and ABP's policy walkthrough.
// Codes come from the outbox panel, TOTP codes are computed here. Any console
// error or CSP violation fails the run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  startApi, launch, newPage, shot, authenticator, codeFromOutbox, signIn, signOut, region, PASSWORD, ADMIN,
} from './support.mjs';

let api;
let browser;
const problems = [];

before(async () => {
  api = await startApi();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  api?.stop();
});

const label = () => randomUUID().slice(0, 8);
const heading = (page, name) => page.getByRole('heading', { name, level: 1 }).waitFor();

test('the pages are served with a strict content security policy', async () => {
  const r = await fetch(`${api.base}/`);
  const csp = r.headers.get('content-security-policy');
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
  assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
  assert.equal((await fetch(`${api.base}/console/nope.js`)).status, 404);
});

test('the second-factor walkthrough, clicked through the console', async () => {
  const page = await newPage(browser, problems);
  const email = `jane-${label()}@example.org`;
  const phone = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;

  // Register, then sign in: 2FA is off for a new user.
  await page.goto(`${api.base}/`);
  await heading(page, 'Sign in');
  await shot(page, 'sign-in');
  await page.getByRole('link', { name: 'Register' }).first().click();
  await heading(page, 'Register');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill('short');
  await page.locator('main form').getByRole('button', { name: 'Register' }).click();
  // The API's complaint sits beside the field it names.
  await page.locator('[data-error-for="password"]').filter({ hasText: /./ }).waitFor();
  assert.equal(await page.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  await shot(page, 'register');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.locator('main form').getByRole('button', { name: 'Register' }).click();
  await heading(page, 'Registered');
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Account security');

  // Confirm the email address and a phone number with codes from the outbox panel.
  await region(page, 'Email').getByRole('button', { name: 'Send code' }).click();
  await region(page, 'Email').getByLabel('Code').fill(await codeFromOutbox(page, email));
  await region(page, 'Email').getByRole('button', { name: 'Verify' }).click();
  await region(page, 'Email').getByText(/confirmed\.$/).waitFor();
  await region(page, 'Phone number').getByLabel('Phone number').fill(phone);
  await region(page, 'Phone number').getByRole('button', { name: 'Send code' }).click();
  await region(page, 'Phone number').getByLabel('Code').fill(await codeFromOutbox(page, phone));
  await region(page, 'Phone number').getByRole('button', { name: 'Verify' }).click();
  await region(page, 'Phone number').getByText(/confirmed\.$/).waitFor();

  // Turn two-factor sign-in on.
  const toggle = page.getByRole('switch', { name: /Two-factor sign-in/ });
  assert.equal(await toggle.getAttribute('aria-checked'), 'false');
  await toggle.click();
  await page.getByRole('switch', { name: /Two-factor sign-in/, checked: true }).waitFor();
  await shot(page, 'account');

  // Sign in again: choose SMS, enter its code, remember this browser.
  await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Two-factor authentication');
  await shot(page, 'choose-provider');
  await page.getByRole('button', { name: 'Send code by SMS' }).click();
  await heading(page, 'Verify: SMS');
  await page.getByLabel('Code').fill(await codeFromOutbox(page, phone));
  await page.getByLabel('Remember this browser').check();
  await shot(page, 'code');
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await heading(page, 'Account security');

  // The remembered browser signs in without a code.
  await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Account security');
  await region(page, 'Remembered browsers').getByRole('button', { name: /HeadlessChrome/ }).waitFor();

  // A change that needs a fresh second factor asks for one in place: this session
  // came from the remembered browser, not from a code.
  await region(page, 'Recovery codes').getByRole('button', { name: 'Generate new recovery codes' }).click();
  const stepUp = page.getByRole('group', { name: 'Confirm it is you' });
  await stepUp.getByLabel('Password').fill(PASSWORD);
  await stepUp.getByRole('button', { name: 'Continue' }).click();
  await stepUp.getByRole('button', { name: 'Send code by Email' }).click();
  await stepUp.getByLabel('Code').fill(await codeFromOutbox(page, email));
  await shot(page, 'step-up', region(page, 'Recovery codes'));
  await stepUp.getByRole('button', { name: 'Verify', exact: true }).click();
  await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await heading(page, 'Account security');

  // Forget the browser: the next sign-in asks for a code again. (Forgetting may also
  // end this session; the console then goes back to sign-in by itself.)
  await region(page, 'Remembered browsers').getByRole('button', { name: 'Forget all remembered browsers' }).click();
  await region(page, 'Remembered browsers').getByText('No remembered browsers.').or(page.getByRole('heading', { name: 'Sign in', level: 1 })).waitFor();
  if (await page.getByRole('button', { name: 'Sign out' }).count()) await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Two-factor authentication');
  await page.getByRole('button', { name: 'Send code by Email' }).click();
  await page.getByLabel('Code').fill(await codeFromOutbox(page, email));
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await heading(page, 'Account security');

  // Enrol an authenticator app with the QR code's key, and save the recovery codes.
  const auth = region(page, 'Authenticator app');
  await auth.getByRole('button', { name: 'Set up authenticator app' }).click();
  const key = (await auth.locator('code.key').textContent()).trim();
  assert.match(key, /^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/, 'the key in groups of four');
  assert.match(await auth.getByRole('img').getAttribute('src'), /^data:image\/svg\+xml;base64,/);
  const app = authenticator(key);
  await auth.getByLabel('Code').fill(app());
  await shot(page, 'authenticator', auth);
  await auth.getByRole('button', { name: 'Verify' }).click();
  await page.getByRole('heading', { name: 'Save your recovery codes' }).waitFor();
  const codes = await page.locator('.codes code').allTextContents();
  assert.equal(codes.length, 10);
  await shot(page, 'recovery-codes', auth);
  await page.getByRole('button', { name: 'I have saved them' }).click();
  await auth.getByText('Your authenticator app is set up.').waitFor();

  // Sign in with the authenticator.
  await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await page.getByRole('button', { name: 'Use your authenticator app' }).click();
  await page.getByLabel('Code').fill(app());
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await heading(page, 'Account security');

  // A recovery code works once.
  await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await page.getByRole('button', { name: 'Use a recovery code' }).click();
  await page.getByLabel('Recovery code').fill(codes[0]);
  await shot(page, 'recovery-code');
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await heading(page, 'Account security');
  await region(page, 'Recovery codes').getByText('9 recovery code(s) left.').waitFor();
  await signOut(page);
  await signIn(page, api.base, email, PASSWORD);
  await page.getByRole('button', { name: 'Use a recovery code' }).click();
  await page.getByLabel('Recovery code').fill(codes[0]);
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await page.locator('[data-error-for="code"]').getByText(/wrong or was already used/).waitFor();

  // The token lives in the page's memory only; a session ended elsewhere (here its
  // refresh token revoked behind the console's back) sends the console back to
  // sign-in at its next call, its renewal refused too.
  await page.getByLabel('Recovery code').fill(codes[1]);
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await heading(page, 'Account security');
  assert.deepEqual(await page.evaluate(() => [localStorage.length, document.cookie]), [0, '']);
  const refresh = (await page.context().cookies()).find((c) => c.name === 'twofa_refresh');
  const revoked = await fetch(`${api.base}/token/revoke`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ refresh_token: refresh.value }),
  });
  assert.equal(revoked.status, 200);
  await region(page, 'Recovery codes').getByRole('button', { name: 'Generate new recovery codes' }).click();
  await heading(page, 'Sign in');
  await page.getByText(/Your session has ended/).waitFor();

  await page.context().close();
  assert.deepEqual(problems, []);
});

test("ABP's policy walkthrough: host, tenant admins and users, each in their own browser", async () => {
  const id = label();
  const acme = `acme${id}`;
  const globex = `globex${id}`;
  const acmeAdmin = `admin@${acme}.example.com`;
  const globexAdmin = `admin@${globex}.example.com`;
  const acmeUser = `user@${acme}.example.com`;
  const globexUser = `user@${globex}.example.com`;

  // The host admin creates two tenants.
  const host = await newPage(browser, problems);
  await signIn(host, api.base, ADMIN.email, ADMIN.password);
  await heading(host, 'Account security');
  await host.getByRole('link', { name: 'Administration' }).click();
  await heading(host, 'Host administration');
  const tenants = region(host, 'Tenants');
  for (const [name, adminEmail] of [[acme, acmeAdmin], [globex, globexAdmin]]) {
    await tenants.getByLabel('Tenant name').fill(name);
    await tenants.getByLabel("Tenant admin's email").fill(adminEmail);
    await tenants.getByLabel("Tenant admin's password").fill(PASSWORD);
    await tenants.getByRole('button', { name: 'Create tenant' }).click();
    await tenants.getByText(`Tenant ${name} created.`).waitFor();
  }
  await shot(host, 'admin-host');

  // Users register in each tenant.
  const user = await newPage(browser, problems);
  const other = await newPage(browser, problems);
  for (const [page, email, tenant] of [[user, acmeUser, acme], [other, globexUser, globex]]) {
    await page.goto(`${api.base}/#/register`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByLabel('Tenant').fill(tenant);
    await page.locator('main form').getByRole('button', { name: 'Register' }).click();
    await heading(page, 'Registered');
  }

  const feature = async (behaviour) => {
    const r = region(host, "A tenant's two-factor feature");
    await r.getByLabel('Tenant name').fill(acme);
    await r.getByRole('button', { name: 'Show feature' }).click();
    await r.getByLabel(new RegExp(`^${behaviour}:`)).check();
    await r.getByRole('button', { name: 'Save feature' }).click();
    await r.getByText(`${acme}: ${behaviour.toLowerCase()}.`).waitFor();
  };
  const facts = async () => {
    await user.reload();
    await heading(user, 'Account security');
    return [await user.locator('.behaviour').textContent(), await user.locator('.decided-by').textContent(),
      await user.getByRole('switch', { name: /Two-factor sign-in/ }).getAttribute('aria-checked')];
  };

  // The acme admin signs in before the host forces 2FA on acme (it has nothing set up either).
  const tenantAdmin = await newPage(browser, problems);
  await signIn(tenantAdmin, api.base, acmeAdmin, PASSWORD, acme);
  await heading(tenantAdmin, 'Account security');

  // 1. The host forces two-factor sign-in on acme: its user, with nothing set up,
  //    lands on enrolment, sets up an authenticator, then signs in again with it.
  await feature('Forced');
  await signIn(user, api.base, acmeUser, PASSWORD, acme);
  await heading(user, 'Set up two-factor sign-in');
  await shot(user, 'enrolment');
  const auth = region(user, 'Authenticator app');
  await auth.getByRole('button', { name: 'Set up authenticator app' }).click();
  const app = authenticator((await auth.locator('code.key').textContent()).trim());
  await auth.getByLabel('Code').fill(app());
  await auth.getByRole('button', { name: 'Verify' }).click();
  // allTextContents does not wait: read the codes once they are on screen.
  await user.locator('.codes code').first().waitFor();
  const recovery = await user.locator('.codes code').allTextContents();
  await user.getByRole('button', { name: 'I have saved them' }).click();
  await heading(user, 'Sign in');
  await user.getByText('Sign in again to use it.').waitFor();
  await user.getByLabel('Password').fill(PASSWORD);
  await user.locator('main form').getByRole('button', { name: 'Sign in' }).click();
  await heading(user, 'Verify: Authenticator app');
  await user.getByLabel('Code').fill(app());
  await user.getByRole('button', { name: 'Verify', exact: true }).click();
  await heading(user, 'Account security');
  assert.deepEqual(await facts(), ['Required', 'the host, for your whole tenant', 'true']);
  assert.equal(await user.getByRole('switch', { name: /Two-factor sign-in/ }).isDisabled(), true);
  await user.getByText(/You cannot change it: it is required by the host, for your whole tenant\./).waitFor();
  await shot(user, 'account-forced');
  const acmeUserId = (await user.locator('code.user-id').textContent()).trim();

  // 2. The acme admin cannot change what the host decides: the refusal sits beside "Behaviour".
  await tenantAdmin.getByRole('link', { name: 'Administration' }).click();
  await heading(tenantAdmin, 'Tenant administration');
  const settings = region(tenantAdmin, 'Two-factor settings');
  const save = async (behaviour, changes = async () => {}) => {
    await settings.getByLabel(new RegExp(`^${behaviour}:`)).check();
    await changes();
    await settings.getByRole('button', { name: 'Save settings' }).click();
  };
  await save('Disabled');
  await settings.locator('[data-error-for="behaviour"]').getByText(/The host decides/).waitFor();
  await shot(tenantAdmin, 'admin-tenant', settings);
  assert.equal(region(tenantAdmin, 'Tenants').count && await region(tenantAdmin, 'Tenants').count(), 0, 'a tenant admin sees its own side only');
  assert.deepEqual((await facts()).slice(0, 2), ['Required', 'the host, for your whole tenant']);

  // 3. The host leaves it to the tenant again: the user's own flag decides, and
  //    setting up the authenticator turned it on.
  await feature('Optional');
  assert.deepEqual(await facts(), ['Optional', 'your own choice', 'true']);

  // 4. The acme admin disables it for the tenant.
  await save('Disabled');
  await settings.getByText('Settings saved.').waitFor();
  assert.deepEqual((await facts()).slice(0, 2), ['Turned off', "your tenant's two-factor settings"]);

  // 5. Then makes it optional, with users not allowed to change their own setting.
  await save('Optional', () => region(tenantAdmin, 'Two-factor settings').getByLabel('Users can change their own two-factor setting').uncheck());
  await settings.getByText('Settings saved.').waitFor();
  assert.deepEqual(await facts(), ['Optional', 'your own choice', 'true']);
  assert.equal(await user.getByRole('switch', { name: /Two-factor sign-in/ }).isDisabled(), true);
  await user.getByText('You cannot change it: your administrator does not let users turn it on or off.').waitFor();

  // 6. And sets it for one user, by id: off, then on again.
  const flag = region(tenantAdmin, 'Manage a user');
  await flag.getByLabel('User id').fill(acmeUserId);
  await flag.getByRole('button', { name: 'Look up' }).click();
  for (const on of [false, true]) {
    await flag.getByLabel('Two-factor sign-in on for this user').setChecked(on);
    await flag.getByRole('button', { name: 'Save', exact: true }).click();
    await flag.getByText(`Two-factor sign-in is ${on ? 'on' : 'off'} for this user.`).waitFor();
    // The change rotated the user's security stamp: that session ended; sign in again
    // (with a recovery code once 2FA is back on: an authenticator code could repeat a step).
    await user.reload();
    await heading(user, 'Sign in');
    await signIn(user, api.base, acmeUser, PASSWORD, acme);
    if (on) {
      await user.getByRole('button', { name: 'Use a recovery code' }).click();
      await user.getByLabel('Recovery code').fill(recovery[0]);
      await user.getByRole('button', { name: 'Verify', exact: true }).click();
    }
    await heading(user, 'Account security');
    assert.deepEqual(await facts(), ['Optional', 'your own choice', String(on)]);
  }

  // 7. Globex turns SMS off for its users; acme keeps it.
  const globexPage = await newPage(browser, problems);
  await signIn(globexPage, api.base, globexAdmin, PASSWORD, globex);
  await heading(globexPage, 'Account security');
  await globexPage.getByRole('link', { name: 'Administration' }).click();
  await region(globexPage, 'Two-factor settings').getByLabel('SMS').uncheck();
  await region(globexPage, 'Two-factor settings').getByRole('button', { name: 'Save settings' }).click();
  await region(globexPage, 'Two-factor settings').getByText('Settings saved.').waitFor();
  await signIn(other, api.base, globexUser, PASSWORD, globex);
  await heading(other, 'Account security');
  await region(other, 'Phone number').getByText('Your administrator does not allow codes by SMS.').waitFor();
  await user.reload();
  await heading(user, 'Account security');
  assert.equal(await region(user, 'Phone number').getByText('Your administrator does not allow codes by SMS.').count(), 0);

  for (const p of [host, user, other, tenantAdmin, globexPage]) await p.context().close();
  assert.deepEqual(problems, []);
});
