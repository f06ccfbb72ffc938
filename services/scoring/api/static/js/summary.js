// Two panels from /v1/board/summary: each court at a glance, and who is behind on the required
// cadences (三会一课 and the rest), both for the period on screen.

import { getJSON } from './api.js';
import { $, bi, fill, h, percent, score } from './dom.js';
import { trendChart } from './trend.js';

const EVERY_MS = 15000; // reload at most this often while scores change
const STATUS = { due: '进行中 due', overdue: '逾期 overdue' };
const FIGURES = [
  ['visits', '走访', 'Visits'],
  ['judicial_suggestions', '司法建议', 'Judicial suggestions'],
  ['pre_litigation_resolutions', '诉前化解', 'Pre-litigation resolutions'],
  ['volunteer_hours', '志愿时长', 'Volunteer hours'],
  ['training_attendances', '学习出席人次', 'Training attendances'],
];

export class BoardPanels {
  constructor({ courtName, branchLabel, onSelect, onCourt, onSummary, onError }) {
    Object.assign(this, { courtName, branchLabel, onSelect, onCourt, onSummary, onError, query: null, at: 0, timer: 0, seq: 0 });
  }

  show(query) {
    this.stop();
    Object.assign(this, { query, at: 0 });
    for (const id of ['summary', 'behind']) fill($(id), h('p', { class: 'hint' }, '加载中… Loading…'));
    fill($('court-trend'));
    this.load();
    this.trend();
  }

  poke() {
    if (this.timer || !this.query) return;
    this.timer = setTimeout(() => this.load(), Math.max(0, this.at + EVERY_MS - Date.now()));
  }

  stop() {
    clearTimeout(this.timer);
    Object.assign(this, { query: null, timer: 0, seq: this.seq + 1 });
  }

  async load() {
    const q = this.query;
    const seq = ++this.seq;
    Object.assign(this, { timer: 0, at: Date.now() });
    try {
      const data = await getJSON('/v1/board/summary', { period: q.period, court: q.court }, q.token);
      if (seq !== this.seq) return;
      this.renderSummary(data, q);
      this.renderBehind(data, q);
      this.onSummary(data);
    } catch (error) {
      if (seq === this.seq) this.onError(error, $('summary'));
    }
  }

  async trend() {
    const q = this.query;
    if (!q.court) return;
    const seq = this.seq;
    try {
      const data = await getJSON('/v1/board/trend', { year: q.year, court: q.court }, q.token);
      if (seq !== this.seq) return;
      fill($('court-trend'), h('h3', {}, this.courtName(q.court), ' · ', bi('本院平均分逐月', 'court average, month by month')),
        trendChart(data, `${this.courtName(q.court)} 平均分 average`));
    } catch (error) {
      if (seq === this.seq) this.onError(error, $('court-trend'));
    }
  }

  renderSummary(data, q) {
    fill($('summary-caption'), `${data.period} · 已登记支部 registered branches · 平均分含无得分支部（计 0）average counts branches without scores as 0`);
    const head = [['法院', 'Court'], ['支部', 'Branches', 'num'], ['平均分', 'Average', 'num'], ['最高分', 'Best', 'num'],
      ['合规率', 'Compliance', 'num'], ...FIGURES.map(([, zh, en]) => [zh, en, 'num'])];
    const courts = q.court ? data.courts.filter((c) => c.court === q.court) : data.courts;
    const row = (c, city) => h('tr', { class: city ? 'city' : '', data: { court: c.court || '' } },
      h('th', { scope: 'row' }, city ? bi('全市', 'Whole city')
        : h('button', { type: 'button', class: 'branch', title: '查看本院排名 Show this court\'s ranking', on: { click: () => this.onCourt(c.court) } },
          this.courtName(c.court))),
      h('td', { class: 'num' }, c.scored === c.branches ? String(c.branches) : `${c.scored}/${c.branches}`),
      h('td', { class: 'num' }, score(c.average)),
      h('td', { class: 'num', title: c.best ? c.best.name : '' }, c.best ? score(c.best.total) : '—'),
      h('td', { class: 'num', title: `绿 green ${c.colours.green} · 黄 yellow ${c.colours.yellow} · 红 red ${c.colours.red}` },
        percent(c.compliance), ' ', h('span', { class: 'muted small' }, `(${c.colours.red}红 red)`)),
      FIGURES.map(([key]) => h('td', { class: 'num' }, key === 'volunteer_hours' ? Number(c.figures[key]).toFixed(1) : String(c.figures[key]))));
    const table = (list, city) => h('table', { class: 'small summary' },
      h('thead', {}, h('tr', {}, head.map(([zh, en, cls]) => h('th', { scope: 'col', class: cls }, bi(zh, en))))),
      h('tbody', {}, list.map((c) => row(c, false)), city && data.city ? row(data.city, true) : null));
    // Courts the city does not list (e.g. left over from a test) apart, folded away.
    const listed = q.court ? courts : courts.filter((c) => c.listed);
    const others = q.court ? [] : courts.filter((c) => !c.listed);
    fill($('summary'), table(listed, !q.court),
      others.length ? h('details', { class: 'others' },
        h('summary', {}, `其他法院（不在本市法院名单）${others.length} 个 `, h('span', { class: 'en' }, 'Other courts, not in the city\'s list')),
        table(others, false)) : null,
    h('p', { class: 'hint' }, '支部：有得分/已登记；合规率：应完成事项中已完成的比例（三会一课等）；学习出席人次按人次计，不是会议场次。',
      h('span', { class: 'en' }, ' Branches: with scores / registered. Compliance: share of required items done. Training counts attendances (a member at a session), not sessions held.')));
  }

  renderBehind(data, q) {
    const all = data.behind.branches;
    fill($('behind-caption'), `${data.period} · 截至 ${data.as_of_month} as of · 红 red ${data.behind.red} · 黄 yellow ${data.behind.yellow}`);
    if (!all.length) {
      fill($('behind'), h('p', { class: 'hint' }, '本期所有支部均已按要求完成 Every branch kept its required meetings this period'));
      return;
    }
    // By required kind: how many branches miss each.
    const kinds = new Map();
    for (const b of all) for (const m of b.missing) kinds.set(m.label, (kinds.get(m.label) || new Set()).add(b.branch_id));
    const byKind = h('ul', { class: 'by-kind' }, [...kinds].sort((a, b) => b[1].size - a[1].size)
      .map(([label, ids]) => h('li', {}, h('span', {}, label), h('span', { class: 'num' }, `${ids.size} 个支部 branches`))));
    const byCourt = new Map();
    for (const b of all) byCourt.set(b.court, [...(byCourt.get(b.court) || []), b]);
    const courts = [...byCourt].sort((a, b) => q.order.indexOf(a[0]) - q.order.indexOf(b[0]));
    const list = courts.map(([court, branches]) => h('section', {},
      h('h3', {}, this.courtName(court), ` · ${branches.length}`),
      h('ul', { class: 'behind-list' }, branches.map((b) => h('li', { data: { branchId: b.branch_id } },
        h('span', { class: `dot ${b.colour}`, 'aria-hidden': 'true' }),
        h('button', { type: 'button', class: 'branch', on: { click: () => this.onSelect(b.branch_id) } },
          this.branchLabel(b.name, b.branch_id, b.court)),
        h('span', { class: 'visually-hidden' }, b.colour === 'red' ? '红 red' : '黄 yellow'),
        h('span', { class: 'num muted' }, percent(b.done_share)),
        h('span', { class: 'missing' }, b.missing.map(missed).join('；')))))));
    fill($('behind'), h('h3', {}, bi('按事项', 'By required kind')), byKind, h('h3', {}, bi('按法院', 'By court')), list,
      data.behind.branches.length < data.behind.red + data.behind.yellow
        ? h('p', { class: 'hint' }, `仅列出前 ${data.behind.branches.length} 个 only the first are listed`) : null);
  }
}

/** 支委会 逾期 overdue 06, 07 · 进行中 due 08 */
function missed(m) {
  const parts = ['overdue', 'due'].filter((s) => m[s].length).map((s) => `${STATUS[s]} ${m[s].map(short).join(', ')}`);
  return `${m.label.split(' ')[0]} ${parts.join(' · ')}`;
}

function short(window) {
  return window.length > 4 ? window.slice(5) : window;
}
