// modhost dashboard: module versions, their manifests, and a diff between two versions' manifests.

import { get } from './api.js';
import { card, describeError, field, fill, formatBytes, formatTime, h, select, table } from './dom.js';

const enc = encodeURIComponent;

export async function renderModules(session, root) {
  const { versions } = await get(session.isOperator ? '/v1/modules' : `/v1/modules?tenant=${enc(session.tenant)}`);
  const manifestArea = h('div', { id: 'manifest-view' });
  const diffArea = h('div', { id: 'manifest-diff' });
  const modules = [...new Set(versions.map((version) => version.module))].sort();
  const rows = versions.map((version) => [
    version.module, version.version, version.kind, version.owner || '—', h('code', {}, version.sha256.slice(0, 12)),
    formatBytes(version.size_bytes), version.published_by, formatTime(version.published_at_ms),
    h('button', { type: 'button', onclick: () => showManifest(version.module, version.version) }, 'Manifest'),
  ]);
  const moduleSelect = select({ id: 'diff-module' }, modules, modules[0]);
  const left = h('select', { id: 'diff-left' });
  const right = h('select', { id: 'diff-right' });
  function fillVersions() {
    const list = versions.filter((version) => version.module === moduleSelect.value).map((version) => version.version);
    fill(left, list.map((version, index) => h('option', { value: version, selected: index === Math.max(0, list.length - 2) }, version)));
    fill(right, list.map((version, index) => h('option', { value: version, selected: index === list.length - 1 }, version)));
  }
  moduleSelect.addEventListener('change', fillVersions);
  fillVersions();
  const diffButton = h('button', { type: 'button', class: 'primary', id: 'diff-run', onclick: () => showDiff(moduleSelect.value, left.value, right.value) }, 'Compare');
  fill(root, h('h1', {}, 'Modules'),
    card('Versions (who published what, when)', table(['Module', 'Version', 'Kind', 'Owner', 'sha256', 'Size', 'Published by', 'At', ''], rows, { empty: 'no module versions yet', id: 'versions-table' })),
    card('Manifest', manifestArea),
    card('Compare two versions\' manifests', h('div', { class: 'inline-form' }, field('Module', moduleSelect), field('From', left), field('To', right), diffButton), diffArea));

  async function showManifest(module, version) {
    try {
      const record = await get(`/v1/modules/${enc(module)}/versions/${enc(version)}`);
      fill(manifestArea, h('h3', {}, `${module}@${version}`), h('pre', { class: 'code' }, JSON.stringify(record.manifest, null, 2)));
    } catch (failure) {
      fill(manifestArea, h('p', { class: 'field-error' }, describeError(failure)));
    }
  }

  async function showDiff(module, from, to) {
    try {
      const [a, b] = await Promise.all([from, to].map((version) => get(`/v1/modules/${enc(module)}/versions/${enc(version)}`)));
      const lines = diffLines(JSON.stringify(a.manifest, null, 2).split('\n'), JSON.stringify(b.manifest, null, 2).split('\n'));
      const changed = lines.filter(([kind]) => kind !== ' ').length;
      fill(diffArea, h('p', { id: 'diff-summary' }, changed ? `${changed} line(s) differ between ${from} and ${to}` : `${from} and ${to} have the same manifest`),
        h('pre', { class: 'code diff' }, lines.map(([kind, text]) => h('div', { class: kind === '+' ? 'added' : kind === '-' ? 'removed' : '' }, `${kind} ${text}`))));
    } catch (failure) {
      fill(diffArea, h('p', { class: 'field-error' }, describeError(failure)));
    }
  }
  return null;
}

// A line diff (longest common subsequence): [[' '|'-'|'+', line], …].
export function diffLines(before, after) {
  const rows = before.length + 1;
  const columns = after.length + 1;
  const common = new Uint32Array(rows * columns);
  for (let i = before.length - 1; i >= 0; i -= 1) {
    for (let j = after.length - 1; j >= 0; j -= 1) {
      common[i * columns + j] = before[i] === after[j]
        ? common[(i + 1) * columns + j + 1] + 1
        : Math.max(common[(i + 1) * columns + j], common[i * columns + j + 1]);
    }
  }
  const out = [];
  let i = 0;
  let j = 0;
  while (i < before.length && j < after.length) {
    if (before[i] === after[j]) {
      out.push([' ', before[i]]);
      i += 1;
      j += 1;
    } else if (common[(i + 1) * columns + j] >= common[i * columns + j + 1]) {
      out.push(['-', before[i]]);
      i += 1;
    } else {
      out.push(['+', after[j]]);
      j += 1;
    }
  }
  while (i < before.length) out.push(['-', before[i++]]);
  while (j < after.length) out.push(['+', after[j++]]);
  return out;
}
