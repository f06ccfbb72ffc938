// The board: sign-in, filters, the live ranking stream, and what hangs off it.

import { AdvancedPanel } from './advanced.js';
import { ApiError, getJSON } from './api.js';
import { forgetToken, keepToken, takeToken } from './auth.js';
import { $, asOf, fill } from './dom.js';
import { Drill } from './drill.js';
import { followRanking } from './live.js';
import {
  DIMENSIONS, monthOptions, option, periodOf, quarterOptions, readQuery, writeQuery, yearOptions,
} from './period.js';
import { RankingView } from './ranking.js';

// Set once per page load: tests compare it before and after a live update to prove no reload.
window.boardLoadedAt = Date.now();

const LIMIT = 100;
const STATUS = {
  off: '未登录 Signed out', connecting: '连接中 Connecting…', live: '实时 Live',
  reconnecting: '重连中 Reconnecting…', error: '出错 Error',
};
const state = { token: '', period: null, dimension: 'total', court: '', courts: new Map(), stream: null };
const courtName = (id) => state.courts.get(id) || id;
const view = new RankingView({ tbody: $('rows'), bars: $('bars'), onSelect: openBranch, courtName });
const failed = (error, node) => rejected(error) || fill(node, message(error));
const drill = new Drill({ courtName, onError: failed });
const advanced = new AdvancedPanel({ courtName, onSelect: openBranch, onError: failed });

function message(error) {
  return `加载失败 Could not load: ${error instanceof ApiError ? `${error.status} ${error.message}` : error.message}`;
}

function setStatus(kind) {
  const node = $('status');
  node.className = `status ${kind}`;
  node.textContent = STATUS[kind];
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
  state.token = '';
  forgetToken();
  if (drill.dialog.open) drill.dialog.close();
  $('board').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
  $('sign-in-error').textContent = reason;
  setStatus('off');
  $('token').focus();
}

async function enter() {
  let tree;
  try {
    tree = await getJSON('/v1/courts', {}, state.token);
  } catch (error) {
    if (!rejected(error)) signOut(message(error));
    return;
  }
  $('sign-in').hidden = true;
  $('board').hidden = false;
  $('sign-out').hidden = false;
  fill($('city'), `${tree.city} · 全市两级法院 All courts`);
  const names = tree.courts.map((c) => c.court_name || c.court);
  state.courts = new Map(tree.courts.map((c, i) => {
    const name = names[i];
    return [c.court, names.indexOf(name) !== names.lastIndexOf(name) ? `${name} (${c.court})` : name];
  }));
  const query = readQuery();
  Object.assign(state, { dimension: query.dimension, court: query.court });
  state.period = query.period || { year: await latestYear(), quarter: '', month: '' };
  renderFilters();
  follow();
}

/** The latest of the last six years that has any scores (the current year if none has). */
async function latestYear() {
  const now = new Date().getFullYear();
  const years = Array.from({ length: 6 }, (_, i) => String(now - i));
  const sizes = await Promise.all(years.map((period) =>
    getJSON('/v1/rankings', { period, limit: 1 }, state.token).then((r) => r.total_branches, () => 0)));
  const found = sizes.findIndex((n) => n > 0);
  return years[found >= 0 ? found : 0];
}

function renderFilters() {
  const { year, quarter, month } = state.period;
  fill($('year'), yearOptions(String(new Date().getFullYear()), year));
  fill($('quarter'), quarterOptions(quarter));
  fill($('month'), monthOptions(month));
  fill($('dimension'), DIMENSIONS.map(([d, zh, en]) => option(d, `${zh} ${en}`, state.dimension)));
  const courts = [...state.courts].sort((a, b) => a[1].localeCompare(b[1], 'zh-CN'));
  if (state.court && !state.courts.has(state.court)) courts.push([state.court, state.court]);
  fill($('court'), option('', '全市 Whole city', state.court), courts.map(([id, name]) => option(id, name, state.court)));
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
  writeQuery({ period, dimension: state.dimension, court: state.court });
  view.reset(state.dimension);
  view.render();
  captions();
  showError(null);
  advanced.show(state.period.year, state.court, state.token);
  const params = { period, dimension: state.dimension, court: state.court, limit: LIMIT };
  followRanking(params, state.token, {
    signal: state.stream.signal,
    onEvent,
    onStatus: (kind) => { setStatus(kind); if (kind === 'live') showError(null); },
    onFailure: (error) => rejected(error) || showError(error), // e.g. 422: retrying will not help
  });
}

function onEvent(type, body) {
  if (type !== 'snapshot' && type !== 'rows') return;
  view.apply(body, type === 'snapshot');
  fill($('as-of'), asOf(body.data_as_of));
  fill($('rulebook'), body.rulebook_version || '—');
  captions();
  if (type === 'rows') {
    const touched = new Set([...body.rows.map((r) => r.branch_id), ...body.removed]);
    if (drill.branchId && touched.has(drill.branchId)) drill.refresh();
    advanced.poke();
  }
}

function openBranch(branchId) {
  drill.open(branchId, { period: periodOf(state.period), court: state.court, token: state.token });
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
// A projector link pasted into an open board changes only the fragment: take its token too.
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(location.hash.slice(1)).has('token')) begin();
});
begin();
