// The drill-down of one branch: its score breakdown, its organisational-life compliance and its
// members (their points, and in a year their grade).

import { getJSON } from './api.js';
import { $, asOf, bi, fill, h, percent, score } from './dom.js';
import { DIMENSIONS } from './period.js';
import { trendChart } from './trend.js';

const STATUS = { done: ['已完成', 'done'], due: ['进行中', 'due'], overdue: ['逾期', 'overdue'] };
const COLOURS = new Set(['green', 'yellow', 'red']);
const SESSION_STREAM = 'training'; // counted per member at a session: attendances, and sessions held beside them
// 政治素质考察 grades as GET /v1/grades names them.
const GRADES = { good: 'Good', fairly_good: 'Fairly good', average: 'Average', poor: 'Poor' };
const dimensionName = (d) => DIMENSIONS.find(([key]) => key === d)?.[1] ?? d;

export class Drill {
  constructor({ courtName, branchLabel, onError }) {
    Object.assign(this, { courtName, branchLabel, onError, dialog: $('drill'), branchId: null });
    $('drill-close').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => { this.branchId = null; });
  }

  async open(branchId, { period, year, token }) {
    this.branchId = branchId;
    this.context = { period, year, token };
    fill($('drill-title'), branchId);
    fill($('drill-body'), h('p', { class: 'hint' }, '加载中… Loading…'));
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  /** Load (again) what the open branch shows; stream updates call this for the open branch. */
  async refresh() {
    const id = this.branchId;
    if (!id) return;
    const { period, year, token } = this.context;
    try {
      const breakdown = await getJSON(`/v1/branches/${encodeURIComponent(id)}/score`, { period }, token);
      // Compliance comes a page at a time: ask for this branch alone (within its court when
      // registered; an unregistered one is only counted when asked for).
      const where = breakdown.registered ? { court: breakdown.court } : { include_unregistered: true };
      const [compliance, standing] = await Promise.all([
        getJSON('/v1/compliance', { period, branch: id, ...where }, token),
        breakdown.registered ? getJSON(`/v1/board/branches/${encodeURIComponent(id)}`, { period }, token) : null,
      ]);
      if (this.branchId !== id) return; // another branch was opened meanwhile
      const mine = compliance.branches.find((b) => b.branch_id === id);
      fill($('drill-title'), this.branchLabel(breakdown.name, id),
        h('small', { class: 'where-title' }, breakdown.court ? this.courtName(breakdown.court) : '未登记 Unregistered'));
      const trend = h('section', { class: 'drill-trend' }, h('h3', {}, bi('逐月得分', 'Month by month')),
        h('p', { class: 'hint' }, '加载中… Loading…'));
      const members = h('section', { class: 'drill-members' }, h('h3', {}, bi('党员', 'Members')),
        h('p', { class: 'hint' }, '加载中… Loading…'));
      fill($('drill-body'), summary(breakdown, standing, this.courtName), members, dimensions(breakdown),
        kinds(breakdown), caps(breakdown), complianceView(mine, compliance.as_of_month), trend);
      this.members(id, period, token, members);
      if (breakdown.registered) this.trend(id, year, token, trend, breakdown.name);
      else trend.remove();
    } catch (error) {
      if (this.branchId !== id) return;
      if (error.status === 404) {
        fill($('drill-title'), bi('未找到支部', 'No such branch'));
        fill($('drill-body'), h('p', { class: 'error', role: 'alert' }, unknownBranch(id)));
      } else this.onError(error, $('drill-body'));
    }
  }

  /** The branch's members ranked by their points; in a year period also their grade. */
  async members(id, period, token, node) {
    const yearly = /^[0-9]{4}$/.test(period);
    try {
      const [ranked, grades] = await Promise.all([
        getJSON(`/v1/branches/${encodeURIComponent(id)}/members`, { period }, token),
        yearly ? getJSON('/v1/grades', { year: period, branch: id }, token) : null,
      ]);
      if (this.branchId === id) fill(node, h('h3', {}, bi('党员', 'Members')), memberTable(ranked, grades, id));
    } catch (error) {
      if (this.branchId === id) this.onError(error, node);
    }
  }

  async trend(id, year, token, node, name) {
    try {
      const data = await getJSON('/v1/board/trend', { year, branch: id }, token);
      if (this.branchId === id) fill(node, h('h3', {}, bi('逐月得分', 'Month by month')), trendChart(data, `${name} 人均总分 total per member`));
    } catch (error) {
      if (this.branchId === id) this.onError(error, node);
    }
  }
}

/** 不存在的支部 (e.g. a stale link): say so plainly. */
export function unknownBranch(id) {
  return `没有编号为 ${id} 的支部（未登记且无得分）No branch ${id}: not registered and no scores.`;
}

function summary(b, standing, courtName) {
  const rank = (r, n) => (r ? `${r} / ${n}` : '— 未上榜 not ranked');
  const facts = [
    [['法院', 'Court'], b.court ? courtName(b.court) : '未登记 Unregistered'],
    [['编号', 'Id'], b.branch_id],
    [['期间', 'Period'], b.period],
    [['党员', 'Members'], String(b.members)],
    [['人均总分', 'Total per member'], score(b.total)],
    ...(standing ? [
      [['本院排名', 'Rank in court'], rank(standing.court_rank, standing.court_ranked)],
      [['全市排名', 'Rank in city'], rank(standing.city_rank, standing.city_ranked)],
      [['本院平均分', 'Court average'], score(standing.court_average)],
    ] : []),
    [['数据截至', 'Data as of'], asOf(b.data_as_of)],
  ];
  return h('dl', { class: 'facts' }, facts.map(([[zh, en], value]) =>
    h('div', {}, h('dt', {}, bi(zh, en)), h('dd', {}, value))));
}

function table(head, rows) {
  // Focusable: a table wider than a phone scrolls sideways, and the keyboard must reach it too.
  return h('div', { class: 'table-scroll', tabindex: 0 }, h('table', { class: 'small' },
    h('thead', {}, h('tr', {}, head.map(([zh, en, cls]) => h('th', { scope: 'col', class: cls }, bi(zh, en))))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map(([text, cls]) => h('td', { class: cls }, text)))))));
}

/** One row per member: rank, who (a name only where the API gives one), total, grade (a year). */
function memberTable(ranked, grades, branchId) {
  const graded = new Map((grades?.members ?? []).filter((g) => g.branch_id === branchId).map((g) => [g.member_id, g]));
  const ids = new Set(ranked.members.map((m) => m.member_id));
  // A member of the roster with no points yet is still graded: listed after those ranked.
  const rows = [...ranked.members, ...[...graded.values()].filter((g) => !ids.has(g.member_id))
    .map((g) => ({ rank: null, member_id: g.member_id, name: g.name, points: { total: 0 } }))];
  if (!rows.length) return h('p', {}, '无党员记录 No members on record');
  const head = [['排名', 'Rank', 'num'], ['党员', 'Member'], ['总分', 'Total', 'num'],
    ...(grades ? [['政治素质', 'Grade']] : [])];
  const body = rows.map((m) => {
    const g = graded.get(m.member_id);
    const who = m.name ?? g?.name;
    return [
      [m.rank ?? '—', 'num'],
      [who ? [who, h('small', { class: 'member-id' }, m.member_id)] : m.member_id, 'member'],
      [score(m.points.total), 'num'],
      ...(grades ? [[g ? [g.label + ' ', h('span', { class: 'en' }, GRADES[g.grade] ?? g.grade)] : '—', 'grade']] : []),
    ];
  });
  return h('div', { class: 'members-list' }, table(head, body));
}

function dimensions(b) {
  const rows = Object.entries(b.dimensions).map(([d, line]) => [
    [line.label], [score(line.points), 'num'], [score(line.per_member), 'num'], [percent(line.weight), 'num'],
  ]);
  return h('section', {}, h('h3', {}, bi('分维度', 'By dimension')), table(
    [['维度', 'Dimension'], ['积分', 'Points', 'num'], ['人均', 'Per member', 'num'], ['权重', 'Weight', 'num']],
    rows));
}

function kinds(b) {
  if (!b.kinds.length) return h('section', {}, h('h3', {}, bi('分类别', 'By kind')), h('p', {}, '无记录 No records'));
  const rows = b.kinds.map((k) => [
    [k.label], [dimensionName(k.dimension)],
    [k.stream === SESSION_STREAM
      ? `${k.count} 人次 attendances · ${k.sessions ?? 0} 场 sessions held`
      : `${k.count} 条 records`, 'num'],
    [k.stream === 'volunteer' ? score(k.hours) : '—', 'num'], [score(k.points), 'num'],
  ]);
  return h('section', {}, h('h3', {}, bi('分类别', 'By kind')), table(
    [['类别', 'Kind'], ['维度', 'Dimension'], ['数量', 'How many', 'num'], ['时长', 'Hours', 'num'],
      ['积分（封顶前）', 'Points before caps', 'num']],
    rows), h('p', { class: 'hint' }, '会议与学习：人次为出席人次（每名党员每场计一次），场次为召开场次。',
    h('span', { class: 'en' }, ' Meetings and training: attendances (each member once per session) and the sessions held.')));
}

function caps(b) {
  const items = b.caps_hit.map((c) => h('li', {},
    `${c.month} · 党员 member ${c.member_id} · ${dimensionName(c.dimension)} ${score(c.points)} → 封顶 cap ${score(c.cap)}`));
  return h('section', {}, h('h3', {}, bi('月度封顶', 'Monthly caps hit')),
    items.length ? h('ul', { class: 'caps' }, items) : h('p', {}, '未触顶 None'));
}

function dot(colour) {
  return h('span', { class: `dot ${COLOURS.has(colour) ? colour : 'none'}`, 'aria-hidden': 'true' });
}

function complianceView(branch, asOfMonth) {
  const head = h('h3', {}, bi('组织生活合规', 'Compliance'));
  if (!branch) return h('section', {}, head, h('p', {}, '无 None'));
  const byKind = new Map();
  for (const item of branch.items) {
    if (!byKind.has(item.label)) byKind.set(item.label, []);
    byKind.get(item.label).push(item);
  }
  const legend = h('p', { class: 'legend' }, Object.entries(STATUS).map(([status, [zh, en]], i) =>
    h('span', {}, dot(['green', 'yellow', 'red'][i]), ` ${zh} ${en}`)));
  return h('section', {}, head,
    h('p', { class: 'overall' }, dot(branch.colour),
      ` 完成 ${percent(branch.done_share)} done · 截至 ${asOfMonth} as of`), legend,
    h('ul', { class: 'compliance' }, [...byKind].map(([label, items]) => h('li', {},
      h('span', { class: 'kind' }, label),
      h('span', { class: 'chips' }, items.map((i) => {
        const [zh, en] = STATUS[i.status] || [i.status, ''];
        const text = `${i.window}: ${zh} ${en} · 出席 ${i.done} 人次 attendances, 需 ${i.needed} ${i.needed > 1 ? '人 members' : '次 session'}`;
        return h('span', { class: 'chip', title: text, 'aria-label': text }, dot(i.colour), shortWindow(i.window));
      }))))));
}

/** 2024-03 → 03, 2024-Q2 → Q2, 2024 → 2024: the year is in the period already. */
function shortWindow(window) {
  return window.length > 4 ? window.slice(5) : window;
}
