// The scoring API with the viewer's token: JSON reads, and the ranking stream read with fetch().
// EventSource cannot send an Authorization header, and a token in the URL would end up in logs.

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

function url(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value) query.set(key, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}

async function failure(response) {
  let detail = '';
  try {
    detail = (await response.json()).detail || '';
  } catch {
    // not problem+json: the status says enough
  }
  return new ApiError(response.status, detail);
}

export async function getJSON(path, params, token, signal) {
  const response = await fetch(url(path, params), {
    headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    cache: 'no-store',
    signal,
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** A file the API answers (an export, a report), with its Content-Disposition. */
export async function getFile(path, params, token, signal) {
  const response = await fetch(url(path, params), {
    headers: { Authorization: `Bearer ${token}` },
    cache: 'no-store',
    signal,
  });
  if (!response.ok) throw await failure(response);
  return { blob: await response.blob(), disposition: response.headers.get('content-disposition') || '' };
}

/** Dispatch each Server-Sent Event of `text` lines; return the unfinished tail. */
function parse(buffer, pending, onEvent) {
  const lines = buffer.split(/\r\n|\r|\n/);
  const tail = lines.pop();
  for (const line of lines) {
    if (line === '') {
      if (pending.data.length) onEvent(pending.type || 'message', pending.data.join('\n'));
      pending.type = '';
      pending.data = [];
      continue;
    }
    if (line.startsWith(':')) continue; // a comment: the server's heartbeat
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') pending.type = value;
    else if (field === 'data') pending.data.push(value);
  }
  return tail;
}

/**
 * Read an event stream until it ends, `signal` aborts, or nothing (not even a heartbeat) arrives
 * for `idleMs`. Calls onOpen() once the server accepted, then onEvent(type, data) per event.
 */
export async function readEvents(path, params, token, { signal, onOpen, onEvent, idleMs = 45000 }) {
  const local = new AbortController();
  const stop = () => local.abort();
  signal.addEventListener('abort', stop, { once: true });
  let idle = setTimeout(stop, idleMs);
  try {
    const response = await fetch(url(path, params), {
      headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
      cache: 'no-store',
      signal: local.signal,
    });
    if (!response.ok) throw await failure(response);
    onOpen();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const pending = { type: '', data: [] };
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      clearTimeout(idle);
      idle = setTimeout(stop, idleMs);
      buffer = parse(buffer + value, pending, onEvent);
    }
  } finally {
    clearTimeout(idle);
    signal.removeEventListener('abort', stop);
  }
}
