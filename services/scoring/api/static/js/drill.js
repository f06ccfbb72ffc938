// The drill-down of one branch: its score breakdown and its organisational-life compliance.

import { getJSON } from './api.js';
import { $, asOf, bi, fill, h, percent, score } from './dom.js';
import { DIMENSIONS } from './period.js';

const STATUS = { done: ['已完成', 'done'], due: ['进行中', 'due'], overdue: ['逾期', 'overdue'] };
const COLOURS = new Set(['green', 'yellow', 'red']);
const dimensionName = (d) => DIMENSIONS.find(([key]) => key === d)?.[1] ?? d;

export class Drill {
  constructor({ courtName, onError }) {
    Object.assign(this, { courtName, onError, dialog: $('drill'), branchId: null });
    $('drill-close').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('close', () => { this.branchId = null; });
  }

  async open(branchId, { period, court, token }) {
    this.branchId = branchId;
    this.context = { period, court, token };
    fill($('drill-title'), branchId);
    fill($('drill-body'), h('p', { class: 'hint' }, '加载中… Loading…'));
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  /** Load (again) what the open branch shows; stream updates call this for the open branch. */
  async refresh() {
    const id = this.branchId;
    if (!id) return;
    const { period, token } = this.context;
    try {
      const breakdown = await getJSON(`/v1/branches/${encodeURIComponent(id)}/score`, { period }, token);
      // Compliance comes a page at a time: ask for this branch alone (within its court when
      // registered; an unregistered one is only counted when asked for).
      const where = breakdown.registered ? { court: breakdown.court } : { include_unregistered: true };
      const compliance = await getJSON('/v1/compliance', { period, branch: id, ...where }, token);
      if (this.branchId !== id) return; // another branch was opened meanwhile
      const mine = compliance.branches.find((b) => b.branch_id === id);
      fill($('drill-title'), breakdown.name);
      fill($('drill-body'), summary(breakdown, this.courtName), dimensions(breakdown), kinds(breakdown),
        caps(breakdown), complianceView(mine, compliance.as_of_month));
    } catch (error) {
      if (this.branchId === id) this.onError(error, $('drill-body'));
    }
  }
}

function summary(b, courtName) {
  const facts = [
    [['法院', 'Court'], b.court ? courtName(b.court) : '未登记 Unregistered'],
    [['期间', 'Period'], b.period],
    [['党员', 'Members'], String(b.members)],
    [['人均总分', 'Total per member'], score(b.total)],
    [['数据截至', 'Data as of'], asOf(b.data_as_of)],
  ];
  return h('dl', { class: 'facts' }, facts.map(([[zh, en], value]) =>
    h('div', {}, h('dt', {}, bi(zh, en)), h('dd', {}, value))));
}

function table(head, rows) {
  return h('div', { class: 'table-scroll' }, h('table', { class: 'small' },
    h('thead', {}, h('tr', {}, head.map(([zh, en, cls]) => h('th', { scope: 'col', class: cls }, bi(zh, en))))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map(([text, cls]) => h('td', { class: cls }, text)))))));
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
    [k.label], [dimensionName(k.dimension)], [String(k.count), 'num'], [k.stream === 'volunteer' ? score(k.hours) : '—', 'num'], [score(k.points), 'num'],
  ]);
  return h('section', {}, h('h3', {}, bi('分类别', 'By kind')), table(
    [['类别', 'Kind'], ['维度', 'Dimension'], ['次数', 'Count', 'num'], ['时长', 'Hours', 'num'],
      ['积分（封顶前）', 'Points before caps', 'num']],
    rows));
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
        const text = `${i.window}: ${zh} ${en} ${i.done}/${i.needed}`;
        return h('span', { class: 'chip', title: text, 'aria-label': text }, dot(i.colour), shortWindow(i.window));
      }))))));
}

/** 2024-03 → 03, 2024-Q2 → Q2, 2024 → 2024: the year is in the period already. */
function shortWindow(window) {
  return window.length > 4 ? window.slice(5) : window;
}
