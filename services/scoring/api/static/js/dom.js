// Building DOM nodes from data: every value lands as a text node or an attribute, never as HTML.

/** h('td', {class: 'num', data: {col: 'total'}}, '1.25') → <td class="num" data-col="total">1.25</td> */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'data') Object.assign(node.dataset, value);
    else if (key === 'on') for (const [type, fn] of Object.entries(value)) node.addEventListener(type, fn);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** A Chinese label with its English beside it: 排名 <span class="en">Rank</span>. */
export function bi(zh, en) {
  return [zh + ' ', h('span', { class: 'en' }, en)];
}

export function fill(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export function score(value) {
  return Number(value ?? 0).toFixed(2);
}

export function percent(share) {
  return `${Math.round(Number(share ?? 0) * 100)}%`;
}

const AS_OF = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

/** An ISO instant in the courts' own time zone, or a dash. */
export function asOf(iso) {
  if (!iso) return '—';
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? '—' : `${AS_OF.format(at)} (UTC+8)`;
}

export const $ = (id) => document.getElementById(id);
