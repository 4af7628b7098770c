// modhost dashboard: the overview: tenants, modules, deployments, recent changes, alerts, request and error rates.

import { get, getText, withQuery } from './api.js';
import { card, every, fill, formatTime, h, stat, table } from './dom.js';
import { formatFigure, parseOpenMetrics, requestTotals } from './charts.js';

const enc = encodeURIComponent;
const WEEK_MS = 7 * 24 * 3600 * 1000;

export async function renderOverview(session, root) {
  const figures = h('div', { class: 'stats', id: 'overview-stats' });
  const traffic = h('div', { class: 'stats', id: 'overview-traffic' });
  const recent = h('div', { id: 'overview-recent' });
  const alerts = h('div', { id: 'overview-alerts' });
  const rollouts = h('div', { id: 'overview-rollouts' });
  fill(root, h('h1', {}, session.isOperator ? 'Platform overview' : `Overview of ${session.tenant}`),
    figures, card('Traffic (all modules, last interval)', traffic),
    card('Deployments and rollouts', rollouts), card('Recent promotes, rollbacks and failures', recent), card('Alerts firing', alerts));

  const { tenants } = await get('/v1/tenants');
  const { versions } = await get(session.isOperator ? '/v1/modules' : `/v1/modules?tenant=${enc(session.tenant)}`);
  const kinds = { standard: 0, custom: 0 };
  for (const tenant of tenants) kinds[tenant.kind] = (kinds[tenant.kind] || 0) + 1;
  const moduleIds = new Set(versions.map((version) => version.module));
  fill(figures,
    stat('standard tenants', kinds.standard, { id: 'stat-standard' }),
    stat('custom tenants', kinds.custom, { id: 'stat-custom' }),
    stat('suspended', tenants.filter((tenant) => tenant.suspended).length, { tone: 'warn' }),
    stat('modules', moduleIds.size, { id: 'stat-modules' }),
    stat('versions', versions.length, { id: 'stat-versions' }));

  if (session.isOperator) {
    const { rollouts: all } = await get('/v1/rollouts');
    const running = all.filter((rollout) => rollout.state === 'running' || rollout.state === 'paused');
    fill(rollouts, h('p', {}, `${running.length} rollout(s) in progress, ${all.filter((rollout) => rollout.state === 'completed').length} completed, ${all.filter((rollout) => rollout.state === 'halted').length} halted.`),
      table(['Module', 'Version', 'State', 'Ring', 'Done', 'Started'], all.slice(0, 10).map((rollout) => [
        rollout.module, rollout.version, rollout.state, rollout.ring ?? '—', String(rollout.done.length), formatTime(rollout.started_at_ms),
      ]), { empty: 'no rollouts' }));
  } else {
    const { deployments } = await get(`/v1/tenants/${enc(session.tenant)}/deployments`);
    fill(rollouts, table(['Module', 'Active', 'Canary'], deployments.map((deployment) => [
      deployment.module, deployment.active || 'disabled', deployment.canary ? `${deployment.canary.version} (${deployment.canary.percent}%)` : '—',
    ]), { empty: 'no modules enabled' }));
  }

  if (session.isOperator || session.isAdmin) {
    const { entries } = await get(withQuery('/v1/audit', { action: 'deployment.', since_ms: Date.now() - WEEK_MS, limit: 1000 }));
    const interesting = entries.filter((entry) => entry.outcome !== 'ok' || /promote$|rollback$|disable$/.test(entry.action));
    fill(recent, table(['At', 'Action', 'Tenant', 'Target', 'Actor', 'Outcome'], interesting.slice(-15).reverse().map((entry) => [
      formatTime(entry.at_ms), entry.action, entry.tenant || '—', entry.target, entry.actor,
      h('span', { class: `badge ${entry.outcome === 'ok' ? 'ok' : 'bad'}` }, entry.outcome),
    ]), { empty: 'nothing in the last 7 days' }));
  } else {
    fill(recent, h('p', { class: 'muted' }, 'The audit log is for operators and tenant admins.'));
  }

  const alertPath = session.isOperator ? '/v1/alerts?state=firing' : `/v1/tenants/${enc(session.tenant)}/alerts?state=firing`;
  const { alerts: firing } = await get(alertPath);
  fill(alerts, table(['Severity', 'Rule', 'Tenant', 'Summary', 'Since'], firing.map((alert) => [
    h('span', { class: `badge ${alert.severity === 'critical' ? 'bad' : 'warn'}` }, alert.severity), alert.rule, alert.tenant || '—', alert.summary, formatTime(alert.fired_at_ms),
  ]), { empty: 'no alert is firing', id: 'alerts-table' }));

  const metricsPath = session.isOperator ? '/metrics' : `/v1/tenants/${enc(session.tenant)}/metrics`;
  let previous = null;
  return every(5000, async () => {
    const now = Date.now();
    let calls = 0;
    let errors = 0;
    for (const series of requestTotals(parseOpenMetrics(await getText(metricsPath))).values()) {
      calls += series.calls;
      errors += series.errors;
    }
    if (previous) {
      const seconds = Math.max(0.001, (now - previous.at) / 1000);
      const rate = Math.max(0, calls - previous.calls) / seconds;
      const errorRate = Math.max(0, errors - previous.errors) / seconds;
      fill(traffic, stat('requests/s', formatFigure(rate), { id: 'stat-request-rate' }), stat('errors/s', formatFigure(errorRate), { id: 'stat-error-rate', tone: errorRate > 0 ? 'bad' : '' }),
        stat('calls since start', calls), stat('errors since start', errors));
    } else {
      fill(traffic, h('p', { class: 'muted' }, 'measuring…'));
    }
    previous = { at: now, calls, errors };
  });
}
