// Periods as the API names them (2024, 2024-Q3, 2024-08) and the board's deep-link query.

import { h } from './dom.js';

export const DIMENSIONS = [
  ['total', '总分', 'Total'],
  ['service', '服务大局', 'Service'],
  ['trial', '融入审判执行', 'Trial & enforcement'],
  ['people', '司法为民', 'Serving the people'],
  ['team', '队伍建设', 'Team building'],
];
const PERIOD = /^(\d{4})(?:-(Q[1-4])|-(0[1-9]|1[0-2]))?$/;

export function parsePeriod(text) {
  const m = PERIOD.exec(text || '');
  return m ? { year: m[1], quarter: m[2] || '', month: m[3] || '' } : null;
}

export function periodOf({ year, quarter, month }) {
  if (month) return `${year}-${month}`;
  if (quarter) return `${year}-${quarter}`;
  return year;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_:-]{0,127}$/;

/** What the address asks for: ?period=2024-Q3&dimension=people&court=cz-zy&branch=… (each optional). */
export function readQuery() {
  const q = new URLSearchParams(location.search);
  const dimension = q.get('dimension');
  return {
    period: parsePeriod(q.get('period')),
    dimension: DIMENSIONS.some(([d]) => d === dimension) ? dimension : 'total',
    court: ID.test(q.get('court') || '') ? q.get('court') : '',
    branch: ID.test(q.get('branch') || '') ? q.get('branch') : '',
  };
}

/** The period just before: 2024-03 → 2024-02, 2024-Q1 → 2023-Q4, 2024 → 2023. */
export function previousPeriod({ year, quarter, month }) {
  const y = Number(year);
  if (month) return month === '01' ? `${y - 1}-12` : `${year}-${String(Number(month) - 1).padStart(2, '0')}`;
  if (quarter) return quarter === 'Q1' ? `${y - 1}-Q4` : `${year}-Q${Number(quarter[1]) - 1}`;
  return String(y - 1);
}

/** Keep the address a deep link to what is on screen (no reload, no history entries). */
export function writeQuery({ period, dimension, court, branch }) {
  const q = new URLSearchParams({ period });
  if (dimension !== 'total') q.set('dimension', dimension);
  if (court) q.set('court', court);
  if (branch) q.set('branch', branch);
  history.replaceState(history.state, '', `${location.pathname}?${q}${location.hash}`);
}

export function option(value, text, selected) {
  return h('option', { value, selected: selected === value }, text);
}

/** This year and the years with data (marked), newest first. */
export function yearOptions(current, chosen, withData = []) {
  const years = new Set([chosen, current, ...withData]);
  const has = new Set(withData);
  return [...years].sort().reverse().map((y) => option(y, has.has(y) ? `${y} 年` : `${y} 年（无数据 no data）`, chosen));
}

export function quarterOptions(chosen) {
  return [option('', '全年 Whole year', chosen)].concat(
    ['Q1', 'Q2', 'Q3', 'Q4'].map((q, i) => option(q, `第${'一二三四'[i]}季度 ${q}`, chosen)),
  );
}

export function monthOptions(chosen) {
  const months = Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(2, '0'));
  return [option('', '— 不限 Any', chosen)].concat(months.map((m) => option(m, `${Number(m)} 月`, chosen)));
}
