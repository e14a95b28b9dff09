// The harness of the console's browser tests: the local API (its real binary) on a
// fresh table in DynamoDB Local, Debian's Chromium driven by playwright-core (which
// never downloads a browser of its own), TOTP codes, the outbox panel, screenshots,
// and a watch on console errors and CSP violations.

import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const require = createRequire(join(ROOT, '.services/browser/node_modules/'));
const { chromium } = require('playwright-core');

export const PASSWORD = 'correct horse battery staple';
export const ADMIN = { email: 'admin@console.example.com', password: 'violet-Harbor-92-lantern' };

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on('error', fail);
  });
}

// `host`: the name the browser reaches the API by (`base`). Passkeys need
// `localhost`: the local API's relying party, as browsers take no IP address as a
// passkey's site. The binary listens on 127.0.0.1 either way, which `direct` names.
export async function startApi({ host = '127.0.0.1' } = {}) {
  const endpoint = process.env.DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('DYNAMODB_ENDPOINT is not set: start DynamoDB Local (infra/scripts/services.sh start)');
  const bin = process.env.LOCAL_API_BIN || join(process.env.CARGO_TARGET_DIR || join(ROOT, 'target'), 'debug/local-api');
  const port = await freePort();
  const table = `console-e2e-${randomUUID().replace(/-/g, '')}`;
  const child = spawn(bin, [], {
    env: {
      ...process.env,
      // DynamoDB Local takes any credentials; never reach for real ones.
      AWS_EC2_METADATA_DISABLED: 'true', AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
      PORT: String(port), TABLE_NAME: table, DYNAMODB_ENDPOINT: endpoint,
      LOCAL_ADMIN_EMAIL: ADMIN.email, LOCAL_ADMIN_PASSWORD: ADMIN.password,
      SMS_PROVIDER: 'log', EMAIL_PROVIDER: 'log',
      // The walkthrough sends codes seconds apart; a person would wait out the 30 s.
      RESEND_COOLDOWN_SECONDS: '0', RUST_LOG: process.env.RUST_LOG || 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const direct = `http://127.0.0.1:${port}`;
  const base = `http://${host}:${port}`;
  for (let i = 0; i < 240; i++) {
    if (child.exitCode !== null) throw new Error(`the local API exited with ${child.exitCode}`);
    try { if ((await fetch(`${direct}/`)).ok) return { base, direct, stop: () => child.kill('SIGTERM') }; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 250));
  }
  child.kill('SIGTERM');
  throw new Error('the local API did not answer within 60 s');
}

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // Playwright adds a fresh temporary --user-data-dir to every launch.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// A new browser context (its own cookies and storage) with one page, watched for
// console errors, uncaught exceptions and CSP violations. `options`: the context's
// others (another `userAgent`, for a second device).
export async function newPage(browser, problems, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1120, height: 820 }, ...options });
  const page = await context.newPage();
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // The API's deliberate 4xx answers (a wrong code in a test) are logged by
    // Chromium as failed loads; anything else is a defect.
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) return;
    problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  return page;
}

const SHOTS = process.env.CONSOLE_SCREENSHOTS ? resolve(ROOT, process.env.CONSOLE_SCREENSHOTS) : join(tmpdir(), 'twofa-console-screenshots');
mkdirSync(SHOTS, { recursive: true });
// The viewport, or one part of the page (kept small: they live in the repository).
export async function shot(page, name, part) {
  await page.waitForLoadState('networkidle');
  const path = join(SHOTS, `${name}.png`);
  if (!part) await page.evaluate(() => window.scrollTo(0, 0));
  await (part ? part.screenshot({ path }) : page.screenshot({ path }));
}

// RFC 6238 with the API's parameters: SHA-1, 6 digits, 30 s steps.
function base32(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/[\s=]/g, '').toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}
export function totp(key, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32(key)).update(counter).digest();
  const o = mac[19] & 0xf;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}
// An authenticator: each code once, as the API accepts each step once.
export function authenticator(key) {
  let last = -1;
  return () => {
    const step = Math.max(Math.floor(Date.now() / 30000), last + 1);
    last = step;
    return totp(key, step);
  };
}

// The newest code the outbox panel shows for `to`, waiting for one not seen before.
const seen = new Set();
export async function codeFromOutbox(page, to) {
  const panel = page.getByRole('complementary', { name: 'Outbox' });
  for (let i = 0; i < 40; i++) {
    await panel.getByRole('button', { name: 'Refresh' }).click();
    const first = panel.locator(`li[data-to="${to}"] .code`).first();
    if (await first.count()) {
      const code = (await first.textContent()).trim();
      if (!seen.has(code)) { seen.add(code); return code; }
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no new code for ${to} in the outbox panel`);
}

export async function signIn(page, base, email, password, tenant) {
  await page.goto(`${base}/#/sign-in`);
  const form = page.locator('main form');
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  if (tenant) await form.getByLabel('Tenant').fill(tenant);
  await form.getByRole('button', { name: 'Sign in' }).click();
}

export async function signOut(page) {
  await page.getByRole('navigation').getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
}

export const region = (page, name) => page.getByRole('region', { name, exact: true });
