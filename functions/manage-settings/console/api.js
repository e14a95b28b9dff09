// Calls to the twofa API on this origin, and the session. The access token lives in
// this page's memory only, never in localStorage, sessionStorage or a cookie a script
// can read: a script injected into the page, or whoever reads the browser's storage
// later, finds no token that outlives the page. The refresh token is a cookie the API
// sets HttpOnly, SameSite=Strict and scoped to /token (`twofa_refresh`): the browser
// sends it to /token/refresh and /token/revoke alone, and a reload resumes the
// session through it. The remember-browser cookie is HttpOnly too.

// Who signed in (email and tenant as typed, not a secret): step-up asks only for the
// password, and the account page says who. Kept for this tab across a reload.
const WHO = 'twofa.who';
let token = null;
let renewal = null;

function readWho() {
  try { return JSON.parse(sessionStorage.getItem(WHO) || 'null') || {}; } catch { return {}; }
}

function decode(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part.padEnd(part.length + (4 - part.length % 4) % 4, '=')));
  } catch { return null; }
}

export const session = {
  // { token, email, tenant }, or null when signed out.
  get() { return token ? { token, ...readWho() } : null; },
  // { token, email, tenant }: a new access token, and who it is when known.
  set(value) {
    token = value.token;
    const who = { email: value.email, tenant: value.tenant };
    if (who.email !== undefined) sessionStorage.setItem(WHO, JSON.stringify(who));
    scheduleRenewal();
  },
  // Forgets the session in this page (the cookie stays: see `signOut`).
  clear() {
    token = null;
    clearTimeout(renewal);
    sessionStorage.removeItem(WHO);
  },
  // The token's claims, read for display and navigation only: the API decides.
  claims() { return token ? decode(token) : null; },
};

// Renews the access token before it expires: at 80% of its lifetime, or 30 s before
// its end if that comes first. The lifetime is read as `exp - iat`, so a client
// clock that is off does not matter.
function scheduleRenewal(delaySeconds) {
  clearTimeout(renewal);
  const c = session.claims();
  if (!c) return;
  const life = Math.max(0, (c.exp || 0) - (c.iat || 0));
  const wait = delaySeconds ?? Math.max(5, Math.min(life * 0.8, life - 30));
  renewal = setTimeout(() => { renew(); }, wait * 1000);
}

// One renewal at a time: the refresh token rotates, and two refreshes sent together
// from one page would leave one of them refused.
let renewing = null;
export function renew() {
  renewing ??= refreshByCookie().finally(() => { renewing = null; });
  return renewing;
}

// POST /token/refresh with the cookie; true when a new access token came back.
async function refreshByCookie() {
  let r = await post('/token/refresh');
  // Another tab refreshed the same cookie at the same moment and won: its answer
  // set the next cookie, which a second try presents.
  if (r.status === 401) {
    await new Promise((ok) => setTimeout(ok, 1000));
    r = await post('/token/refresh');
  }
  if (r.ok && typeof r.body?.access_token === 'string') {
    token = r.body.access_token;
    scheduleRenewal();
    return true;
  }
  if (r.status === 0 || r.status >= 500) {
    // Unreachable for now: keep the token while it lasts and try again soon.
    if (token) scheduleRenewal(15);
    return false;
  }
  return false;
}

// At page load: the session the refresh cookie holds, if any.
export async function resume() {
  return renew();
}

// Ends the session: the API ends it and clears the refresh cookie.
export async function signOut() {
  session.clear();
  await post('/token/revoke');
}

async function post(path, body = {}) {
  return call('POST', path, body, { anonymous: true });
}

// An answer of the API: `ok`, `status`, `body` (parsed JSON or null), and for
// errors `error`, `message`, `field`.
export class Reply {
  constructor(status, body) {
    this.status = status;
    this.body = body;
    this.ok = status >= 200 && status < 300;
    this.error = body && body.error;
    this.message = body && body.message;
    this.field = body && body.field;
  }
}

// Listeners told when the signed-in session ends (an access token answered 401).
const ended = new Set();
export function onSessionEnded(fn) { ended.add(fn); }

// `token`: a bearer token other than the session's (two-factor, setup);
// `omitCookies`: for step-up, so a remembered browser cannot stand in for a fresh code.
export async function call(method, path, body, { token: other, anonymous = false, omitCookies = false, retried = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const bearer = other || (!anonymous && token);
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: omitCookies ? 'omit' : 'same-origin',
      cache: 'no-store',
    });
  } catch {
    return new Reply(0, { error: 'network', message: 'The service could not be reached. Check your connection and try again.' });
  }
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
  const reply = new Reply(response.status, parsed);
  // A change that rotated the account's security stamp ended the session's token and
  // answers with its successor (`access_token`): go on with it.
  if (reply.ok && !other && !anonymous && bearer && typeof parsed?.access_token === 'string') {
    token = parsed.access_token;
    scheduleRenewal();
  }
  // The session's own token refused: it expired (a tab asleep past its renewal), or
  // the session ended. A renewal tells which; other 401s (a wrong current password,
  // a wrong confirmation code) judge what was typed, not the session.
  if (reply.status === 401 && reply.error === 'unauthorized' && !other && !anonymous && bearer) {
    if (!retried && bearer === token && await renew()) return call(method, path, body, { omitCookies, retried: true });
    if (token === bearer || !token) {
      session.clear();
      ended.forEach((fn) => fn(reply));
    }
  }
  return reply;
}
