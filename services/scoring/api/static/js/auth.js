// The reader token: asked for once, kept in this tab's sessionStorage, or handed over in #token=.

const KEY = 'board.readerToken';

/** The token from a `#token=` fragment (then wiped from the address bar) or from this tab. */
export function takeToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get('token');
  if (given) {
    sessionStorage.setItem(KEY, given.trim());
    fragment.delete('token');
    const rest = fragment.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  }
  return sessionStorage.getItem(KEY) || '';
}

export function keepToken(token) {
  sessionStorage.setItem(KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}
