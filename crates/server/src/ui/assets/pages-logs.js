// modhost dashboard: a tenant's module logs: filters by module, level, request id and time; live follow.

import { followEvents, get, withQuery } from './api.js';
import { card, describeError, field, fill, formatTime, h, select } from './dom.js';

const enc = encodeURIComponent;
const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];
const MAX_SHOWN = 500;

export async function renderLogs(session, root) {
  const tenants = session.isOperator ? (await get('/v1/tenants')).tenants.map((tenant) => tenant.id) : [session.tenant];
  const tenant = select({ id: 'logs-tenant' }, tenants, tenants[0]);
  const module = h('input', { id: 'logs-module', placeholder: 'any module' });
  const level = select({ id: 'logs-level' }, [['', 'any level'], ...LEVELS.map((name) => [name, `${name} and above`])], '');
  const requestId = h('input', { id: 'logs-request-id', placeholder: 'any request' });
  const since = h('input', { id: 'logs-since', type: 'datetime-local' });
  const until = h('input', { id: 'logs-until', type: 'datetime-local' });
  const state = h('span', { id: 'logs-state', class: 'muted' });
  const body = h('tbody', { id: 'logs-body' });
  const older = h('button', { type: 'button', id: 'logs-older', hidden: true }, 'Older');
  let follow = null;
  let next = null;
  const followButton = h('button', { type: 'button', id: 'logs-follow', onclick: toggleFollow }, 'Follow live');
  fill(root, h('h1', {}, 'Module logs'),
    h('form', { class: 'inline-form', id: 'logs-filters', novalidate: true, onsubmit: (event) => { event.preventDefault(); search(); } },
      field('Tenant', tenant), field('Module', module), field('Level', level), field('Request id', requestId),
      field('Since', since), field('Until', until),
      h('button', { type: 'submit', class: 'primary', id: 'logs-search' }, 'Search'), followButton, state),
    card('Records (newest first)', h('table', { class: 'logs' },
      h('thead', {}, h('tr', {}, ['Time', 'Level', 'Module', 'Version', 'Request', 'Message'].map((name) => h('th', {}, name)))), body), older));
  older.addEventListener('click', () => search(next));

  function filters() {
    return {
      module: module.value.trim(),
      level: level.value,
      request_id: requestId.value.trim(),
    };
  }

  function row(record) {
    return h('tr', { class: `level-${record.level}`, dataset: { requestId: record.request_id || '' } },
      h('td', {}, formatTime(record.time_ms)), h('td', {}, record.level), h('td', {}, record.module), h('td', {}, record.version || ''),
      h('td', {}, h('code', {}, record.request_id || '')),
      h('td', {}, record.message, record.fields && Object.keys(record.fields).length ? h('code', { class: 'fields' }, ` ${JSON.stringify(record.fields)}`) : null));
  }

  async function search(before) {
    try {
      const query = {
        ...filters(),
        since_ms: since.value ? Date.parse(since.value) : '',
        until_ms: until.value ? Date.parse(until.value) : '',
        limit: 200,
        before: before || '',
      };
      const page = await get(withQuery(`/v1/tenants/${enc(tenant.value)}/logs`, query));
      if (!before) body.replaceChildren();
      for (const record of page.records.slice().reverse()) body.append(row(record));
      next = page.next || null;
      older.hidden = !next;
      fill(state, `${body.children.length} record(s)`);
    } catch (failure) {
      fill(state, h('span', { class: 'field-error' }, describeError(failure)));
    }
  }

  function toggleFollow() {
    if (follow) {
      stopFollow();
      return;
    }
    follow = new AbortController();
    const controller = follow;
    fill(followButton, 'Stop following');
    fill(state, 'connecting…');
    followButton.classList.add('on');
    followEvents(withQuery(`/v1/tenants/${enc(tenant.value)}/logs/stream`, filters()), ({ event, data }) => {
      if (event === 'lagged') {
        body.prepend(h('tr', { class: 'lagged' }, h('td', { colspan: 6 }, `${data} record(s) missed: the stream fell behind`)));
        return;
      }
      try {
        body.prepend(row(JSON.parse(data)));
      } catch {
        return;
      }
      while (body.children.length > MAX_SHOWN) body.lastChild.remove();
    }, controller.signal, () => fill(state, 'following live')).then(() => {
      if (follow === controller) {
        stopFollow();
        fill(state, 'the stream ended');
      }
    }).catch((failure) => {
      if (follow === controller) stopFollow();
      fill(state, h('span', { class: 'field-error' }, describeError(failure)));
    });
  }

  function stopFollow() {
    if (follow) follow.abort();
    follow = null;
    fill(followButton, 'Follow live');
    followButton.classList.remove('on');
    fill(state, '');
  }

  tenant.addEventListener('change', () => {
    stopFollow();
    search();
  });
  await search();
  return stopFollow;
}
