// modhost dashboard: a module's config editor, generated from the schema in its active version's manifest.

import { api, get } from './api.js';
import { confirmAction, describeError, fill, formatTime, h, notify, select, table } from './dom.js';

const enc = encodeURIComponent;

// The editor of `module`'s config for `tenantId`, drawn once its schema and values are loaded.
export function configEditor(session, tenantId, module, version) {
  const canAdmin = session.isOperator || session.isAdmin;
  const root = h('div', { class: 'config-editor', id: `config-${module}`, dataset: { module } }, h('h3', {}, module), h('p', { class: 'loading' }, 'Loading…'));
  const path = `/v1/tenants/${enc(tenantId)}/config/${enc(module)}`;

  async function load() {
    const [view, manifest] = await Promise.all([get(path), get(`/v1/modules/${enc(module)}/versions/${enc(version)}`)]);
    const schema = ((manifest.manifest || {}).config || {}).fields || {};
    const names = Object.keys(schema).sort();
    const inputs = new Map();
    const errors = new Map();
    const rows = names.map((name) => {
      const spec = schema[name];
      const input = inputFor(module, name, spec, view.values[name]);
      if (!canAdmin) input.disabled = true;
      inputs.set(name, { input, spec });
      const error = h('span', { class: 'field-error', id: `config-error-${module}-${name}`, role: 'alert' });
      errors.set(name, error);
      return h('label', { class: 'field' },
        h('span', { class: 'field-label' }, name, h('span', { class: 'muted' }, ` ${describeSpec(spec)}`)),
        input,
        spec.description ? h('span', { class: 'hint' }, spec.description) : null,
        error);
    });
    const formError = h('p', { class: 'field-error', id: `config-form-error-${module}`, role: 'alert' });
    const form = h('form', { class: 'config-form', novalidate: true }, rows.length ? rows : h('p', { class: 'empty' }, 'this version declares no settings'),
      canAdmin && rows.length ? h('button', { type: 'submit', class: 'primary', id: `config-save-${module}` }, 'Save config') : null, formError);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      for (const error of errors.values()) fill(error);
      fill(formError);
      const values = {};
      for (const [name, { input, spec }] of inputs) {
        const value = readInput(input, spec);
        if (value !== undefined) values[name] = value;
      }
      try {
        const saved = await api('PUT', path, { values });
        notify(`${module} config saved as version ${saved.version}`);
        await load();
      } catch (failure) {
        let placed = false;
        for (const problem of failure.problems || []) {
          const name = (problem.field || '').replace(/^config\./, '').replace(/^"|"$/g, '');
          if (errors.has(name)) {
            fill(errors.get(name), problem.message);
            placed = true;
          }
        }
        fill(formError, placed ? failure.message : describeError(failure));
      }
    });
    const history = view.history.slice().reverse().map((entry) => [
      String(entry.version), entry.reason, entry.actor, formatTime(entry.at_ms),
      h('code', {}, JSON.stringify(entry.values)),
      canAdmin && entry.version !== view.version
        ? h('button', { type: 'button', id: `config-rollback-${module}-${entry.version}`, onclick: () => rollback(entry.version) }, `Roll back to ${entry.version}`)
        : (entry.version === view.version ? h('span', { class: 'badge ok' }, 'current') : ''),
    ]);
    fill(root, h('h3', {}, `${module} · config version ${view.version} · schema of ${version}`), form,
      h('details', {}, h('summary', {}, `History (${view.history.length})`),
        table(['Version', 'Reason', 'Actor', 'At', 'Values', ''], history, { empty: 'never set' })));
  }

  async function rollback(to) {
    if (!(await confirmAction('Roll back config', `Set ${module}'s config for ${tenantId} back to version ${to}? This writes a new version.`))) return;
    try {
      const saved = await api('POST', `${path}/rollback`, { to });
      notify(`${module} config rolled back to ${to} (now version ${saved.version})`);
      await load();
    } catch (failure) {
      notify(describeError(failure), 'error');
    }
  }

  load().catch((failure) => fill(root, h('h3', {}, module), h('p', { class: 'field-error' }, describeError(failure))));
  return root;
}

function describeSpec(spec) {
  const parts = [spec.type];
  if (spec.min !== undefined) parts.push(`≥ ${spec.min}`);
  if (spec.max !== undefined) parts.push(`≤ ${spec.max}`);
  if (spec.min_length !== undefined) parts.push(`≥ ${spec.min_length} chars`);
  if (spec.max_length !== undefined) parts.push(`≤ ${spec.max_length} chars`);
  if (spec.default !== undefined) parts.push(`default ${JSON.stringify(spec.default)}`);
  if (spec.required) parts.push('required');
  return `(${parts.join(', ')})`;
}

// An input for one field; empty means "not set" (the default applies).
function inputFor(module, name, spec, value) {
  const id = `config-${module}-${name}`;
  if (spec.type === 'bool') {
    return select({ id, name }, [['', 'default'], ['true', 'true'], ['false', 'false']], value === undefined ? '' : String(value));
  }
  if (spec.type === 'enum') {
    return select({ id, name }, [['', 'default'], ...spec.values.map((option) => [option, option])], value === undefined ? '' : value);
  }
  const numeric = spec.type === 'int' || spec.type === 'float';
  return h('input', {
    id,
    name,
    type: 'text',
    inputmode: numeric ? 'decimal' : undefined,
    value: value === undefined ? '' : String(value),
    placeholder: spec.default === undefined ? '' : String(spec.default),
  });
}

// The JSON value to send: numbers as numbers (anything else as typed, so the server names the problem).
function readInput(input, spec) {
  const text = input.value.trim();
  if (text === '') return undefined;
  if (spec.type === 'bool') return text === 'true';
  if (spec.type === 'int' || spec.type === 'float') {
    const number = Number(text);
    return Number.isFinite(number) ? number : text;
  }
  return input.value;
}
