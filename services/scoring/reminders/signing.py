"""Webhook bodies and signatures per format (json, wecom, dingtalk): pure, the time passed in.

json: the CloudEvent as the body; `X-Timestamp` (Unix seconds) and `X-Signature: sha256=<hex>`, the
HMAC-SHA256 under the subscription's secret of `<timestamp>.<body>`. DingTalk group robots: the
timestamp (ms) and `sign` = base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>")) in the query.
WeCom group robots: the key is in the URL itself, with no signature."""

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson

from services.scoring.reminders.rules import DIGEST, DUE

FORMATS = ("json", "wecom", "dingtalk")
ROBOT_TEXT_MAX = 2000  # characters: both robots refuse longer text messages


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One HTTP request to a subscriber."""

    url: str
    body: bytes
    headers: dict[str, str]


def json_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=` and the hex HMAC-SHA256 of `<timestamp>.<body>`: what X-Signature carries."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_json(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (in constant time); it should also refuse stale timestamps."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(json_signature(secret, int(timestamp), body), signature)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature: base64 of HMAC-SHA256(secret, "<timestamp>\\n<secret>")."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def text_of(event: dict[str, Any], short_type: str) -> str:
    """The robot message: Chinese first, then English, one line per item."""
    data = event["data"]
    who = f"{data.get('branch_name') or data['branch_id']} ({data['branch_id']})"
    if short_type == DIGEST:
        lines = [
            f"【本周提醒 Weekly digest】{who} {data['week']}: "
            f"待办 due {len(data['due'])}, 逾期 overdue {len(data['overdue'])}"
        ]
        lines += [f"· 待办 due {_item(i)}" for i in data["due"]]
        lines += [f"· 逾期 overdue {_item(i)}" for i in data["overdue"]]
        text = "\n".join(lines)
    else:
        head = "【即将到期 Due】" if short_type == DUE else "【已逾期 Overdue】"
        text = f"{head}{who}: {_item(data)}"
    return text[:ROBOT_TEXT_MAX]


def _item(item: dict[str, Any]) -> str:
    closes, done = item["closes_on"], f"{item['done']}/{item['needed']}"
    return f"{item['label']} {item['window']}, 截止 closes {closes}, 完成 done {done}"


def outgoing(
    fmt: str, url: str, secret: str | None, event: dict[str, Any], short_type: str, now_ms: int
) -> Outgoing:
    """The request a delivery sends; the reminder id rides in Idempotency-Key in every format."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": event["id"]}
    if fmt == "json":
        body = orjson.dumps(event)
        if secret:
            timestamp = now_ms // 1000
            headers["X-Timestamp"] = str(timestamp)
            headers["X-Signature"] = json_signature(secret, timestamp, body)
        return Outgoing(url, body, headers)
    body = orjson.dumps({"msgtype": "text", "text": {"content": text_of(event, short_type)}})
    if fmt == "dingtalk" and secret:
        joiner = "&" if "?" in url else "?"
        url = f"{url}{joiner}timestamp={now_ms}&sign={quote(dingtalk_sign(secret, now_ms), safe='')}"
    return Outgoing(url, body, headers)
