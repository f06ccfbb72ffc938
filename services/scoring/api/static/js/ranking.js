// The live ranking on screen: the table and the bar chart, patched in place by stream events.

import { getJSON } from './api.js';
import { fill, h, score } from './dom.js';

const COLUMNS = ['total', 'service', 'trial', 'people', 'team'];
const BARS = 10;
const HIGHLIGHT_MS = 4000;

export class RankingView {
  constructor({ tbody, bars, onSelect, courtName, branchLabel }) {
    Object.assign(this, { tbody, bars, onSelect, courtName, branchLabel });
    this.before = new Map(); // branch id -> rank in the previous period (same dimension and court)
    this.previousSeq = 0;
    this.rows = new Map(); // branch id -> the API's row
    this.lines = new Map(); // branch id -> { tr, cells, li, fill, value, timer }
    this.dimension = 'total';
  }

  /** Forget everything: a new period, dimension or court starts from the next snapshot. */
  reset(dimension) {
    for (const line of this.lines.values()) clearTimeout(line.timer);
    this.rows.clear();
    this.lines.clear();
    this.dimension = dimension;
    this.tbody.replaceChildren();
    this.bars.replaceChildren();
    this.loaded = false;
    this.missing = '';
    this.before = new Map();
    this.previousSeq += 1;
  }

  /** The previous period's ranks, for the ▲▼ moves (loaded after the ranking itself). */
  async previous(period, { dimension, court, token }) {
    const seq = this.previousSeq;
    try {
      const data = await getJSON('/v1/rankings', { period, dimension, court, limit: 1000 }, token);
      if (seq !== this.previousSeq) return;
      this.before = new Map(data.rows.map((r) => [r.branch_id, r.rank]));
      this.beforePeriod = period;
      this.render();
    } catch {
      // no moves shown: the ranking itself is unaffected
    }
  }

  /** The address names something that does not exist: say so in the table. */
  notFound(text) {
    this.missing = text;
    this.empty();
  }

  /** A `snapshot` replaces the rows; a `rows` event upserts `rows` and drops `removed`. */
  apply(body, snapshot) {
    const changed = [];
    if (snapshot) this.rows.clear();
    for (const row of body.rows || []) {
      const before = this.rows.get(row.branch_id);
      this.rows.set(row.branch_id, row);
      if (!snapshot) changed.push([row.branch_id, before ? before.rank - row.rank : 0]);
    }
    for (const id of body.removed || []) this.rows.delete(id);
    this.loaded = true;
    this.render();
    for (const [id, moved] of changed) this.highlight(id, moved);
  }

  ordered() {
    return [...this.rows.values()].sort((a, b) => a.rank - b.rank || (a.branch_id < b.branch_id ? -1 : 1));
  }

  render() {
    const rows = this.ordered();
    for (const [id, line] of this.lines) {
      if (!this.rows.has(id)) {
        clearTimeout(line.timer);
        line.tr.remove();
        line.li.remove();
        this.lines.delete(id);
      }
    }
    if (!rows.length) return this.empty();
    this.tbody.querySelector('.empty')?.remove();
    this.bars.querySelector('.empty')?.remove();
    const top = Math.max(...rows.map((r) => r.score), 0);
    rows.forEach((row, i) => {
      const line = this.lines.get(row.branch_id) || this.line(row.branch_id);
      this.update(line, row, top);
      this.tbody.append(line.tr);
      if (i < BARS) this.bars.append(line.li);
      else line.li.remove();
    });
  }

  empty() {
    const text = this.missing || (this.loaded ? '本期暂无得分 No scores in this period yet' : '加载中… Loading…');
    fill(this.tbody, h('tr', { class: 'empty' }, h('td', { colspan: 9 }, text)));
    fill(this.bars, h('li', { class: 'empty' }, text));
  }

  line(id) {
    const cells = {};
    const td = (key, cls) => (cells[key] = h('td', { class: cls, data: { col: key } }));
    const select = () => this.onSelect(id);
    const nameText = h('span', {});
    const bid = h('span', { class: 'bid' }); // the id, where another branch has the same name
    const name = h('button', { type: 'button', class: 'branch', on: { click: select } }, nameText, bid);
    const rank = h('span', { class: 'rank-num' });
    const trend = h('span', { class: 'trend' });
    const where = h('span', { class: 'where' });
    const tr = h('tr', { data: { branchId: id } },
      td('rank', 'num rank'), h('th', { scope: 'row', class: 'name' }, name, where), td('court', 'court'),
      td('members', 'num members-col'), ...COLUMNS.map((c) => td(c, c === 'total' ? 'num' : 'num dim')));
    const fillBar = h('span', { class: 'fill' });
    const value = h('span', { class: 'value num' });
    const label = h('button', { type: 'button', class: 'bar-label', on: { click: select } });
    const li = h('li', { data: { branchId: id } }, label, h('span', { class: 'track' }, fillBar), value);
    cells.rank.append(rank, trend);
    const line = { tr, cells, rank, trend, where, name, nameText, bid, li, label, fillBar, value, timer: 0 };
    this.lines.set(id, line);
    return line;
  }

  update(line, row, top) {
    set(line.rank, String(row.rank));
    const shown = this.branchLabel(row.name, row.branch_id, row.court);
    set(line.nameText, row.name);
    set(line.bid, shown === row.name ? '' : ` · ${row.branch_id}`);
    line.name.title = row.registered ? row.branch_id : `${row.branch_id} · 未登记 not registered`;
    const court = row.court ? this.courtName(row.court) : '未登记 Unregistered';
    set(line.cells.court, court);
    set(line.where, court); // under the name where the court column does not fit (phones)
    line.where.title = court;
    this.move(line, row);
    set(line.cells.members, String(row.members));
    for (const c of COLUMNS) {
      set(line.cells[c], score(row.scores[c]));
      line.cells[c].classList.toggle('ranked', c === this.dimension);
    }
    for (const node of [line.tr, line.li]) node.classList.toggle('podium', row.rank <= 3);
    set(line.label, `${row.rank}. ${shown}`);
    set(line.value, score(row.score));
    line.fillBar.className = `fill dim-${this.dimension}`;
    // CSSOM, not a style attribute: allowed under style-src 'self'.
    line.fillBar.style.width = `${top > 0 ? (100 * row.score) / top : 0}%`;
  }

  /** ▲n / ▼n / = against the previous period's rank; 新 new when it was not ranked then. */
  move(line, row) {
    if (!this.before.size) return set(line.trend, '');
    const was = this.before.get(row.branch_id);
    const moved = was === undefined ? null : was - row.rank;
    const [text, cls, title] = moved === null ? ['新', 'trend new', `上期未上榜 not ranked in ${this.beforePeriod}`]
      : moved > 0 ? [`▲${moved}`, 'trend up', `较 ${this.beforePeriod} 上升 ${moved} up from ${was}`]
        : moved < 0 ? [`▼${-moved}`, 'trend down', `较 ${this.beforePeriod} 下降 ${-moved} down from ${was}`]
          : ['=', 'trend same', `与 ${this.beforePeriod} 持平 same rank as ${this.beforePeriod}`];
    set(line.trend, text);
    line.trend.className = cls;
    line.trend.title = title;
    return undefined;
  }

  /** Mark a changed row for a few seconds (with how many places it moved). */
  highlight(id, moved) {
    const line = this.lines.get(id);
    if (!line) return;
    clearTimeout(line.timer);
    line.cells.rank.querySelector('.moved')?.remove();
    if (moved) {
      const up = moved > 0;
      line.cells.rank.append(h('span', { class: up ? 'moved up' : 'moved down', title: up ? '上升 up' : '下降 down' },
        `${up ? '▲' : '▼'}${Math.abs(moved)}`));
    }
    for (const node of [line.tr, line.li]) node.classList.add('changed');
    line.timer = setTimeout(() => {
      for (const node of [line.tr, line.li]) node.classList.remove('changed');
      line.cells.rank.querySelector('.moved')?.remove();
    }, HIGHLIGHT_MS);
  }
}

/** textContent only when it differs, so unchanged cells are not touched. */
function set(node, text) {
  if (node.textContent !== text) node.textContent = text;
}
