// The year's advanced-branch candidates (先进党支部) as a shortlist: the rule in words and numbers,
// the quotas worked out, and every name with its court. Loaded after the ranking, in its own box.

import { getJSON } from './api.js';
import { $, bi, fill, h, percent, score } from './dom.js';

const EVERY_MS = 30000; // candidates move slowly: reload at most this often while scores change

export class AdvancedPanel {
  constructor({ courtName, branchLabel, onSelect, onError }) {
    Object.assign(this, { courtName, branchLabel, onSelect, onError, query: null, at: 0, timer: 0, seq: 0 });
    this.quota = null; // the rule's numbers and quotas, from /v1/board/summary
    this.data = null;
  }

  /** Show the candidates of `year` (with a court chosen, that court's list first). */
  show(year, court, token) {
    const q = this.query;
    if (q && q.year === year && q.court === court && q.token === token) return; // e.g. a new dimension
    this.stop();
    Object.assign(this, { query: { year, court, token }, at: 0, data: null });
    fill($('advanced-year'), `${year} 年 · 全年 whole year`);
    fill($('advanced'), h('p', { class: 'hint' }, '加载中… Loading…'));
    this.poke();
  }

  /** The rule's numbers and quotas (they count registered branches only). */
  rule(numbers) {
    this.quota = numbers;
    this.renderRule();
    if (this.data) this.render();
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
    const { year, token } = this.query;
    const seq = ++this.seq; // a slow answer for an earlier year must not overwrite a newer one
    Object.assign(this, { timer: 0, at: Date.now() });
    try {
      const data = await getJSON('/v1/advanced-branches', { year }, token);
      if (seq !== this.seq) return;
      this.data = data;
      this.render();
    } catch (error) {
      if (seq === this.seq) this.onError(error, $('advanced'));
    }
  }

  renderRule() {
    const n = this.quota;
    if (!n) return;
    const pc = (x) => `${Math.round(x * 100)}%`;
    const court = this.query?.court;
    const courtLine = court && n.court_quotas[court] !== undefined
      ? [`${this.courtName(court)}：${n.court_quotas[court]} 名 = ⌈${pc(n.court_share)} × 本院 ${this.courtBranches(court)} 个已登记支部⌉`,
        ` ${this.courtName(court)}: ${n.court_quotas[court]} = ⌈${pc(n.court_share)} × ${this.courtBranches(court)} registered branches⌉`]
      : [`各院名额 = ⌈${pc(n.court_share)} × 本院已登记支部数⌉`, ` Each court: ⌈${pc(n.court_share)} × its registered branches⌉`];
    fill($('advanced-rule'),
      h('p', {}, `评选条件：全年组织生活应完成事项完成率 ≥ ${pc(n.min_compliance)}，且全年人均总分为正；`
        + `本院先进党支部取本院前 ${pc(n.court_share)}，市直先进党支部取全市前 ${pc(n.city_share)}；名额向上取整，并列者同时入选。`),
      h('p', { class: 'en' }, `Eligible: kept ≥ ${pc(n.min_compliance)} of the year's required meetings and a positive yearly total. `
        + `Court list: the top ${pc(n.court_share)} of the court; city list: the top ${pc(n.city_share)} of the city. Quotas round up; ties at the boundary are all named.`),
      h('p', { class: 'quota' }, `全市名额 ${n.city_quota} 名 = ⌈${pc(n.city_share)} × ${n.registered} 个已登记支部⌉ `,
        h('span', { class: 'en' }, `City quota ${n.city_quota} = ⌈${pc(n.city_share)} × ${n.registered} registered branches⌉`)),
      h('p', { class: 'quota' }, courtLine[0], h('span', { class: 'en' }, courtLine[1])));
  }

  courtBranches(court) {
    return this.quota?.court_branches?.[court] ?? '?';
  }

  picks(list) {
    if (!list.length) return h('p', { class: 'hint' }, '暂无候选 No candidates yet');
    return h('ol', { class: 'picks' }, list.map((p) => {
      const court = p.court;
      return h('li', { data: { branchId: p.branch_id } },
        h('span', { class: 'pick-rank num' }, String(p.rank)),
        h('span', { class: 'pick-name' },
          h('button', { type: 'button', class: 'branch', on: { click: () => this.onSelect(p.branch_id) } },
            this.branchLabel(p.name, p.branch_id, court)),
          h('span', { class: 'where' }, court ? this.courtName(court) : '')),
        h('span', { class: 'num', title: '全年人均总分 Yearly total per member' }, score(p.total)),
        h('span', { class: 'num muted', title: '应完成事项完成率 Required meetings kept' }, percent(p.compliance)));
    }));
  }

  render() {
    const data = this.data;
    const court = this.query?.court;
    this.renderRule();
    fill($('advanced-year'), `${data.year} 年 · 全年 whole year`);
    const city = h('section', {}, h('h3', {}, bi(`市直先进党支部 · ${data.city.length} 名`, 'City-wide')), this.picks(data.city));
    const courts = Object.entries(data.per_court)
      .filter(([id, list]) => (court ? id === court : list.length))
      .map(([id, list]) => h('section', {},
        h('h3', {}, this.courtName(id), ` · 本院先进党支部 ${list.length} 名 `, h('span', { class: 'en' }, 'court list')),
        this.picks(list)));
    const perCourt = courts.length ? courts : h('p', { class: 'hint' }, bi('各院暂无候选', 'No court candidates yet'));
    fill($('advanced'), ...(court ? [perCourt, city] : [city, perCourt]));
  }
}
