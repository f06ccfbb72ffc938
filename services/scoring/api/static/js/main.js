// The board: sign-in, filters, the live ranking stream, and what hangs off it.

import { AdvancedPanel } from './advanced.js';
import { BoardPanels } from './summary.js';
import { ApiError, getJSON } from './api.js';
import { bindDownloads } from './download.js';
import { forgetToken, keepToken, takeToken } from './auth.js';
import { $, asOf, fill, h } from './dom.js';
import { Drill } from './drill.js';
import { followRanking } from './live.js';
import {
  DIMENSIONS, monthOptions, option, periodOf, previousPeriod, quarterOptions, readQuery, writeQuery, yearOptions,
} from './period.js';
import { RankingView } from './ranking.js';
import { LiveStatus } from './status.js';

// Set once per page load: tests compare it before and after a live update to prove no reload.
window.boardLoadedAt = Date.now();

const LIMIT = 100;
const STATUS = {
  off: '未登录 Signed out', connecting: '连接中 Connecting…', live: '实时 Live',
  reconnecting: '重连中 Reconnecting…', error: '出错 Error',
};
const state = {
  token: '', period: null, dimension: 'total', court: '', courts: new Map(), order: [], repeated: new Set(),
  stream: null, branch: '',
};
const courtName = (id) => state.courts.get(id)?.name || id;
/** A branch's name, with its id where another registered branch has the same name (its court is
 * always shown beside it). */
const branchLabel = (name, id) => (state.repeated.has(name) ? `${name} · ${id}` : name);
const view = new RankingView({ tbody: $('rows'), bars: $('bars'), onSelect: openBranch, courtName, branchLabel });
const failed = (error, node) => rejected(error) || fill(node, message(error));
const drill = new Drill({ courtName, branchLabel, onError: failed });
const advanced = new AdvancedPanel({ courtName, branchLabel, onSelect: openBranch, onError: failed });
const panels = new BoardPanels({
  courtName, branchLabel, onSelect: openBranch, onCourt: chooseCourt, onError: failed,
  onSummary: (data) => advanced.rule(data.advanced),
});
const live = new LiveStatus($('status'));


function message(error) {
  if (error.plain) return error.message;
  return `加载失败 Could not load: ${error instanceof ApiError ? `${error.status} ${error.message}` : error.message}`;
}

function setStatus(kind) {
  if (kind === 'live') live.connected();
  else live.set(kind, STATUS[kind]);
}

function showError(error) {
  const node = $('error');
  node.hidden = !error;
  node.textContent = error ? message(error) : '';
}

/** A 401 or 403 ends the session: the token is forgotten and the sign-in prompt says why. */
function rejected(error) {
  if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) return false;
  signOut(error.status === 401 ? '令牌无效 The token was not accepted.'
    : '令牌缺少 rankings:read 权限 The token lacks the rankings:read scope.');
  return true;
}

function signOut(reason = '') {
  state.stream?.abort();
  advanced.stop();
  panels.stop();
  live.stop();
  state.token = '';
  forgetToken();
  if (drill.dialog.open) drill.dialog.close();
  $('board').hidden = true;
  $('sign-out').hidden = true;
  $('big-screen').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = reason;
  setStatus('off');
  $('token').focus();
}

async function enter() {
  let found;
  try {
    found = await getJSON('/v1/board/courts', {}, state.token);
  } catch (error) {
    if (!rejected(error)) signOut(message(error));
    return;
  }
  $('sign-in').hidden = true;
  $('board').hidden = false;
  $('sign-out').hidden = false;
  $('big-screen').hidden = false;
  if (found.city) fill($('city'), `${found.city} · 全市两级法院 `, h('span', { class: 'en' }, 'All courts of the city'));
  const names = found.courts.map((c) => c.court_name || c.court);
  state.order = found.courts.map((c) => c.court);
  state.courts = new Map(found.courts.map((c, i) => {
    const name = names[i];
    const shown = names.indexOf(name) !== names.lastIndexOf(name) ? `${name} (${c.court})` : name;
    return [c.court, { name: shown, listed: c.listed, branches: c.branches }];
  }));
  state.repeated = new Set(found.repeated_names || []);
  const query = readQuery();
  Object.assign(state, { dimension: query.dimension, court: query.court, branch: query.branch });
  // The current year if registered branches have scores in it, else the latest year that has.
  const year = found.years.includes(found.current_year) ? found.current_year : (found.years[0] || found.current_year);
  state.period = query.period || { year, quarter: '', month: '' };
  state.years = found.years;
  state.currentYear = found.current_year;
  renderFilters();
  follow();
  if (state.branch) openBranch(state.branch);
}

function renderFilters() {
  const { year, quarter, month } = state.period;
  fill($('year'), yearOptions(state.currentYear, year, state.years));
  fill($('quarter'), quarterOptions(quarter));
  fill($('month'), monthOptions(month));
  fill($('dimension'), DIMENSIONS.map(([d, zh, en]) => option(d, `${zh} ${en}`, state.dimension)));
  const courts = [...state.courts];
  const listed = courts.filter(([, c]) => c.listed).map(([id, c]) => option(id, c.name, state.court));
  const others = courts.filter(([, c]) => !c.listed).map(([id, c]) => option(id, c.name, state.court));
  const unknown = state.court && !state.courts.has(state.court)
    ? [option(state.court, `${state.court}（不存在 no such court）`, state.court)] : [];
  fill($('court'), option('', '全市 Whole city', state.court), listed,
    others.length ? h('optgroup', { label: '其他（不在本市法院名单）Other courts' }, others) : null, unknown);
}

function chooseCourt(court) {
  state.court = court;
  $('court').value = court;
  follow();
  $('ranking-panel').focus();
}

function bindFilters() {
  const on = (id, change) => $(id).addEventListener('change', (e) => { change(e.target.value); follow(); });
  on('year', (v) => { state.period.year = v; });
  on('quarter', (v) => { Object.assign(state.period, { quarter: v, month: '' }); $('month').value = ''; });
  on('month', (v) => { Object.assign(state.period, { month: v, quarter: '' }); $('quarter').value = ''; });
  on('dimension', (v) => { state.dimension = v; });
  on('court', (v) => { state.court = v; });
  $('filters').addEventListener('submit', (e) => e.preventDefault());
}

function bindSignIn() {
  $('sign-in-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token').value.trim();
    $('token').value = '';
    if (!token) return;
    keepToken(token);
    state.token = token;
    enter();
  });
  $('sign-out').addEventListener('click', () => signOut());
}

function captions() {
  const dimension = DIMENSIONS.find(([d]) => d === state.dimension);
  const court = state.court ? courtName(state.court) : '全市 Whole city';
  const text = `${periodOf(state.period)} · ${dimension[1]} ${dimension[2]} · ${court}`;
  const shown = view.rows.size >= LIMIT ? `前 ${LIMIT} 名 top ${LIMIT}` : `${view.rows.size} 个支部 branches`;
  fill($('table-caption'), `${text} · ${shown}`);
  fill($('chart-caption'), `${text} · 前 10 名 Top 10`);
}

/** (Re)start following the ranking the filters describe. */
function follow() {
  state.stream?.abort();
  state.stream = new AbortController();
  const period = periodOf(state.period);
  writeQuery({ period, dimension: state.dimension, court: state.court, branch: state.branch });
  view.reset(state.dimension);
  view.render();
  captions();
  showError(null);
  live.reset();
  if (state.court && !state.courts.has(state.court)) {
    // Not a registered court: say so instead of an empty ranking.
    const text = `没有编号为 ${state.court} 的已登记法院 No registered court has the id ${state.court}: choose one from the list.`;
    showError({ message: text, plain: true });
    view.notFound(text);
    setStatus('error');
    panels.stop();
    advanced.stop();
    return;
  }
  const first = { done: false };
  const params = { period, dimension: state.dimension, court: state.court, limit: LIMIT };
  // The panels and candidates load after the ranking's first snapshot: they never delay it.
  const afterRanking = () => {
    if (first.done) return;
    first.done = true;
    panels.show({ period, year: state.period.year, court: state.court, token: state.token, order: state.order });
    advanced.show(state.period.year, state.court, state.token);
    view.previous(previousPeriod(state.period), { dimension: state.dimension, court: state.court, token: state.token });
  };
  followRanking(params, state.token, {
    signal: state.stream.signal,
    onEvent: (type, body) => { onEvent(type, body); if (type === 'snapshot') afterRanking(); },
    onStatus: (kind) => { setStatus(kind); if (kind === 'live') showError(null); },
    onFailure: (error) => rejected(error) || showError(error), // e.g. 422: retrying will not help
  });
}

function onEvent(type, body) {
  if (type !== 'snapshot' && type !== 'rows') return;
  view.apply(body, type === 'snapshot');
  fill($('as-of'), asOf(body.data_as_of));
  if (type === 'rows') live.updated();
  fill($('rulebook'), body.rulebook_version || '—');
  captions();
  if (type === 'rows') {
    const touched = new Set([...body.rows.map((r) => r.branch_id), ...body.removed]);
    if (drill.branchId && touched.has(drill.branchId)) drill.refresh();
    advanced.poke();
    panels.poke();
  }
}

function openBranch(branchId) {
  state.branch = branchId;
  writeQuery({ period: periodOf(state.period), dimension: state.dimension, court: state.court, branch: branchId });
  drill.open(branchId, { period: periodOf(state.period), year: state.period.year, token: state.token });
}

function bindBigScreen() {
  const button = $('big-screen');
  const sync = () => {
    const on = document.body.classList.contains('big');
    button.setAttribute('aria-pressed', String(on));
  };
  button.addEventListener('click', async () => {
    const on = !document.body.classList.contains('big');
    document.body.classList.toggle('big', on);
    try {
      if (on && document.fullscreenEnabled) await document.documentElement.requestFullscreen();
      else if (!on && document.fullscreenElement) await document.exitFullscreen();
    } catch {
      // full screen refused (e.g. inside a frame): the big layout still applies
    }
    sync();
  });
  document.addEventListener('fullscreenchange', () => {
    if (!document.fullscreenElement) document.body.classList.remove('big');
    sync();
  });
}

/** Start with the token in hand (fragment or this tab), else ask for one and request nothing. */
function begin() {
  state.stream?.abort();
  state.token = takeToken();
  if (state.token) enter();
  else signOut();
}

bindSignIn();
bindFilters();
bindBigScreen();
bindDownloads(
  () => ({ period: periodOf(state.period), year: state.period.year, dimension: state.dimension, court: state.court, token: state.token }),
  failed,
);
drill.dialog.addEventListener('close', () => {
  state.branch = '';
  if (state.period) writeQuery({ period: periodOf(state.period), dimension: state.dimension, court: state.court });
});
// A projector link pasted into an open board changes only the fragment: take its token too.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) begin();
});
begin();
