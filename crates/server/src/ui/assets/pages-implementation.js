// modhost dashboard: a tenant's implementation project: milestones, overdue ones highlighted, edited by operators.

import { api, get } from './api.js';
import { card, describeError, field, fill, h, notify, select, table } from './dom.js';

const enc = encodeURIComponent;
const STATUSES = ['planned', 'in-progress', 'done', 'blocked'];

// The implementation card of `tenantId` (loads it; operators can edit).
export async function implementationCard(session, tenantId) {
  const body = h('div', { id: 'implementation' });
  const path = `/v1/tenants/${enc(tenantId)}/implementation`;

  async function load() {
    let project = null;
    try {
      project = await get(path);
    } catch (failure) {
      if (failure.status !== 404) {
        fill(body, h('p', { class: 'field-error' }, describeError(failure)));
        return;
      }
    }
    const milestones = project ? project.milestones : [];
    const rows = milestones.map((milestone, index) => h('tr', { class: milestone.overdue ? 'overdue' : '', dataset: { milestone: milestone.id } },
      h('td', {}, milestone.title),
      h('td', {}, milestone.due_date, milestone.overdue ? h('span', { class: 'badge bad' }, ' overdue') : null),
      h('td', {}, session.isOperator
        ? select({ 'aria-label': `status of ${milestone.id}`, id: `milestone-status-${milestone.id}`, onchange: (event) => save(index, { status: event.target.value }) }, STATUSES, milestone.status)
        : milestone.status),
      h('td', {}, milestone.assignee || '—'),
      h('td', {}, milestone.notes || '')));
    const summary = project
      ? h('p', { id: 'implementation-summary' }, `${project.name}: ${project.summary.done}/${project.summary.total} done, ${project.summary.overdue} overdue (${project.summary.state})`)
      : h('p', { class: 'empty', id: 'implementation-summary' }, 'no implementation project yet');
    fill(body, summary,
      table(['Milestone', 'Due', 'Status', 'Assignee', 'Notes'], rows, { empty: 'no milestones', id: 'milestones-table' }),
      session.isOperator ? addForm(project) : null);

    async function save(index, change) {
      const next = milestones.map((milestone, at) => plain(at === index ? { ...milestone, ...change } : milestone));
      await put(project.name, next);
    }
  }

  function addForm(project) {
    const projectName = h('input', { id: 'implementation-name', value: project ? project.name : 'Onboarding' });
    const title = h('input', { id: 'milestone-title', placeholder: 'Data import' });
    const due = h('input', { id: 'milestone-due', type: 'date' });
    const assignee = h('input', { id: 'milestone-assignee' });
    const notes = h('input', { id: 'milestone-notes' });
    const error = h('p', { class: 'field-error', id: 'milestone-error', role: 'alert' });
    const form = h('form', { class: 'inline-form', id: 'milestone-form', novalidate: true },
      field('Project', projectName), field('Milestone', title), field('Due date', due), field('Assignee', assignee), field('Notes', notes),
      h('button', { type: 'submit', class: 'primary', id: 'milestone-add' }, 'Add milestone'), error);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      fill(error);
      const existing = project ? project.milestones.map(plain) : [];
      const milestone = {
        id: slug(title.value) || `m${existing.length + 1}`,
        title: title.value.trim(),
        due_date: due.value,
        status: 'planned',
      };
      if (assignee.value.trim()) milestone.assignee = assignee.value.trim();
      if (notes.value.trim()) milestone.notes = notes.value.trim();
      try {
        await put(projectName.value.trim(), [...existing, milestone]);
      } catch (failure) {
        fill(error, describeError(failure));
      }
    });
    return form;
  }

  async function put(name, milestones) {
    try {
      await api('PUT', path, { name, milestones });
      notify('implementation project saved');
      await load();
    } catch (failure) {
      notify(describeError(failure), 'error');
      throw failure;
    }
  }

  await load();
  return card('Implementation', body);
}

// A milestone as the PUT body takes it (without the computed fields).
function plain(milestone) {
  const copy = { id: milestone.id, title: milestone.title, due_date: milestone.due_date, status: milestone.status };
  if (milestone.assignee) copy.assignee = milestone.assignee;
  if (milestone.notes) copy.notes = milestone.notes;
  return copy;
}

function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
}
