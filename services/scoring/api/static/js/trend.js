// A year's scores month by month as an inline SVG line chart, with the same months last year.

import { h } from './dom.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 360;
const H = 150;
const PAD = { left: 34, right: 8, top: 10, bottom: 22 };

function s(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

/** data: { year, series: { "2024": [12 monthly values or null], "2023": [...] } } */
export function trendChart(data, label) {
  const year = data.year;
  const last = String(Number(year) - 1);
  const now = data.series[year] || [];
  const before = data.series[last] || [];
  const values = [...now, ...before].filter((v) => v !== null && v !== undefined);
  const top = Math.max(1, ...values) * 1.1;
  const x = (i) => PAD.left + (i * (W - PAD.left - PAD.right)) / 11;
  const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);
  const line = (series) => series.map((v, i) => (v === null || v === undefined ? null : `${x(i).toFixed(1)},${y(v).toFixed(1)}`))
    .filter(Boolean).join(' ');
  const describe = (series) => series.map((v, i) => `${i + 1}月 ${v === null || v === undefined ? '—' : v.toFixed(2)}`).join('，');
  const title = `${label}：${year} 年 ${describe(now)}；${last} 年 ${describe(before)}`;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'trend-chart', role: 'img', 'aria-label': title },
    s('title', {}, title),
    ...[0, 0.5, 1].map((f) => s('g', {},
      s('line', { x1: PAD.left, x2: W - PAD.right, y1: y(top * f / 1.1), y2: y(top * f / 1.1), class: 'grid-line' }),
      s('text', { x: PAD.left - 4, y: y(top * f / 1.1) + 4, class: 'axis', 'text-anchor': 'end' }, (top * f / 1.1).toFixed(1)))),
    ...Array.from({ length: 12 }, (_, i) => s('text', { x: x(i), y: H - 6, class: 'axis', 'text-anchor': 'middle' }, String(i + 1))),
    s('polyline', { points: line(before), class: 'series before' }),
    s('polyline', { points: line(now), class: 'series now' }),
    ...now.map((v, i) => (v === null || v === undefined ? null : s('circle', { cx: x(i), cy: y(v), r: 2.5, class: 'series-dot' })))
      .filter(Boolean));
  const legend = h('p', { class: 'legend' },
    h('span', { class: 'key now' }, `${year} 年`), ' ', h('span', { class: 'key before' }, `${last} 年同期 same months last year`));
  return h('figure', { class: 'trend' }, svg, legend);
}
