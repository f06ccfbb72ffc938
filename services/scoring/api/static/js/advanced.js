// The year's advanced-branch candidates (先进党支部): city-wide, and per court.

import { getJSON } from './api.js';
import { $, bi, fill, h, percent, score } from './dom.js';

const EVERY_MS = 30000; // candidates move slowly: reload at most this often while scores change

function picks(list, onSelect) {
  if (!list.length) return h('p', { class: 'hint' }, '暂无候选 No candidates yet');
  return h('ol', { class: 'picks' }, list.map((p) => h('li', { data: { branchId: p.branch_id } },
    h('span', { class: 'pick-rank num' }, String(p.rank)),
    h('button', { type: 'button', class: 'branch', on: { click: () => onSelect(p.branch_id) } }, p.name),
    h('span', { class: 'num', title: '人均总分 Total per member' }, score(p.total)),
    h('span', { class: 'num muted', title: '合规率 Compliance' }, percent(p.compliance)))));
}

export class AdvancedPanel {
  constructor({ courtName, onSelect, onError }) {
    Object.assign(this, { courtName, onSelect, onError, query: null, at: 0, timer: 0, seq: 0 });
  }

  /** Show the candidates of `year` now (with a court chosen, that court's list first). */
  show(year, court, token) {
    const q = this.query;
    if (q && q.year === year && q.court === court && q.token === token) return; // e.g. a new dimension
    this.stop();
    Object.assign(this, { query: { year, court, token }, at: 0 });
    fill($('advanced-year'), `${year} 年`);
    fill($('advanced'), h('p', { class: 'hint' }, '加载中… Loading…'));
    this.poke();
  }

  /** Scores changed: reload soon, but not more than once every 30 s. */
  poke() {
    if (this.timer || !this.query) return;
    this.timer = setTimeout(() => this.load(), Math.max(0, this.at + EVERY_MS - Date.now()));
  }

  stop() {
    clearTimeout(this.timer);
    Object.assign(this, { query: null, timer: 0, seq: this.seq + 1 });
  }

  async load() {
    const { year, court, token } = this.query;
    const seq = ++this.seq; // a slow answer for an earlier year must not overwrite a newer one
    Object.assign(this, { timer: 0, at: Date.now() });
    try {
      const data = await getJSON('/v1/advanced-branches', { year }, token);
      if (seq === this.seq) this.render(data, court);
    } catch (error) {
      if (seq === this.seq) this.onError(error, $('advanced'));
    }
  }

  render(data, court) {
    fill($('advanced-year'), `${data.year} 年`);
    fill($('advanced-rule'), data.rule);
    const courts = Object.entries(data.per_court)
      .filter(([id, list]) => (court ? id === court : list.length))
      .map(([id, list]) => h('section', {},
        h('h3', {}, this.courtName(id), ' · ', bi('本院先进党支部', 'court')), picks(list, this.onSelect)));
    const city = h('section', {}, h('h3', {}, bi('市直先进党支部', 'City-wide')), picks(data.city, this.onSelect));
    const perCourt = courts.length ? courts : h('p', { class: 'hint' }, bi('各院暂无候选', 'No court candidates yet'));
    fill($('advanced'), ...(court ? [perCourt, city] : [city, perCourt]));
  }
}
