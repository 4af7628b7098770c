// modhost dashboard: sign-in, the navigation each role gets, and the hash router.

import { ApiFailure, get, setToken, token } from './api.js';
import { describeError, fill, h } from './dom.js';
import { renderOverview } from './pages-overview.js';
import { renderTenants, renderTenant } from './pages-tenants.js';
import { renderModules } from './pages-modules.js';
import { renderMetrics } from './pages-metrics.js';
import { renderLogs } from './pages-logs.js';
import { renderAudit } from './pages-audit.js';
import { renderDebug } from './pages-debug.js';
import { renderBusiness, renderImplementations } from './pages-business.js';

// Every page: its hash, its title, who sees it, and what draws it.
const PAGES = [
  { path: 'overview', title: 'Overview', roles: 'all', render: renderOverview },
  { path: 'tenants', title: 'Tenants', roles: 'all', render: renderTenants },
  { path: 'modules', title: 'Modules', roles: 'all', render: renderModules },
  { path: 'metrics', title: 'Live metrics', roles: 'all', render: renderMetrics },
  { path: 'logs', title: 'Logs', roles: 'all', render: renderLogs },
  { path: 'audit', title: 'Audit', roles: 'admins', render: renderAudit },
  { path: 'debug', title: 'Debug tools', roles: 'admins', render: renderDebug },
  { path: 'business', title: 'Business', roles: 'operator', render: renderBusiness },
  { path: 'implementations', title: 'Implementations', roles: 'operator', render: renderImplementations },
];

let session = null;
let stopPage = null;

function allowed(page) {
  if (page.roles === 'all') return true;
  if (page.roles === 'admins') return session.isOperator || session.isAdmin;
  return session.isOperator;
}

function showSignIn(message) {
  document.body.classList.remove('signed-in');
  const input = h('input', { id: 'token', type: 'password', autocomplete: 'off', placeholder: 'mh_…', required: true });
  const error = h('p', { class: 'field-error', id: 'sign-in-error', role: 'alert' }, message || '');
  const form = h('form', { id: 'sign-in', class: 'card sign-in' },
    h('h1', {}, 'modhost'),
    h('p', {}, 'Sign in with an API token. It is kept in this tab only, until you sign out or close it.'),
    h('label', { class: 'field' }, h('span', { class: 'field-label' }, 'Token'), input),
    error,
    h('button', { type: 'submit', class: 'primary', id: 'sign-in-button' }, 'Sign in'));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    setToken(input.value.trim());
    await start();
  });
  fill(document.getElementById('nav'));
  fill(document.getElementById('who'));
  fill(document.getElementById('page'), form);
  input.focus();
}

async function start() {
  if (!token()) {
    showSignIn();
    return;
  }
  try {
    const record = await get('/v1/session');
    session = {
      ...record,
      isOperator: record.role === 'operator',
      isAdmin: record.role === 'tenant-admin',
      isViewer: record.role === 'tenant-viewer',
    };
  } catch (error) {
    setToken(null);
    const why = error instanceof ApiFailure && error.status === 403
      ? 'this token can call modules but not use the dashboard (invoker tokens reach the data plane only)'
      : error instanceof ApiFailure && error.status === 401
        ? 'the token was not accepted: it is unknown or revoked'
        : describeError(error);
    showSignIn(why);
    return;
  }
  document.body.classList.add('signed-in');
  document.body.dataset.role = session.role;
  fill(document.getElementById('who'),
    h('span', { id: 'who-role' }, session.isOperator ? 'operator' : `${session.role} of ${session.tenant}`),
    ' · ', session.name, ' ',
    h('button', { type: 'button', id: 'sign-out', onclick: signOut }, 'Sign out'));
  fill(document.getElementById('nav'), PAGES.filter(allowed).map((page) =>
    h('a', { href: `#/${page.path}`, id: `nav-${page.path}`, dataset: { page: page.path } }, page.title)));
  route();
}

function signOut() {
  setToken(null);
  session = null;
  if (stopPage) stopPage();
  stopPage = null;
  window.location.hash = '';
  showSignIn();
}

async function route() {
  if (!session) return;
  if (stopPage) stopPage();
  stopPage = null;
  const [path, ...rest] = window.location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const root = document.getElementById('page');
  let page = PAGES.find((candidate) => candidate.path === (path || 'overview'));
  for (const link of document.querySelectorAll('#nav a')) {
    link.classList.toggle('active', link.dataset.page === (page ? page.path : ''));
  }
  if (page && !allowed(page)) page = null;
  fill(root, h('p', { class: 'loading' }, 'Loading…'));
  try {
    if (!page) {
      fill(root, h('p', { class: 'empty' }, 'There is no such page for this role.'));
    } else if (page.path === 'tenants' && rest[0]) {
      stopPage = await renderTenant(session, root, rest[0]);
    } else {
      stopPage = await page.render(session, root, rest);
    }
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 401) {
      setToken(null);
      session = null;
      showSignIn('the token is no longer accepted (revoked?); sign in again');
      return;
    }
    fill(root, h('p', { class: 'field-error', role: 'alert' }, describeError(error)));
  }
}

window.addEventListener('hashchange', route);
start();
