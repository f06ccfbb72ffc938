// The header's status: "live" only while updates arrive; otherwise how long the board has been idle.

const IDLE_AFTER_MS = 60000; // no change for this long: the stream is open but nothing is flowing
const TIME = new Intl.DateTimeFormat('zh-CN', {
  timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});

export class LiveStatus {
  constructor(node) {
    Object.assign(this, { node, open: false, last: 0, since: 0, timer: 0 });
  }

  /** A new view: nothing has arrived for it yet. */
  reset() {
    Object.assign(this, { last: 0, since: 0 });
  }

  /** The stream accepted. Its snapshot is not a flow of updates: idle until a change arrives. */
  connected() {
    this.open = true;
    if (!this.last && !this.since) this.since = Date.now();
    this.render();
  }

  /** A change arrived on the stream. */
  updated() {
    this.last = Date.now();
    this.render();
  }

  set(kind, text) {
    this.open = false;
    clearTimeout(this.timer);
    this.show(kind, text, '');
  }

  stop() {
    this.open = false;
    clearTimeout(this.timer);
  }

  render() {
    clearTimeout(this.timer);
    if (!this.open) return;
    const quiet = Date.now() - this.last;
    if (this.last && quiet < IDLE_AFTER_MS) {
      this.show('live', '实时 Live', '最近一分钟内有更新 Updates arrived in the last minute');
      this.timer = setTimeout(() => this.render(), IDLE_AFTER_MS - quiet + 50);
      return;
    }
    const at = TIME.format(new Date(this.last || this.since));
    this.show('idle', `空闲 Idle since ${at} (UTC+8)`,
      '已连接，但一分钟以上没有新的更新 Connected, but nothing changed for a minute or more');
  }

  show(kind, text, title) {
    this.node.className = `status ${kind}`;
    this.node.textContent = text;
    this.node.title = title;
  }
}
