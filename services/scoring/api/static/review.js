// The review queue (审核): a reviewer's token, the submissions of its reach from
// GET /v1/submissions, evidence read with the token, and approve or decline with a reason. Data
// reaches the page as text only (the CSP's Trusted Types forbid HTML from strings).

const KEY = 'review.token';
const $ = (id) => document.getElementById(id);
const STATUS = { pending: '待审核 pending', approved: '已通过 approved', declined: '未通过 declined', voided: '已作废 voided' };

function el(tag, text, attrs = {}) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  return node;
}

async function call(path, options = {}) {
  const token = sessionStorage.getItem(KEY) || '';
  const headers = { Authorization: `Bearer ${token}`, ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers, cache: 'no-store' });
  if (!response.ok) {
    let detail = `HTTP ${response.status}`;
    try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
    const error = new Error(detail);
    error.status = response.status;
    throw error;
  }
  return response;
}

function showError(message) {
  $('error').textContent = message;
  $('error').hidden = !message;
}

async function openEvidence(file, link) {
  try {
    const blob = await (await call(`/v1/submissions/${file.path}`)).blob();
    link.href = URL.createObjectURL(blob);
    link.download = `${file.sha256.slice(0, 16)}.${file.media_type.split('/')[1]}`;
    link.click();
  } catch (error) {
    showError(`佐证材料无法读取 Evidence cannot be read: ${error.message}`);
  }
}

function evidenceCell(item) {
  const cell = el('td');
  for (const file of item.evidence) {
    const link = el('a', `${file.media_type} (${Math.ceil(file.size / 1024)} KB)`, { href: '#', class: 'evidence' });
    const path = `${item.resource}/${item.id}/evidence/${file.sha256}`;
    link.addEventListener('click', (event) => {
      if (!link.download) {
        event.preventDefault();
        openEvidence({ ...file, path }, link);
      }
    });
    cell.append(link, el('br'));
  }
  if (!item.evidence.length) cell.textContent = '—';
  return cell;
}

function decideCell(item) {
  const cell = el('td');
  if (item.status === 'voided' || item.status === 'approved') {
    cell.textContent = item.reason || '—';
    return cell;
  }
  const form = el('form', undefined, { class: 'decide' });
  const reason = el('input', undefined, { name: 'reason', required: '', maxlength: '500', placeholder: '理由 reason', 'aria-label': `理由 reason ${item.id}` });
  const approve = el('button', '通过 Approve', { type: 'submit', value: 'approve' });
  const decline = el('button', '不通过 Decline', { type: 'submit', value: 'decline' });
  form.append(reason, approve, decline);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const verb = event.submitter ? event.submitter.value : 'approve';
    try {
      await call(`/v1/submissions/${item.resource}/${item.id}:${verb}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ reason: reason.value }),
      });
      form.replaceChildren(el('span', verb === 'approve' ? '已提交：通过 approved' : '已提交：不通过 declined', { class: 'done' }));
      setTimeout(load, 1500); // the queue reads the decision back from the log
    } catch (error) {
      showError(`审核失败 The decision failed: ${error.message}`);
    }
  });
  if (item.reason) cell.append(el('p', `上次理由 Last reason: ${item.reason}`));
  cell.append(form);
  return cell;
}

function row(item) {
  const tr = el('tr', undefined, { 'data-id': item.id });
  tr.append(
    el('td', `${item.id} (${item.resource})`),
    el('td', item.member_id),
    el('td', item.kind),
    el('td', item.occurred_at.slice(0, 16).replace('T', ' ')),
    el('td', STATUS[item.status] || item.status, { class: `state-${item.status}` }),
    evidenceCell(item),
    decideCell(item),
  );
  return tr;
}

async function load() {
  const status = $('status-filter').value;
  try {
    const page = await (await call(`/v1/submissions${status ? `?status=${status}` : ''}`)).json();
    $('submissions').tBodies[0].replaceChildren(...page.items.map(row));
    $('count').textContent = `共 ${page.total} 条 ${page.total} record(s)`;
    showError('');
  } catch (error) {
    if (error.status === 401) return signOut();
    showError(`无法读取 Cannot read the queue: ${error.message}`);
  }
}

function signOut() {
  sessionStorage.removeItem(KEY);
  $('queue').hidden = true;
  $('sign-out').hidden = true;
  $('sign-in').hidden = false;
}

function signedIn() {
  $('sign-in').hidden = true;
  $('queue').hidden = false;
  $('sign-out').hidden = false;
  load();
}

$('sign-in-form').addEventListener('submit', (event) => {
  event.preventDefault();
  sessionStorage.setItem(KEY, $('token').value.trim());
  $('token').value = '';
  signedIn();
});
$('sign-out').addEventListener('click', signOut);
$('refresh').addEventListener('click', load);
$('status-filter').addEventListener('change', load);
if (sessionStorage.getItem(KEY)) signedIn(); else signOut();
