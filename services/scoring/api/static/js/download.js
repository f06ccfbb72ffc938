// Downloads of what the board shows: the ranking of the current view as CSV or XLSX, and the
// year's report as PDF. The API takes the token only as a bearer header (never in a URL), so a
// plain link cannot fetch these: the file is fetched with the header, then handed to the browser
// as a Blob through an object URL on a temporary <a download>.

import { getFile } from './api.js';
import { $, fill } from './dom.js';

/** The name the server gave the file: RFC 5987's UTF-8 `filename*` (the Chinese title), else `filename`. */
export function fileName(disposition, fallback) {
  const extended = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(disposition || '');
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim());
    } catch {
      // a malformed escape: the plain name below
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"/i.exec(disposition || '');
  return (plain && plain[1]) || fallback;
}

function save(blob, name) {
  const href = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60000); // the browser has taken the file by then
}

/**
 * Bind the download buttons. `view()` answers the board's current { period, year, dimension,
 * court, token }; `onError(error, node)` shows a failure (and ends the session on 401/403).
 */
export function bindDownloads(view, onError) {
  const status = $('download-status');
  const files = {
    'download-csv': (v) => ['/v1/exports/rankings', { period: v.period, dimension: v.dimension, court: v.court, format: 'csv' }, 'ranking.csv'],
    'download-xlsx': (v) => ['/v1/exports/rankings', { period: v.period, dimension: v.dimension, court: v.court, format: 'xlsx' }, 'ranking.xlsx'],
    'download-pdf': (v) => ['/v1/reports/annual', { year: v.year, court: v.court }, 'annual-report.pdf'],
  };
  for (const [id, what] of Object.entries(files)) {
    const button = $(id);
    button.addEventListener('click', async () => {
      const [path, params, fallback] = what(view());
      button.disabled = true;
      button.setAttribute('aria-busy', 'true');
      fill(status, '准备中 Preparing…');
      try {
        const { blob, disposition } = await getFile(path, params, view().token);
        const name = fileName(disposition, fallback);
        save(blob, name);
        fill(status, `已下载 Downloaded: ${name}`);
      } catch (error) {
        onError(error, status);
      } finally {
        button.disabled = false;
        button.removeAttribute('aria-busy');
      }
    });
  }
}
