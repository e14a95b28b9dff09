// The console's session, in headless Chromium against the local API on DynamoDB
// Local: a reload keeps it, its access token is renewed before it expires, no token
// is ever where page script can read it after a reload (localStorage,
// sessionStorage, document.cookie), and the account lists its sessions and ends one.
// The page's clock is Playwright's, fast-forwarded to the renewal. Any console error
// or CSP violation fails the run.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startApi, launch, newPage, shot, signIn, region, PASSWORD } from './support.mjs';

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

const heading = (page, name) => page.getByRole('heading', { name, level: 1 }).waitFor();
const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';

// Every bearer token the page sends, in order.
function bearers(page) {
  const seen = [];
  page.on('request', (r) => {
    const auth = r.headers().authorization;
    if (auth?.startsWith('Bearer ')) seen.push(auth.slice(7));
  });
  return seen;
}

// Every key and value of the page's localStorage and sessionStorage.
const storage = (page) => page.evaluate(() => [localStorage, sessionStorage].flatMap(
  (s) => Array.from({ length: s.length }, (_, i) => [s.key(i), s.getItem(s.key(i))])));

// No token in page-readable storage: none of `tokens`, nor anything shaped like a JWT.
async function assertNoTokenReadable(page, tokens) {
  const stored = await storage(page);
  for (const [key, value] of stored) {
    for (const t of tokens) assert.ok(!`${key}${value}`.includes(t), `a token in storage under ${key}`);
    assert.doesNotMatch(`${key}${value}`, /eyJ[\w-]+\.[\w-]+\.[\w-]+/, `a JWT in storage under ${key}`);
  }
  assert.equal(await page.evaluate(() => localStorage.length), 0, 'localStorage is empty');
  assert.equal(await page.evaluate(() => document.cookie), '', 'no cookie page script can read');
}

test('a reload keeps the session, the access token is renewed before it expires and is never stored, sessions are listed and ended', async () => {
  const email = `sam-${randomUUID().slice(0, 8)}@example.org`;
  const registered = await fetch(`${api.base}/register`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }),
  });
  assert.equal(registered.status, 201);

  const page = await newPage(browser, problems);
  await page.clock.install();
  const sent = bearers(page);
  await signIn(page, api.base, email, PASSWORD);
  await heading(page, 'Account security');
  const first = sent.at(-1);
  assert.ok(first, 'the account page was loaded with a bearer token');

  // The refresh token is a cookie page script never sees, sent to /token/* alone.
  const cookie = (await page.context().cookies()).find((c) => c.name === 'twofa_refresh');
  assert.ok(cookie, 'the sign-in set the refresh cookie');
  assert.deepEqual([cookie.httpOnly, cookie.secure, cookie.sameSite, cookie.path], [true, true, 'Strict', '/token']);
  await assertNoTokenReadable(page, [first, cookie.value]);

  // A reload keeps the session: a new access token, from the refresh cookie.
  const resumed = page.waitForResponse((r) => r.url().endsWith('/token/refresh'));
  await page.reload();
  assert.equal((await resumed).status(), 200);
  await heading(page, 'Account security');
  await region(page, 'Signed-in sessions').locator('li').first().waitFor();
  const afterReload = sent.at(-1);
  assert.notEqual(afterReload, first, 'the reloaded page uses a renewed access token');
  assert.equal(claims(afterReload).sid, claims(first).sid, 'of the same session');
  const rotated = (await page.context().cookies()).find((c) => c.name === 'twofa_refresh');
  assert.notEqual(rotated.value, cookie.value, 'the refresh cookie rotated');
  await assertNoTokenReadable(page, [first, afterReload, cookie.value, rotated.value]);

  // Renewal before expiry: nothing at 10 minutes of a 15-minute token, a renewal by
  // 12 (80% of its life), well before it ends.
  const { iat, exp } = claims(afterReload);
  assert.equal(exp - iat, 900);
  const refreshes = [];
  page.on('response', (r) => { if (r.url().endsWith('/token/refresh')) refreshes.push(r); });
  await page.clock.fastForward('10:00');
  await page.waitForTimeout(300);
  assert.equal(refreshes.length, 0, 'no renewal at 10 minutes');
  const renewal = page.waitForResponse((r) => r.url().endsWith('/token/refresh'));
  await page.clock.fastForward('02:01');
  const renewedAnswer = await renewal;
  assert.equal(renewedAnswer.status(), 200);
  const renewed = (await renewedAnswer.json()).access_token;
  assert.notEqual(renewed, afterReload);
  // The next call goes with the renewed token.
  await page.evaluate(() => { location.hash = '#/sign-in'; });
  await heading(page, 'Account security');
  await region(page, 'Signed-in sessions').locator('li').first().waitFor();
  assert.equal(sent.at(-1), renewed, 'the page calls with the renewed token');
  await assertNoTokenReadable(page, [first, afterReload, renewed]);

  // A second device signs in: the sessions list shows both, this one marked.
  const other = await newPage(browser, problems, { userAgent: FIREFOX });
  await signIn(other, api.base, email, PASSWORD);
  await heading(other, 'Account security');
  await page.reload();
  await heading(page, 'Account security');
  const list = region(page, 'Signed-in sessions');
  await list.getByRole('button', { name: /^End the session of Mozilla.*Firefox/ }).waitFor();
  assert.equal(await list.locator('li').count(), 2);
  assert.equal(await list.locator('li[data-current="true"]').count(), 1);
  await list.locator('li[data-current="true"]').getByText('(this session)').waitFor();
  await shot(page, 'sessions', list);

  // Ending the other session: the list shrinks, and the other device's next call
  // (and its renewal) is refused, so it is back at sign-in.
  await list.getByRole('button', { name: /^End the session of Mozilla.*Firefox/ }).click();
  await list.getByRole('button', { name: /^End the session of/ }).waitFor({ state: 'detached' });
  assert.equal(await list.locator('li').count(), 1);
  await region(other, 'Recovery codes').getByRole('button', { name: 'Generate new recovery codes' }).click();
  await heading(other, 'Sign in');
  await other.getByText(/Your session has ended/).waitFor();
  await other.reload();
  await heading(other, 'Sign in');

  // Ending this session signs out here; a reload does not bring it back.
  await list.getByRole('button', { name: 'End this session (sign out)' }).click();
  await heading(page, 'Sign in');
  assert.equal((await page.context().cookies()).find((c) => c.name === 'twofa_refresh'), undefined, 'the refresh cookie is cleared');
  await page.reload();
  await heading(page, 'Sign in');
  await assertNoTokenReadable(page, [renewed]);

  await other.context().close();
  await page.context().close();
  assert.deepEqual(problems, []);
});
