// Calls to the twofa API on this origin, and the session. The access token lives in
// sessionStorage (this tab only, gone when it closes), never in localStorage or a
// cookie a script can read; the remember-browser cookie is HttpOnly and the browser
// sends it by itself.

const KEY = 'twofa.session';

export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch { return null; }
  },
  // { token, email, tenant }: email and tenant let step-up ask only for the password.
  set(value) { sessionStorage.setItem(KEY, JSON.stringify(value)); },
  clear() { sessionStorage.removeItem(KEY); },
  // The token's claims, read for display and navigation only: the API decides.
  claims() {
    const s = this.get();
    if (!s) return null;
    try {
      const part = s.token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(atob(part.padEnd(part.length + (4 - part.length % 4) % 4, '=')));
    } catch { return null; }
  },
};

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
export async function call(method, path, body, { token, anonymous = false, omitCookies = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const bearer = token || (!anonymous && session.get()?.token);
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
  if (reply.ok && !token && !anonymous && bearer && typeof parsed?.access_token === 'string') {
    session.set({ ...session.get(), token: parsed.access_token });
  }
  // The session's own token refused: it expired or the account's security changed.
  // Other 401s (a wrong current password, a wrong confirmation code) judge what was
  // typed, not the session.
  if (reply.status === 401 && reply.error === 'unauthorized' && !token && !anonymous && bearer) {
    session.clear();
    ended.forEach((fn) => fn(reply));
  }
  return reply;
}
