// modhost dashboard: business metrics (tenants by kind over time, MRR, custom modules) and every implementation project.

import { get } from './api.js';
import { card, fill, formatMoney, h, stat, table } from './dom.js';
import { lineChart } from './charts.js';

const enc = encodeURIComponent;

export async function renderBusiness(session, root) {
  const business = await get('/v1/business');
  const byKind = business.mrr_cents_by_kind || {};
  const months = business.tenants_over_time || [];
  fill(root, h('h1', {}, 'Business metrics'),
    h('div', { class: 'stats', id: 'business-stats' },
      stat('standard tenants', business.tenants_by_kind.standard ?? 0),
      stat('custom tenants', business.tenants_by_kind.custom ?? 0),
      stat('MRR', formatMoney(business.mrr_cents), { id: 'stat-mrr' }),
      stat('MRR standard', formatMoney(byKind.standard ?? 0), { id: 'stat-mrr-standard' }),
      stat('MRR custom', formatMoney(byKind.custom ?? 0), { id: 'stat-mrr-custom' }),
      stat('suspended', business.suspended ?? 0)),
    card('Tenants by kind over time (end of month)', lineChart('Tenants', ['standard', 'custom'].map((kind) => ({
      name: kind,
      points: months.map((month) => [Date.parse(`${month.month}-01T00:00:00Z`), month[kind] ?? 0]),
    })), { id: 'chart-tenants-over-time' }),
    table(['Month', 'Standard', 'Custom'], months.map((month) => [month.month, String(month.standard), String(month.custom)]))),
    card('Implementations', h('div', { class: 'stats', id: 'business-implementations' },
      stat('not started', business.implementations.not_started),
      stat('ongoing', business.implementations.ongoing),
      stat('completed', business.implementations.completed))),
    card('Plans', table(['Plan', 'Tenants', 'MRR'], (business.plans || []).map((plan) => [plan.plan ?? '(no plan)', String(plan.tenants), formatMoney(plan.mrr_cents)]), { empty: 'no plans set', id: 'plans-table' })),
    card('Custom modules per tenant', table(['Tenant', 'Custom modules'], (business.custom_modules_per_tenant || []).map((row) => [
      h('a', { href: `#/tenants/${enc(row.tenant)}` }, row.tenant), String(row.custom_modules),
    ]), { empty: 'no tenants' })));
  return null;
}

export async function renderImplementations(session, root) {
  const { implementations } = await get('/v1/implementations');
  fill(root, h('h1', {}, 'Implementation projects'),
    card('Per tenant (overdue milestones highlighted)', table(['Tenant', 'Project', 'Done', 'Overdue', 'State', 'Next due'], implementations.map((project) => {
      const open = project.milestones.filter((milestone) => milestone.status !== 'done').sort((a, b) => a.due_date.localeCompare(b.due_date));
      return h('tr', { class: project.summary.overdue ? 'overdue' : '' },
        h('td', {}, h('a', { href: `#/tenants/${enc(project.tenant)}` }, project.tenant)),
        h('td', {}, project.name),
        h('td', {}, `${project.summary.done}/${project.summary.total}`),
        h('td', {}, project.summary.overdue ? h('span', { class: 'badge bad' }, String(project.summary.overdue)) : '0'),
        h('td', {}, project.summary.state),
        h('td', {}, open.length ? `${open[0].title} (${open[0].due_date})` : '—'));
    }), { empty: 'no implementation projects', id: 'implementations-table' })));
  return null;
}
