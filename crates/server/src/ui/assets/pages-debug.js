// modhost dashboard: debug tools: call a module endpoint, run a version's smoke tests, dry-run a promote.

import { api, get, send } from './api.js';
import { card, describeError, field, fill, h, select, table } from './dom.js';

const enc = encodeURIComponent;

export async function renderDebug(session, root) {
  const tenants = session.isOperator ? (await get('/v1/tenants')).tenants.map((tenant) => tenant.id) : [session.tenant];
  const tenant = select({ id: 'debug-tenant' }, tenants, tenants[0]);
  const module = h('select', { id: 'debug-module' });
  const version = h('select', { id: 'debug-version' });
  let versions = [];

  async function loadModules() {
    if (!tenant.value) return;
    versions = (await get(`/v1/modules?tenant=${enc(tenant.value)}`)).versions;
    const modules = [...new Set(versions.map((entry) => entry.module))].sort();
    fill(module, modules.map((name) => h('option', { value: name }, name)));
    fillVersions();
  }
  function fillVersions() {
    const list = versions.filter((entry) => entry.module === module.value).map((entry) => entry.version);
    fill(version, list.map((name, index) => h('option', { value: name, selected: index === list.length - 1 }, name)));
  }
  tenant.addEventListener('change', loadModules);
  module.addEventListener('change', fillVersions);

  const method = select({ id: 'debug-method' }, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], 'GET');
  const path = h('input', { id: 'debug-path', value: '/', placeholder: '/products' });
  const body = h('textarea', { id: 'debug-body', rows: 4, placeholder: '{"name": "…"} (JSON, for POST/PUT/PATCH)' });
  const answer = h('div', { id: 'debug-answer' });
  const smokeResult = h('div', { id: 'smoke-result' });
  const dryRunResult = h('div', { id: 'dry-run-result' });

  fill(root, h('h1', {}, 'Debug tools'),
    h('div', { class: 'inline-form' }, field('Tenant', tenant), field('Module', module), field('Version (smoke, dry run)', version)),
    card('Send a request to the module',
      h('form', { class: 'inline-form', id: 'debug-request', novalidate: true, onsubmit: (event) => { event.preventDefault(); call(); } },
        field('Method', method), field('Path', path), field('Body', body), h('button', { type: 'submit', class: 'primary', id: 'debug-send' }, 'Send')),
      answer),
    card('Run the version\'s smoke tests (on a scratch store; nothing changes)',
      h('button', { type: 'button', class: 'primary', id: 'smoke-run', onclick: smoke }, 'Run smoke tests'), smokeResult),
    card('Dry-run a promote to the version (every check; nothing changes)',
      h('button', { type: 'button', class: 'primary', id: 'dry-run', onclick: dryRun }, 'Dry-run promote'), dryRunResult));

  async function call() {
    const target = `/t/${enc(tenant.value)}/${enc(module.value)}/${path.value.replace(/^\/+/, '')}`;
    const started = performance.now();
    fill(answer, 'sending…');
    try {
      const hasBody = method.value !== 'GET' && method.value !== 'DELETE' && body.value.trim();
      const response = await send(method.value, target, hasBody ? { body: body.value, contentType: 'application/json' } : {})
        .catch((failure) => failure);
      const took = (performance.now() - started).toFixed(1);
      if (response instanceof Error && !response.status) throw response;
      const status = response.status;
      const text = response instanceof Response ? await response.text() : JSON.stringify({ error: { code: response.code, message: response.message, problems: response.problems } });
      const requestId = response instanceof Response ? response.headers.get('x-request-id') : '';
      fill(answer, h('p', { id: 'debug-status' }, `${status} in ${took} ms`, requestId ? ` · request id ${requestId}` : ''),
        h('pre', { class: 'code', id: 'debug-response' }, pretty(text)));
    } catch (failure) {
      fill(answer, h('p', { class: 'field-error' }, describeError(failure)));
    }
  }

  async function smoke() {
    fill(smokeResult, 'running…');
    try {
      const result = await api('POST', `/v1/tenants/${enc(tenant.value)}/deployments/${enc(module.value)}/smoke`, { version: version.value });
      fill(smokeResult, h('p', { id: 'smoke-summary', class: result.passed ? 'ok-text' : 'field-error' },
        `${module.value}@${result.version}: ${result.passed ? 'every smoke test passed' : 'a smoke test failed'}`),
      table(['Test', 'Result', 'Message', 'ms'], result.tests.map((test) => [
        test.name, h('span', { class: `badge ${test.ok ? 'ok' : 'bad'}` }, test.ok ? 'passed' : 'failed'), test.message || '', String(test.took_ms ?? ''),
      ]), { empty: 'this version declares no smoke tests' }));
    } catch (failure) {
      fill(smokeResult, h('p', { class: 'field-error' }, describeError(failure)));
    }
  }

  async function dryRun() {
    fill(dryRunResult, 'checking…');
    try {
      const result = await api('POST', `/v1/tenants/${enc(tenant.value)}/deployments/${enc(module.value)}/promote/dry-run`, { version: version.value });
      fill(dryRunResult, h('p', { id: 'dry-run-summary', class: result.ok ? 'ok-text' : 'field-error' },
        `${result.from || 'nothing'} → ${result.to}: ${result.ok ? 'a promote would pass every check' : 'a promote would be refused'}${result.would_change ? '' : ' (already active)'}`),
      table(['Check', 'Result', 'Message'], result.checks.map((check) => [
        check.name, h('span', { class: `badge ${check.ok ? 'ok' : 'bad'}` }, check.ok ? 'ok' : 'failed'), check.message || '',
      ])));
    } catch (failure) {
      fill(dryRunResult, h('p', { class: 'field-error' }, describeError(failure)));
    }
  }

  await loadModules();
  return null;
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}
