// The v1.1 screens, clicked through in headless Chromium against the local API on
// DynamoDB Local: forgot and reset password, password change, sign-out everywhere and
// the account's events; an admin's lockout, users, unlock, 2FA flag, reset of the
// second factor and the side's events. Step-up asks for a fresh code in place. Codes
// come from the outbox panel. Any console error or CSP violation fails the run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  startApi, launch, newPage, shot, codeFromOutbox, signIn, signOut, region, PASSWORD, ADMIN,
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

// Confirms the signed-in user's email with a code from the outbox, then turns 2FA on.
async function confirmEmailAndTurnOn(page, email) {
  await region(page, 'Email').getByRole('button', { name: 'Send code' }).click();
  await region(page, 'Email').getByLabel('Code').fill(await codeFromOutbox(page, email));
  await region(page, 'Email').getByRole('button', { name: 'Verify' }).click();
  await region(page, 'Email').getByText(/confirmed\.$/).waitFor();
  await page.getByRole('switch', { name: /Two-factor sign-in/ }).click();
  await page.getByRole('switch', { name: /Two-factor sign-in/, checked: true }).waitFor();
}

// Signs in with an emailed code, optionally remembering the browser.
async function signInWithEmailCode(page, email, password, { tenant, remember = false } = {}) {
  await signIn(page, api.base, email, password, tenant);
  await heading(page, 'Two-factor authentication');
  await page.getByRole('button', { name: 'Send code by Email' }).click();
  await page.getByLabel('Code').fill(await codeFromOutbox(page, email));
  if (remember) await page.getByLabel('Remember this browser').check();
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await heading(page, 'Account security');
}

// Answers the step-up asked for in place inside `within`: password, then an emailed code.
async function stepUpWithEmail(page, within, email, password, screenshot) {
  const box = within.getByRole('group', { name: 'Confirm it is you' });
  await box.getByLabel('Password').fill(password);
  await box.getByRole('button', { name: 'Continue' }).click();
  await box.getByRole('button', { name: 'Send code by Email' }).click();
  await box.getByLabel('Code').fill(await codeFromOutbox(page, email));
  if (screenshot) await shot(page, screenshot, within);
  await box.getByRole('button', { name: 'Verify', exact: true }).click();
  await box.waitFor({ state: 'detached' });
}

test('forgot and reset the password, change it with a fresh code asked in place, sign out everywhere, read the own events', async () => {
  const page = await newPage(browser, problems);
  const email = `kim-${label()}@example.org`;
  const reset = 'a new and quite long passphrase';
  const changed = 'yet another long passphrase';

  await page.goto(`${api.base}/#/register`);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.locator('main form').getByRole('button', { name: 'Register' }).click();
  await heading(page, 'Registered');
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Account security');
  await region(page, 'Email').getByRole('button', { name: 'Send code' }).click();
  await region(page, 'Email').getByLabel('Code').fill(await codeFromOutbox(page, email));
  await region(page, 'Email').getByRole('button', { name: 'Verify' }).click();
  await region(page, 'Email').getByText(/confirmed\.$/).waitFor();
  await signOut(page);

  // Forgot: the link carries the typed email over; the code comes by email.
  await page.locator('main form').getByLabel('Email').fill(email);
  await page.getByRole('link', { name: 'Forgot your password?' }).click();
  await heading(page, 'Forgot your password?');
  assert.equal(await page.locator('main form').getByLabel('Email').inputValue(), email);
  await shot(page, 'forgot-password');
  await page.getByRole('button', { name: 'Send code' }).click();
  await heading(page, 'Reset your password');
  await page.getByLabel('Code').fill(await codeFromOutbox(page, email));
  await page.getByLabel('New password').fill('too short');
  await page.getByRole('button', { name: 'Reset password' }).click();
  await page.locator('[data-error-for="new_password"]').filter({ hasText: /./ }).waitFor();
  assert.equal(await page.getByLabel('New password').getAttribute('aria-invalid'), 'true');
  await shot(page, 'reset-password');
  await page.getByLabel('New password').fill(reset);
  await page.getByRole('button', { name: 'Reset password' }).click();
  await heading(page, 'Sign in');
  await page.getByText('Your password was reset').waitFor();

  // The old password no longer works; the new one does.
  await page.getByLabel('Password').fill(PASSWORD);
  await page.locator('main form').getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('The email or password is wrong.').waitFor();
  await page.getByLabel('Password').fill(reset);
  await page.locator('main form').getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'Account security');

  // With 2FA on and a session from a remembered browser (no fresh second factor), the
  // change asks for one in place, then carries on: here with a wrong current password,
  // which the API names and which does not end the session.
  await page.getByRole('switch', { name: /Two-factor sign-in/ }).click();
  await page.getByRole('switch', { name: /Two-factor sign-in/, checked: true }).waitFor();
  await signOut(page);
  await signInWithEmailCode(page, email, reset, { remember: true });
  await signOut(page);
  await signIn(page, api.base, email, reset);
  await heading(page, 'Account security');
  const password = region(page, 'Password');
  await password.getByLabel('Current password').fill('not my password at all');
  await password.getByLabel('New password').fill(changed);
  await password.getByRole('button', { name: 'Change password' }).click();
  await stepUpWithEmail(page, password, email, reset, 'password-step-up');
  await password.locator('[data-error-for="current_password"]').getByText('This is not your current password.').waitFor();
  assert.equal(await password.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
  await password.getByLabel('Current password').fill(reset);
  await password.getByRole('button', { name: 'Change password' }).click();
  await heading(page, 'Sign in');
  await page.getByText('Your password was changed').waitFor();

  // The change forgot the remembered browser: a code again. Then sign out everywhere.
  await signInWithEmailCode(page, email, changed);
  await region(page, 'Sign out everywhere').getByRole('button', { name: 'Sign out everywhere' }).click();
  await heading(page, 'Sign in');
  await page.getByText('You were signed out everywhere.').waitFor();

  // The account's own events, newest first.
  await signInWithEmailCode(page, email, changed);
  const events = region(page, 'Security events');
  await events.locator('tbody tr').first().waitFor();
  const kinds = await events.locator('tbody tr .what').allTextContents();
  assert.equal(kinds[0], 'Signed in');
  for (const kind of ['Signed out everywhere', 'Password changed', 'Password reset with an emailed code', 'Failed sign-in',
    'Browser remembered', 'Two-factor sign-in turned on', 'Email confirmed']) {
    assert.ok(kinds.includes(kind), `${kind} in ${kinds}`);
  }
  await events.getByText('with password + email code').first().waitFor();
  await shot(page, 'account-events', events);

  assert.deepEqual(await page.evaluate(() => [localStorage.length, document.cookie]), [0, '']);
  await page.context().close();
  assert.deepEqual(problems, []);
});

// An account with a confirmed email, made straight through the API (the screens
// under test come after).
async function confirmedAccount(email) {
  const post = (path, body, token) => fetch(`${api.base}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  assert.equal((await post('/register', { email, password: PASSWORD })).status, 201);
  const { access_token: token } = await (await post('/login', { email, password: PASSWORD })).json();
  assert.equal((await post('/send-code', { purpose: 'confirm_email' }, token)).status, 202);
  const outbox = await (await fetch(`${api.base}/_local/outbox`)).json();
  const { code } = outbox.filter((m) => m.to === email).pop();
  assert.equal((await post('/verify-code', { purpose: 'confirm_email', code }, token)).status, 200);
}

test('forgot and reset the password from the keyboard alone', async () => {
  const page = await newPage(browser, problems);
  const email = `lee-${label()}@example.org`;
  const fresh = 'typed without a mouse, all of it';
  await confirmedAccount(email);
  const focused = () => page.evaluate(() => {
    const el = document.activeElement;
    return el.labels?.[0]?.textContent || el.textContent;
  });
  const tabTo = async (name) => {
    for (let i = 0; i < 12 && (await focused()) !== name; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), name);
  };

  await page.goto(`${api.base}/`);
  await heading(page, 'Sign in');
  assert.equal(await focused(), 'Email');
  await page.keyboard.type(email);
  await tabTo('Forgot your password?');
  await page.keyboard.press('Enter');
  await heading(page, 'Forgot your password?');
  assert.equal(await focused(), 'Email');
  assert.equal(await page.getByLabel('Email').inputValue(), email);
  await page.keyboard.press('Enter');
  await heading(page, 'Reset your password');
  assert.equal(await focused(), 'Code');
  // Reading the outbox clicks its Refresh button (the test's doing, not the user's):
  // the focus then goes back to where the user left it.
  const code = await codeFromOutbox(page, email);
  await page.getByLabel('Code').focus();
  await page.keyboard.type(code);
  await tabTo('New password');
  await page.keyboard.type(fresh);
  await page.keyboard.press('Enter');
  await heading(page, 'Sign in');
  assert.equal(await focused(), 'Password');
  await page.keyboard.type(fresh);
  await page.keyboard.press('Enter');
  await heading(page, 'Account security');

  await page.context().close();
  assert.deepEqual(problems, []);
});

test("an admin's side: lockout, users by email a page at a time, unlock, the 2FA flag, a weaker lockout and a reset of a second factor each asking a fresh code in place, the side's events; each admin sees only its side", async () => {
  const id = label();
  const tenant = `initech${id}`;
  const tenantAdmin = `admin@${tenant}.example.com`;
  const userEmail = (i) => `user${String(i).padStart(2, '0')}@${tenant}.example.com`;

  const host = await newPage(browser, problems);
  await signIn(host, api.base, ADMIN.email, ADMIN.password);
  await heading(host, 'Account security');
  await host.getByRole('link', { name: 'Administration' }).click();
  await heading(host, 'Host administration');
  const tenants = region(host, 'Tenants');
  await tenants.getByLabel('Tenant name').fill(tenant);
  await tenants.getByLabel("Tenant admin's email").fill(tenantAdmin);
  await tenants.getByLabel("Tenant admin's password").fill(PASSWORD);
  await tenants.getByRole('button', { name: 'Create tenant' }).click();
  await tenants.getByText(`Tenant ${tenant} created.`).waitFor();

  // Twelve users, registered straight through the API: the list is what is under test.
  await Promise.all(Array.from({ length: 12 }, (_, i) => fetch(`${api.base}/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ tenant, email: userEmail(i), password: PASSWORD }),
  }).then((r) => assert.equal(r.status, 201))));

  const admin = await newPage(browser, problems);
  await signIn(admin, api.base, tenantAdmin, PASSWORD, tenant);
  await heading(admin, 'Account security');
  await admin.getByRole('link', { name: 'Administration' }).click();
  await heading(admin, 'Tenant administration');

  // Lockout: a value out of range is refused beside its field; then 3 attempts, 10 minutes.
  const lockout = region(admin, 'Lockout');
  await lockout.getByText(/^Your tenant follows the (host's values|service's defaults)/).waitFor();
  await lockout.getByLabel('Failed attempts before the account locks').fill('500');
  await lockout.getByRole('button', { name: 'Save lockout' }).click();
  await lockout.locator('[data-error-for="max_failed_attempts"]').filter({ hasText: /1 to 100/ }).waitFor();
  await lockout.getByLabel('Failed attempts before the account locks').fill('3');
  await lockout.getByLabel('Lockout duration in seconds').fill('600');
  await lockout.getByRole('button', { name: 'Save lockout' }).click();
  await lockout.getByText('Lockout saved: 3 failed attempts lock an account for 600 seconds.').waitFor();
  await lockout.getByText("Your tenant's own values.").waitFor();
  await shot(admin, 'admin-lockout', lockout);

  // user00 locks itself out with three wrong passwords.
  const user = await newPage(browser, problems);
  for (const [i, password] of ['wrong password one', 'wrong password two', 'wrong password three', PASSWORD].entries()) {
    await signIn(user, api.base, userEmail(0), password, tenant);
    await user.locator('main .form-error').filter({ hasText: i < 2 ? 'The email or password is wrong.' : /Too many failed attempts/ }).waitFor();
  }

  // The users, ten a page: the locked one says so.
  const users = region(admin, 'Users');
  const rows = users.locator('tbody tr');
  await users.getByRole('button', { name: 'Search' }).click();
  await users.getByRole('row', { name: new RegExp(userEmail(0)) }).getByText(/Locked until/).waitFor();
  await users.getByRole('button', { name: 'Next page' }).waitFor();
  assert.equal(await rows.count(), 10);
  await shot(admin, 'admin-users', users);
  await users.getByRole('button', { name: 'Next page' }).click();
  await users.getByText('Page 2').waitFor();
  assert.equal(await rows.count(), 3, 'the tenant admin and twelve users');
  assert.equal(await users.getByRole('button', { name: 'Next page' }).count(), 0);
  await users.getByRole('button', { name: 'Previous page' }).click();
  await users.getByText('Page 1').waitFor();
  // By the start of the email, whatever its case.
  await users.getByLabel('Email starts with').fill('USER1');
  await users.getByRole('button', { name: 'Search' }).click();
  await users.getByText('emails starting with "user1"').waitFor();
  assert.deepEqual(await users.locator('tbody tr td:first-child').allTextContents(), [userEmail(10), userEmail(11)]);

  // Manage user00: unlock, then it signs in.
  await users.getByLabel('Email starts with').fill('user00');
  await users.getByRole('button', { name: 'Search' }).click();
  await users.getByRole('button', { name: `Manage ${userEmail(0)}` }).click();
  const manage = region(admin, 'Manage a user');
  await manage.getByRole('heading', { name: userEmail(0) }).waitFor();
  const userId = (await manage.locator('code.user-id').textContent()).trim();
  await manage.getByRole('button', { name: 'Unlock' }).click();
  await manage.getByText('The account is unlocked').waitFor();
  await users.getByRole('row', { name: new RegExp(userEmail(0)) }).getByText('Email not confirmed').waitFor();
  await signIn(user, api.base, userEmail(0), PASSWORD, tenant);
  await heading(user, 'Account security');

  // Its 2FA flag, on.
  await manage.getByLabel('Two-factor sign-in on for this user').check();
  await manage.getByRole('button', { name: 'Save', exact: true }).click();
  await manage.getByText('Two-factor sign-in is on for this user.').waitFor();

  // The admin turns its own 2FA on and comes back through a remembered browser: a
  // weaker lockout, then the reset of user00's second factor, each ask the admin for
  // a fresh code, in place.
  await admin.getByRole('link', { name: 'Account security' }).click();
  await heading(admin, 'Account security');
  await confirmEmailAndTurnOn(admin, tenantAdmin);
  await signOut(admin);
  await signInWithEmailCode(admin, tenantAdmin, PASSWORD, { tenant, remember: true });
  const throughRememberedBrowser = async () => {
    await signOut(admin);
    await signIn(admin, api.base, tenantAdmin, PASSWORD, tenant);
    await heading(admin, 'Account security');
    await admin.getByRole('link', { name: 'Administration' }).click();
    await heading(admin, 'Tenant administration');
  };
  // A settings form too: more attempts weaken every account of the side.
  await throughRememberedBrowser();
  await lockout.getByLabel('Failed attempts before the account locks').fill('10');
  await lockout.getByRole('button', { name: 'Save lockout' }).click();
  await stepUpWithEmail(admin, lockout, tenantAdmin, PASSWORD);
  await lockout.getByText('Lockout saved: 10 failed attempts lock an account for 600 seconds.').waitFor();
  await throughRememberedBrowser();
  await region(admin, 'Manage a user').getByLabel('User id').fill(userId);
  await region(admin, 'Manage a user').getByRole('button', { name: 'Look up' }).click();
  await manage.getByRole('button', { name: 'Reset second factor' }).click();
  await stepUpWithEmail(admin, manage, tenantAdmin, PASSWORD, 'admin-step-up');
  await manage.getByText('The second factor is reset').waitFor();

  // The side's events: by type, and one user's.
  const events = region(admin, 'Security events');
  await events.getByLabel('Type').selectOption({ label: 'Locked out' });
  await events.getByRole('button', { name: 'Show events' }).click();
  await events.locator('tbody tr').first().waitFor();
  assert.deepEqual([...new Set(await events.locator('tbody tr .what').allTextContents())], ['Locked out']);
  await events.getByLabel('Type').selectOption({ label: 'Every type' });
  await events.getByRole('button', { name: 'Show events' }).click();
  // (Located in the table: the type filter's options carry the same words.)
  const what = (within, kind) => within.locator('tbody .what', { hasText: kind }).first().waitFor();
  for (const kind of ['Second factor reset', 'Account unlocked', 'Lockout settings changed', 'Failed sign-in']) {
    await what(events, kind);
  }
  await events.locator(`[data-user-id="${userId}"]`, { hasText: userEmail(0) }).first().waitFor();
  await events.getByLabel('User id').fill(userId);
  await events.getByRole('button', { name: 'Show events' }).click();
  await what(events, 'Locked out');
  assert.deepEqual([...new Set(await events.locator('tbody td[data-user-id]').allTextContents())], [userEmail(0)]);
  await shot(admin, 'admin-events', events);
  await events.getByLabel('User id').fill('no-such-user');
  await events.getByRole('button', { name: 'Show events' }).click();
  await events.locator('[data-error-for="user_id"]').getByText('There is no such user on your side.').waitFor();
  await manage.getByRole('button', { name: "Show this user's events" }).click();
  await what(manage, 'Account unlocked');

  // Each admin sees its own side only: the host neither finds nor reads tenant users,
  // and the tenant admin does not find the host's.
  await host.reload();
  await heading(host, 'Host administration');
  await region(host, 'Users').getByLabel('Email starts with').fill('user00');
  await region(host, 'Users').getByRole('button', { name: 'Search' }).click();
  await region(host, 'Users').getByText('No user\'s email starts with "user00".').waitFor();
  await region(host, 'Security events').locator('tbody tr').first().waitFor();
  assert.equal(await region(host, 'Security events').locator(`[data-user-id="${userId}"]`).count(), 0);
  await region(host, 'Manage a user').getByLabel('User id').fill(userId);
  await region(host, 'Manage a user').getByRole('button', { name: 'Look up' }).click();
  await region(host, 'Manage a user').getByText('There is no such user on your side.').waitFor();
  await users.getByLabel('Email starts with').fill(ADMIN.email);
  await users.getByRole('button', { name: 'Search' }).click();
  await users.getByText(/^No user's email starts with/).waitFor();

  for (const p of [host, admin, user]) await p.context().close();
  assert.deepEqual(problems, []);
});
