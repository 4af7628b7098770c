// modhost dashboard: live charts per tenant and module (requests, errors, p50/p99 latency, fuel), polled every 2 s.

import { get, getText } from './api.js';
import { card, every, field, fill, h, select } from './dom.js';
import { lineChart, parseOpenMetrics, rates, requestTotals } from './charts.js';

const enc = encodeURIComponent;
const KEEP_POINTS = 90;
const INTERVAL_MS = 2000;

export async function renderMetrics(session, root) {
  const tenants = session.isOperator ? (await get('/v1/tenants')).tenants.map((tenant) => tenant.id) : [session.tenant];
  const tenantSelect = select({ id: 'metrics-tenant' }, tenants, tenants[0]);
  const moduleSelect = select({ id: 'metrics-module' }, [['', 'all modules']], '');
  const charts = h('div', { class: 'charts', id: 'metrics-charts' }, h('p', { class: 'muted' }, 'measuring…'));
  fill(root, h('h1', {}, 'Live metrics'),
    h('div', { class: 'inline-form' }, field('Tenant', tenantSelect), field('Module', moduleSelect)),
    card('Per module, every 2 seconds', charts));
  if (!tenants.length) {
    fill(charts, h('p', { class: 'empty' }, 'no tenants yet'));
    return null;
  }
  let previous = null;
  let history = [];
  const reset = () => {
    previous = null;
    history = [];
    fill(charts, h('p', { class: 'muted' }, 'measuring…'));
  };
  tenantSelect.addEventListener('change', () => {
    fill(moduleSelect, h('option', { value: '' }, 'all modules'));
    reset();
  });
  moduleSelect.addEventListener('change', () => draw());

  function draw() {
    if (!history.length) return;
    const modules = [...new Set(history.flatMap((sample) => [...sample.rates.keys()]))].sort();
    const known = new Set([...moduleSelect.options].map((option) => option.value));
    for (const module of modules) if (!known.has(module)) moduleSelect.append(h('option', { value: module }, module));
    const shown = moduleSelect.value ? [moduleSelect.value] : modules;
    const line = (module, pick) => ({ name: module, points: history.map((sample) => [sample.at, sample.rates.has(module) ? pick(sample.rates.get(module)) : 0]) });
    fill(charts,
      lineChart('Requests per second', shown.map((module) => line(module, (rate) => rate.requests)), { unit: '/s', id: 'chart-requests' }),
      lineChart('Errors per second', shown.map((module) => line(module, (rate) => rate.errors)), { unit: '/s', id: 'chart-errors' }),
      lineChart('Latency p50 / p99 (ms)', shown.flatMap((module) => [
        { name: `${module} p50`, points: history.map((sample) => [sample.at, sample.rates.has(module) ? sample.rates.get(module).p50 : null]) },
        { name: `${module} p99`, points: history.map((sample) => [sample.at, sample.rates.has(module) ? sample.rates.get(module).p99 : null]) },
      ]), { unit: ' ms', id: 'chart-latency' }),
      lineChart('Fuel per second', shown.map((module) => line(module, (rate) => rate.fuel)), { id: 'chart-fuel' }));
  }

  return every(INTERVAL_MS, async () => {
    const tenant = tenantSelect.value;
    const text = await getText(`/v1/tenants/${enc(tenant)}/metrics`);
    if (tenant !== tenantSelect.value) return;
    const now = Date.now();
    const totals = new Map([...requestTotals(parseOpenMetrics(text))].map(([, series]) => [series.module, series]));
    if (previous) {
      const seconds = Math.max(0.001, (now - previous.at) / 1000);
      history.push({ at: now, rates: new Map([...rates(previous.totals, totals, seconds)].map(([, rate]) => [rate.module, rate])) });
      history = history.slice(-KEEP_POINTS);
      draw();
    }
    previous = { at: now, totals };
  });
}
