// modhost dashboard: the audit log with filters, paging, and export to CSV.

import { download, get, withQuery } from './api.js';
import { card, describeError, field, fill, formatTime, h, notify, select, table } from './dom.js';

const PAGE_SIZE = 50;

export async function renderAudit(session, root) {
  const tenant = h('input', { id: 'audit-tenant', placeholder: 'any tenant', value: session.isOperator ? '' : session.tenant, disabled: !session.isOperator });
  const actor = h('input', { id: 'audit-actor', placeholder: 'any actor' });
  const action = h('input', { id: 'audit-action', placeholder: 'e.g. deployment.' });
  const since = h('input', { id: 'audit-since', type: 'datetime-local' });
  const until = h('input', { id: 'audit-until', type: 'datetime-local' });
  const size = select({ id: 'audit-page-size' }, ['25', '50', '200', '1000'], String(PAGE_SIZE));
  const results = h('div', { id: 'audit-results' });
  const pager = h('div', { class: 'actions', id: 'audit-pager' });
  const form = h('form', { class: 'inline-form', id: 'audit-filters', novalidate: true },
    field('Tenant', tenant), field('Actor', actor), field('Action starts with', action), field('Since', since), field('Until', until), field('Per page', size),
    h('button', { type: 'submit', class: 'primary', id: 'audit-search' }, 'Search'),
    h('button', { type: 'button', id: 'audit-export', onclick: exportCsv }, 'Export CSV'));
  fill(root, h('h1', {}, 'Audit log'), form, card('Entries (oldest first)', results, pager));
  // `after` of each page shown, so "Previous" can go back.
  let pages = [''];

  function filters() {
    return {
      tenant: session.isOperator ? tenant.value.trim() : '',
      actor: actor.value.trim(),
      action: action.value.trim(),
      since_ms: since.value ? Date.parse(since.value) : '',
      until_ms: until.value ? Date.parse(until.value) : '',
    };
  }

  async function load() {
    const after = pages[pages.length - 1];
    try {
      const page = await get(withQuery('/v1/audit', { ...filters(), after, limit: size.value }));
      fill(results, table(['Id', 'At', 'Actor', 'Action', 'Target', 'Tenant', 'Outcome', 'Detail'], page.entries.map((entry) => [
        String(entry.id), formatTime(entry.at_ms), entry.actor, entry.action, entry.target, entry.tenant || '—',
        h('span', { class: `badge ${entry.outcome === 'ok' ? 'ok' : 'bad'}` }, entry.outcome),
        entry.detail ? h('code', {}, typeof entry.detail === 'string' ? entry.detail : JSON.stringify(entry.detail)) : '',
      ]), { empty: 'no matching entries', id: 'audit-table' }));
      fill(pager,
        h('span', { class: 'muted', id: 'audit-page' }, `page ${pages.length}`),
        h('button', { type: 'button', id: 'audit-previous', disabled: pages.length < 2, onclick: () => { pages.pop(); load(); } }, 'Previous'),
        h('button', { type: 'button', id: 'audit-next', disabled: !page.next_after, onclick: () => { pages.push(String(page.next_after)); load(); } }, 'Next'));
    } catch (failure) {
      fill(results, h('p', { class: 'field-error' }, describeError(failure)));
    }
  }

  async function exportCsv() {
    try {
      await download(withQuery('/v1/audit/export', filters()), 'modhost-audit.csv');
      notify('audit export downloaded');
    } catch (failure) {
      notify(describeError(failure), 'error');
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    pages = [''];
    load();
  });
  await load();
  return null;
}
