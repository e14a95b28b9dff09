// DOM helpers. Text from the API is only ever set as text (textContent, attribute
// values), never parsed as markup.

let ids = 0;
const uid = (p) => `${p}-${++ids}`;

// h('p', {class: 'x'}, 'text', child): an element; `on*` keys attach listeners.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function replace(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

// A labelled input with its error slot. `name` is the API's field name, so an
// error naming that field lands beside it.
export function field(label, name, { type = 'text', value = '', autocomplete, hint, required = true, inputmode, ...rest } = {}) {
  const id = uid(name);
  const input = h('input', { id, name, type, autocomplete, inputmode, required, 'aria-describedby': `${id}-error${hint ? ` ${id}-hint` : ''}`, ...rest });
  input.value = value;
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null,
    input,
    h('p', { class: 'error', id: `${id}-error`, 'data-error-for': name }));
}

export function checkbox(label, name, checked = false) {
  const id = uid(name);
  return h('div', { class: 'check' },
    h('input', { id, name, type: 'checkbox', checked }),
    h('label', { for: id }, label));
}

// A group of radio buttons: [[value, label], ...].
export function radios(legend, name, options, current) {
  return h('fieldset', { class: 'field', 'aria-describedby': `${name}-group-error` },
    h('legend', {}, legend),
    options.map(([value, label]) => {
      const id = uid(name);
      return h('div', { class: 'check' },
        h('input', { id, name, type: 'radio', value, checked: value === current }),
        h('label', { for: id }, label));
    }),
    h('p', { class: 'error', id: `${name}-group-error`, 'data-error-for': name }));
}

export function button(label, onclick, { kind = 'primary', type = 'button', ...rest } = {}) {
  return h('button', { type, class: kind, onclick, ...rest }, label);
}

// A form whose submit handler receives the values; the button is disabled while it runs.
export function form(children, submitLabel, onsubmit, extra = []) {
  const status = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary' }, submitLabel);
  const f = h('form', { novalidate: true }, children, status, h('div', { class: 'actions' }, submit, extra));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(f);
    submit.disabled = true;
    try { await onsubmit(values(f), f); } finally { submit.disabled = false; }
  });
  return f;
}

export function values(f) {
  const out = {};
  for (const el of f.elements) {
    if (!el.name) continue;
    if (el.type === 'checkbox') {
      if (el.value && el.value !== 'on') { (out[el.name] ||= []); if (el.checked) out[el.name].push(el.value); } else out[el.name] = el.checked;
    } else if (el.type === 'radio') { if (el.checked) out[el.name] = el.value; } else out[el.name] = el.value.trim();
  }
  return out;
}

export function clearErrors(f) {
  f.querySelectorAll('[data-error-for]').forEach((p) => { p.textContent = ''; });
  f.querySelectorAll('[aria-invalid]').forEach((el) => el.removeAttribute('aria-invalid'));
  const status = f.querySelector('.form-error');
  if (status) status.textContent = '';
}

// Which field an error code is about when the API does not say.
const FIELD_OF = {
  invalid_email: 'email', email_taken: 'email', weak_password: 'password', invalid_phone: 'phone_number',
  unknown_tenant: 'tenant', invalid_code: 'code', code_expired: 'code', tenant_exists: 'name',
  controlled_by_host: 'behaviour', not_optional: 'enabled',
};

// Shows an error reply beside the field it names, else at the top of the form.
export function showError(f, reply, words = {}) {
  const message = words[reply.error] || describe(reply);
  const name = reply.field || FIELD_OF[reply.error];
  const slot = name && f.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
  if (slot) {
    slot.textContent = message;
    // Of a group of radio buttons, the chosen one takes the focus; the group's
    // fieldset already points at the message.
    const input = f.querySelector(`[name="${CSS.escape(name)}"]:checked`) || f.querySelector(`[name="${CSS.escape(name)}"]`);
    if (input) { if (input.type !== 'radio') input.setAttribute('aria-invalid', 'true'); input.focus(); }
  } else {
    const status = f.querySelector('.form-error');
    if (status) status.textContent = message;
  }
}

export function describe(reply) {
  const b = reply.body || {};
  switch (reply.error) {
    case 'invalid_code':
      return b.attempts_remaining !== undefined ? `That code is wrong or was already used. ${b.attempts_remaining} attempt(s) left before the account locks.` : 'That code is wrong or was already used.';
    case 'code_expired': return 'That code has expired. Send a new one.';
    case 'locked_out': return `Too many failed attempts. Try again in ${minutes(b.retry_after_seconds)}.`;
    case 'too_many_requests': return `Too many codes sent. Try again in ${minutes(b.retry_after_seconds)}.`;
    case 'invalid_credentials': return 'The email or password is wrong.';
    case 'delivery_failed': return 'The code could not be delivered. Try another way or try again later.';
    // The API's own sentence, as a sentence.
    default: return reply.message ? `${reply.message[0].toUpperCase()}${reply.message.slice(1)}${/[.!?]$/.test(reply.message) ? '' : '.'}` : `The request failed (${reply.status}).`;
  }
}

function minutes(s) {
  if (!s) return 'a few minutes';
  return s < 90 ? `${s} seconds` : `${Math.ceil(s / 60)} minutes`;
}

export function notice(text, kind = 'ok') {
  return h('p', { class: `notice ${kind}`, role: kind === 'ok' ? 'status' : 'alert' }, text);
}

export function section(title, ...children) {
  const id = uid('section');
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), children);
}

export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : '';
}
