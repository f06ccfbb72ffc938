// Following the ranking stream for as long as the board shows it: reconnect with backoff.

import { ApiError, readEvents } from './api.js';

const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 30000;

/**
 * Read /v1/rankings/stream until `signal` aborts. Every (re)connection starts with a snapshot.
 * onStatus('connecting' | 'live' | 'reconnecting' | 'error'); onFailure(error) when retrying is
 * pointless (a 4xx such as a rejected token or an invalid court id).
 */
export async function followRanking(params, token, { signal, onEvent, onStatus, onFailure }) {
  let delay = FIRST_RETRY_MS;
  while (!signal.aborted) {
    onStatus('connecting');
    try {
      await readEvents('/v1/rankings/stream', params, token, {
        signal,
        onOpen: () => { onStatus('live'); delay = FIRST_RETRY_MS; },
        onEvent: (type, data) => onEvent(type, JSON.parse(data)),
      });
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status < 500 && error.status !== 429) {
        onStatus('error');
        onFailure(error);
        return;
      }
    }
    if (signal.aborted) return;
    onStatus('reconnecting');
    await new Promise((resolve) => {
      setTimeout(resolve, delay);
      signal.addEventListener('abort', resolve, { once: true });
    });
    delay = Math.min(delay * 2, LAST_RETRY_MS);
  }
}
