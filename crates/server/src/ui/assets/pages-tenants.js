// modhost dashboard: the tenant list and one tenant's page (deployments, config, implementation).

import { api, get } from './api.js';
import { card, confirmAction, describeError, field, fill, formatMoney, formatTime, h, notify, select, table } from './dom.js';
import { configEditor } from './pages-config.js';
import { implementationCard } from './pages-implementation.js';

const enc = encodeURIComponent;

export async function renderTenants(session, root) {
  const list = h('div', { id: 'tenant-list' });
  fill(root, h('h1', {}, 'Tenants'), session.isOperator ? newTenantForm(() => load()) : null, card('All tenants', list));
  async function load() {
    const { tenants } = await get('/v1/tenants');
    fill(list, table(['Id', 'Name', 'Kind', 'Plan', 'Monthly value', 'Features', 'State', 'Created'], tenants.map((tenant) => [
      h('a', { href: `#/tenants/${enc(tenant.id)}`, class: 'tenant-link' }, tenant.id),
      tenant.name,
      tenant.kind,
      tenant.plan || '—',
      formatMoney(tenant.monthly_value_cents),
      [...(tenant.features || [])].join(', ') || '—',
      tenant.suspended ? h('span', { class: 'badge bad' }, 'suspended') : h('span', { class: 'badge ok' }, 'active'),
      formatTime(tenant.created_at_ms),
    ]), { empty: 'no tenants yet', id: 'tenants-table' }));
  }
  await load();
}

function newTenantForm(onCreated) {
  const id = h('input', { name: 'id', id: 'new-tenant-id', placeholder: 'acme', required: true });
  const name = h('input', { name: 'name', id: 'new-tenant-name', placeholder: 'Acme Retail', required: true });
  const kind = select({ name: 'kind', id: 'new-tenant-kind' }, ['standard', 'custom'], 'standard');
  const features = h('input', { name: 'features', id: 'new-tenant-features', placeholder: 'reservations, loyalty' });
  const error = h('p', { class: 'field-error', id: 'new-tenant-error', role: 'alert' });
  const form = h('form', { id: 'new-tenant', class: 'inline-form', novalidate: true },
    field('Id', id), field('Name', name), field('Kind', kind), field('Features (comma separated)', features),
    h('button', { type: 'submit', class: 'primary', id: 'new-tenant-submit' }, 'Create tenant'), error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fill(error);
    try {
      const created = await api('POST', '/v1/tenants', {
        id: id.value.trim(),
        name: name.value.trim(),
        kind: kind.value,
        features: splitList(features.value),
      });
      notify(`tenant ${created.id} created`);
      form.reset();
      await onCreated();
    } catch (failure) {
      fill(error, describeError(failure));
    }
  });
  return card('New tenant', form);
}

function splitList(text) {
  return text.split(',').map((item) => item.trim()).filter(Boolean);
}

export async function renderTenant(session, root, tenantId) {
  const canAdmin = session.isOperator || session.isAdmin;
  const header = h('div', { id: 'tenant-header' });
  const deployments = h('div', { id: 'deployments' });
  const config = h('div', { id: 'config-area' });
  const implementation = h('div', { id: 'implementation-area' });
  fill(root, h('p', {}, h('a', { href: '#/tenants' }, '← Tenants')), header,
    card('Modules and deployments', deployments), config, implementation);

  async function loadHeader() {
    const tenant = await get(`/v1/tenants/${enc(tenantId)}`);
    fill(header,
      h('h1', { id: 'tenant-title' }, `${tenant.name} (${tenant.id})`),
      h('p', {}, `${tenant.kind} tenant · features: ${[...(tenant.features || [])].join(', ') || 'none'} · `,
        tenant.suspended
          ? h('span', { class: 'badge bad', id: 'tenant-state' }, `suspended since ${formatTime(tenant.suspended.at_ms)}${tenant.suspended.reason ? `: ${tenant.suspended.reason}` : ''}`)
          : h('span', { class: 'badge ok', id: 'tenant-state' }, 'active')),
      session.isOperator ? editTenantForm(tenant, loadHeader) : null);
  }

  async function loadDeployments() {
    const [{ deployments: current }, { versions }] = await Promise.all([
      get(`/v1/tenants/${enc(tenantId)}/deployments`),
      get(`/v1/modules?tenant=${enc(tenantId)}`),
    ]);
    const byModule = new Map();
    for (const version of versions) {
      if (!byModule.has(version.module)) byModule.set(version.module, []);
      byModule.get(version.module).push(version.version);
    }
    const active = new Map(current.map((deployment) => [deployment.module, deployment]));
    const modules = [...new Set([...byModule.keys(), ...active.keys()])].sort();
    const rows = modules.map((module) => deploymentRow(module, active.get(module), byModule.get(module) || []));
    fill(deployments, table(['Module', 'Active', 'Canary', 'Change', 'History'], rows, { empty: 'no modules can run here yet', id: 'deployments-table' }));
    const enabled = current.filter((deployment) => deployment.active);
    fill(config, enabled.length
      ? card('Configuration', ...enabled.map((deployment) => configEditor(session, tenantId, deployment.module, deployment.active)))
      : null);
  }

  function deploymentRow(module, deployment, versions) {
    const activeVersion = deployment && deployment.active;
    const picker = select({ id: `version-${module}`, 'aria-label': `version of ${module}` }, versions, versions[versions.length - 1]);
    const result = h('span', { class: 'result', id: `result-${module}` });
    const actions = canAdmin ? [
      picker,
      h('button', { type: 'button', class: 'primary', id: `promote-${module}`, onclick: () => change('promote', { version: picker.value }) }, 'Promote'),
      h('button', { type: 'button', id: `rollback-${module}`, disabled: !(deployment && deployment.history.length), onclick: () => change('rollback', {}) }, 'Roll back'),
      result,
    ] : [h('span', { class: 'muted' }, 'read only')];
    async function change(action, body) {
      const what = action === 'promote'
        ? `Promote ${module} for ${tenantId} from ${activeVersion || 'nothing'} to ${body.version}? Smoke tests and any data migration run first.`
        : `Roll ${module} back for ${tenantId} from ${activeVersion} to its previous version? A migration's snapshot is restored, discarding writes made since.`;
      if (!(await confirmAction(action === 'promote' ? 'Promote' : 'Roll back', what))) return;
      fill(result, 'working…');
      try {
        const answer = await api('POST', `/v1/tenants/${enc(tenantId)}/deployments/${enc(module)}/${action}`, body);
        const message = answer.changed ? `${module}: ${answer.from || 'nothing'} → ${answer.to || 'nothing'}` : `${module}: already ${answer.to}`;
        notify(message);
        await loadDeployments();
        const fresh = document.getElementById(`result-${module}`);
        if (fresh) fill(fresh, h('span', { class: 'ok-text' }, message));
      } catch (failure) {
        fill(result, h('span', { class: 'field-error' }, describeError(failure)));
      }
    }
    const history = deployment ? deployment.history.slice(-5).reverse().map((event) =>
      h('div', { class: 'history' }, `#${event.seq} ${event.action} ${event.from || '∅'} → ${event.to || '∅'} by ${event.actor} at ${formatTime(event.at_ms)}`)) : '—';
    return h('tr', { dataset: { module } },
      h('td', {}, module),
      h('td', { class: 'active-version', id: `active-${module}` }, activeVersion || 'not enabled'),
      h('td', {}, deployment && deployment.canary ? `${deployment.canary.version} (${deployment.canary.percent}%)` : '—'),
      h('td', { class: 'actions' }, actions),
      h('td', {}, history));
  }

  await loadHeader();
  await loadDeployments();
  fill(implementation, await implementationCard(session, tenantId));
  return null;
}

function editTenantForm(tenant, reload) {
  const name = h('input', { id: 'edit-name', value: tenant.name });
  const features = h('input', { id: 'edit-features', value: [...(tenant.features || [])].join(', ') });
  const legal = h('input', { id: 'edit-legal-name', value: tenant.organisation.legal_name || '' });
  const country = h('input', { id: 'edit-country', value: tenant.organisation.country || '', maxlength: 2 });
  const email = h('input', { id: 'edit-contact-email', value: tenant.organisation.contact_email || '' });
  const plan = h('input', { id: 'edit-plan', value: tenant.plan || '', placeholder: 'e.g. growth' });
  const value = h('input', { id: 'edit-monthly-value', value: tenant.monthly_value_cents === undefined || tenant.monthly_value_cents === null ? '' : (tenant.monthly_value_cents / 100).toFixed(2), inputmode: 'decimal' });
  const error = h('p', { class: 'field-error', id: 'edit-tenant-error', role: 'alert' });
  const form = h('form', { id: 'edit-tenant', class: 'inline-form', novalidate: true },
    field('Name', name), field('Features', features), field('Legal name', legal), field('Country', country),
    field('Contact email', email), field('Plan', plan), field('Monthly value', value),
    h('button', { type: 'submit', class: 'primary', id: 'edit-tenant-submit' }, 'Save'), error);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    fill(error);
    const organisation = {};
    if (legal.value.trim()) organisation.legal_name = legal.value.trim();
    if (country.value.trim()) organisation.country = country.value.trim();
    if (email.value.trim()) organisation.contact_email = email.value.trim();
    const body = { name: name.value.trim(), features: splitList(features.value), organisation, plan: plan.value.trim() || null };
    const amount = value.value.trim();
    if (amount === '') body.monthly_value_cents = null;
    else if (/^\d+(\.\d{1,2})?$/.test(amount)) body.monthly_value_cents = Math.round(Number(amount) * 100);
    else {
      fill(error, 'the monthly value must be an amount like 1250 or 1250.50');
      return;
    }
    try {
      await api('PATCH', `/v1/tenants/${enc(tenant.id)}`, body);
      notify(`tenant ${tenant.id} saved`);
      await reload();
    } catch (failure) {
      fill(error, describeError(failure));
    }
  });
  const lifecycle = tenant.suspended
    ? h('button', { type: 'button', id: 'resume-tenant', onclick: () => move('resume') }, 'Resume tenant')
    : h('button', { type: 'button', class: 'danger', id: 'suspend-tenant', onclick: () => move('suspend') }, 'Suspend tenant');
  async function move(action) {
    const text = action === 'suspend'
      ? `Suspend ${tenant.id}? Its modules answer 423 to every request until it is resumed; its data is kept.`
      : `Resume ${tenant.id}? Its modules serve again.`;
    if (!(await confirmAction(action === 'suspend' ? 'Suspend tenant' : 'Resume tenant', text))) return;
    try {
      await api('POST', `/v1/tenants/${enc(tenant.id)}/${action}`, {});
      notify(`tenant ${tenant.id} ${action === 'suspend' ? 'suspended' : 'resumed'}`);
      await reload();
    } catch (failure) {
      notify(describeError(failure), 'error');
    }
  }
  return h('details', { class: 'card', id: 'tenant-admin' }, h('summary', {}, 'Edit tenant'), form, h('div', { class: 'actions' }, lifecycle));
}
