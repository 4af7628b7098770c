// modhost dashboard: OpenMetrics parsing, rates between two scrapes, and SVG line charts.

const SVG = 'http://www.w3.org/2000/svg';

// `name{label="value",…} 1.5` lines → [{name, labels, value}] (comments skipped).
export function parseOpenMetrics(text) {
  const samples = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    const labelText = match[3] || '';
    const labelPattern = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
    let label;
    while ((label = labelPattern.exec(labelText))) {
      labels[label[1]] = label[2].replace(/\\"/g, '"').replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
    }
    const value = match[4] === '+Inf' ? Infinity : Number(match[4]);
    samples.push({ name: match[1], labels, value });
  }
  return samples;
}

// Per (tenant, module): calls by outcome, latency buckets and fuel, from one scrape.
export function requestTotals(samples) {
  const totals = new Map();
  const entry = (labels) => {
    const key = `${labels.tenant}/${labels.module}`;
    if (!totals.has(key)) {
      totals.set(key, { tenant: labels.tenant, module: labels.module, calls: 0, errors: 0, fuel: 0, buckets: new Map() });
    }
    return totals.get(key);
  };
  for (const sample of samples) {
    if (!sample.labels.module) continue;
    if (sample.name === 'modhost_requests_total') {
      const series = entry(sample.labels);
      series.calls += sample.value;
      if (sample.labels.outcome !== 'ok') series.errors += sample.value;
    } else if (sample.name === 'modhost_request_duration_seconds_bucket') {
      const bound = sample.labels.le === '+Inf' ? Infinity : Number(sample.labels.le);
      entry(sample.labels).buckets.set(bound, sample.value);
    } else if (sample.name === 'modhost_fuel_used_total') {
      entry(sample.labels).fuel += sample.value;
    }
  }
  return totals;
}

// The q-quantile (0..1) in ms of the calls between two cumulative bucket maps, or null.
export function quantileMs(before, after, q) {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((bound) => after.get(bound) - ((before && before.get(bound)) || 0));
  const total = counts.length ? counts[counts.length - 1] : 0;
  if (!total) return null;
  const rank = q * total;
  for (let index = 0; index < bounds.length; index += 1) {
    if (counts[index] >= rank) {
      const bound = bounds[index];
      return bound === Infinity ? (bounds[index - 1] || 0) * 1000 : bound * 1000;
    }
  }
  return null;
}

// Rates per second between two scrapes of `requestTotals`, by "tenant/module".
export function rates(before, after, seconds) {
  const result = new Map();
  for (const [key, now] of after) {
    const then = before.get(key) || { calls: 0, errors: 0, fuel: 0, buckets: new Map() };
    result.set(key, {
      tenant: now.tenant,
      module: now.module,
      requests: Math.max(0, now.calls - then.calls) / seconds,
      errors: Math.max(0, now.errors - then.errors) / seconds,
      fuel: Math.max(0, now.fuel - then.fuel) / seconds,
      p50: quantileMs(then.buckets, now.buckets, 0.5),
      p99: quantileMs(then.buckets, now.buckets, 0.99),
    });
  }
  return result;
}

const COLOURS = ['#2563eb', '#dc2626', '#16a34a', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

// Draws lines `series` = [{name, points: [[timeMs, value|null], …]}] into a new <figure>.
export function lineChart(title, series, { unit = '', id } = {}) {
  const width = 560;
  const height = 150;
  const pad = { left: 48, right: 8, top: 8, bottom: 18 };
  const all = series.flatMap((line) => line.points).filter(([, value]) => value !== null);
  const times = all.map(([time]) => time);
  const start = times.length ? Math.min(...times) : 0;
  const end = times.length ? Math.max(...times) : 1;
  const top = Math.max(1e-9, ...all.map(([, value]) => value));
  const x = (time) => pad.left + ((time - start) / Math.max(1, end - start)) * (width - pad.left - pad.right);
  const y = (value) => height - pad.bottom - (value / top) * (height - pad.top - pad.bottom);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', title);
  const axis = document.createElementNS(SVG, 'path');
  axis.setAttribute('d', `M${pad.left} ${pad.top} V${height - pad.bottom} H${width - pad.right}`);
  axis.setAttribute('class', 'axis');
  svg.append(axis);
  for (const [value, text] of [[top, formatFigure(top)], [0, '0']]) {
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', pad.left - 4);
    label.setAttribute('y', y(value) + 4);
    label.setAttribute('text-anchor', 'end');
    label.textContent = text;
    svg.append(label);
  }
  series.forEach((line, index) => {
    const points = line.points.filter(([, value]) => value !== null);
    if (!points.length) return;
    const path = document.createElementNS(SVG, 'polyline');
    path.setAttribute('points', points.map(([time, value]) => `${x(time).toFixed(1)},${y(value).toFixed(1)}`).join(' '));
    path.setAttribute('stroke', COLOURS[index % COLOURS.length]);
    path.setAttribute('class', 'line');
    svg.append(path);
  });
  const last = series.reduce((sum, line) => {
    const points = line.points.filter(([, value]) => value !== null);
    return sum + (points.length ? points[points.length - 1][1] : 0);
  }, 0);
  const pointCount = Math.max(0, ...series.map((line) => line.points.length));
  const figure = document.createElement('figure');
  figure.className = 'chart';
  if (id) figure.id = id;
  figure.dataset.points = String(pointCount);
  figure.dataset.last = String(last);
  const caption = document.createElement('figcaption');
  caption.textContent = `${title} — now ${formatFigure(last)}${unit}`;
  const legend = document.createElement('div');
  legend.className = 'legend';
  series.forEach((line, index) => {
    const item = document.createElement('span');
    item.style.setProperty('--colour', COLOURS[index % COLOURS.length]);
    item.textContent = line.name;
    legend.append(item);
  });
  figure.append(caption, svg, legend);
  return figure;
}

export function formatFigure(value) {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  if (value >= 1000) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
