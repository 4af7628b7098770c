// modhost dashboard: building elements, formatting, notices and confirmation dialogs.

// An element: h('button', {class: 'primary', onclick: fn}, 'Save').
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'dataset') {
      Object.assign(element.dataset, value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// Replaces what `element` holds.
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

// A table from rows of cells; `empty` is shown when there are none.
export function table(headers, rows, { empty = 'nothing yet', id } = {}) {
  if (!rows.length) return h('p', { class: 'empty', id }, empty);
  return h('table', { id },
    h('thead', {}, h('tr', {}, headers.map((header) => h('th', {}, header)))),
    h('tbody', {}, rows.map((row) => (row instanceof Node ? row : h('tr', {}, row.map((cell) => h('td', {}, cell)))))));
}

// A titled card.
export function card(title, ...children) {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

// A big figure with its label.
export function stat(label, value, { id, tone } = {}) {
  return h('div', { class: `stat ${tone || ''}` }, h('div', { class: 'value', id }, value), h('div', { class: 'label' }, label));
}

export function formatTime(ms) {
  if (ms === undefined || ms === null) return '—';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

export function formatBytes(bytes) {
  if (bytes === undefined || bytes === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export function formatMoney(cents) {
  if (cents === undefined || cents === null) return '—';
  return (cents / 100).toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
}

// A short-lived message at the top of the page.
export function notify(message, tone = 'ok') {
  const area = document.getElementById('notices');
  const notice = h('div', { class: `notice ${tone}`, role: tone === 'error' ? 'alert' : 'status' }, message);
  area.append(notice);
  setTimeout(() => notice.remove(), tone === 'error' ? 10000 : 5000);
}

// The answer of a failed call, as one line for a notice or an inline error.
export function describeError(error) {
  if (error && error.code) return `${error.message} (${error.status} ${error.code})`;
  return String(error && error.message ? error.message : error);
}

// Asks before doing something that changes state; resolves true when confirmed.
export function confirmAction(title, body) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', id: 'confirm-dialog' },
      h('h3', {}, title),
      h('p', {}, body),
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'confirm-cancel', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: 'primary', id: 'confirm-ok', onclick: () => close(true) }, 'Confirm')));
    function close(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    dialog.addEventListener('cancel', () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

// A labelled form field.
export function field(label, input, { hint, error } = {}) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input,
    hint ? h('span', { class: 'hint' }, hint) : null,
    h('span', { class: 'field-error', role: 'alert' }, error || ''));
}

// A <select> of `options` ([value, text] pairs or plain values).
export function select(attributes, options, selected) {
  return h('select', attributes, options.map((option) => {
    const [value, text] = Array.isArray(option) ? option : [option, option];
    return h('option', { value, selected: value === selected }, text);
  }));
}

// Calls `load` now and every `ms` until the page changes; returns the stop function.
export function every(ms, load) {
  let stopped = false;
  let timer;
  const tick = async () => {
    if (stopped) return;
    try {
      await load();
    } finally {
      if (!stopped) timer = setTimeout(tick, ms);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
