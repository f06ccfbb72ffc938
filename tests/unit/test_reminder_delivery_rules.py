"""Webhook signatures, robot formats and the destination allow-list (pure)."""

import base64
import hashlib
import hmac
import ipaddress
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest

from services.scoring.reminders.allowlist import Allowlist, NotAllowed, check, destination
from services.scoring.reminders.signing import dingtalk_sign, json_signature, outgoing, verify_json

EVENT = {
    "id": "reminder.due:b-1:lecture_hall:2024-03",
    "type": "cn.court.partybuilding.reminder.due.v1",
    "subject": "b-1",
    "data": {
        "branch_id": "b-1",
        "branch_name": "民一庭党支部",
        "label": "政治理论及业务学习大讲堂 lecture hall",
        "window": "2024-03",
        "closes_on": "2024-03-31",
        "done": 0,
        "needed": 1,
    },
}
SECRET = "s3cret-s3cret-s3cret"


def test_json_deliveries_are_signed_over_timestamp_and_body():
    sent = outgoing("json", "http://127.0.0.1:9/hook", SECRET, EVENT, "reminder.due", 1_711_600_000_123)
    assert sent.headers["Idempotency-Key"] == EVENT["id"]
    assert sent.headers["X-Timestamp"] == "1711600000"
    expected = hmac.new(SECRET.encode(), b"1711600000." + sent.body, hashlib.sha256).hexdigest()
    assert sent.headers["X-Signature"] == f"sha256={expected}"
    assert verify_json(SECRET, "1711600000", sent.body, sent.headers["X-Signature"])
    assert not verify_json(SECRET, "1711600001", sent.body, sent.headers["X-Signature"])
    assert not verify_json("another-secret-xx", "1711600000", sent.body, sent.headers["X-Signature"])
    assert not verify_json(SECRET, "1711600000", sent.body + b" ", sent.headers["X-Signature"])
    assert orjson.loads(sent.body) == EVENT


def test_json_signature_is_stable():
    assert json_signature("k", 1, b"{}") == "sha256=" + hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest()


def test_dingtalk_signs_in_the_query_as_its_robot_documents():
    url = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    sent = outgoing("dingtalk", url, SECRET, EVENT, "reminder.due", 1_711_600_000_123)
    query = parse_qs(urlsplit(sent.url).query)
    assert query["access_token"] == ["abc"] and query["timestamp"] == ["1711600000123"]
    mac = hmac.new(SECRET.encode(), f"1711600000123\n{SECRET}".encode(), hashlib.sha256).digest()
    assert query["sign"] == [base64.b64encode(mac).decode()] == [dingtalk_sign(SECRET, 1_711_600_000_123)]
    body = orjson.loads(sent.body)
    assert body["msgtype"] == "text" and "民一庭党支部" in body["text"]["content"]
    assert "即将到期 Due" in body["text"]["content"]


def test_wecom_posts_text_to_its_keyed_url_unsigned():
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k-1"
    sent = outgoing("wecom", url, None, EVENT, "reminder.overdue", 0)
    assert sent.url == url and "X-Signature" not in sent.headers
    assert sent.headers["Idempotency-Key"] == EVENT["id"]
    assert "已逾期 Overdue" in orjson.loads(sent.body)["text"]["content"]


LOCAL = Allowlist.parse("127.0.0.0/8, ::1/128, localhost, *.hooks.example.org")


@pytest.mark.parametrize(
    ("host", "address", "allowed"),
    [
        ("localhost", "127.0.0.1", True),
        ("127.0.0.1", "127.0.0.1", True),
        ("x", "::ffff:127.0.0.1", True),  # an IPv4-mapped address is judged as the IPv4 one
        ("x", "10.0.0.1", False),
        ("x", "169.254.169.254", False),  # cloud metadata
        ("x", "0.0.0.0", False),  # reaches the local host on Linux, yet no listed network holds it
        ("a.hooks.example.org", "93.184.216.34", True),  # a listed name at a public address
        ("a.hooks.example.org", "10.1.2.3", False),  # a listed name rebound into the private network
        ("hooks.example.org", "93.184.216.34", False),  # "*." lists subdomains only
        ("evil.example.org", "93.184.216.34", False),
    ],
)
def test_the_allow_list_judges_every_resolved_address(host, address, allowed):
    assert LOCAL.allows_address(host, ipaddress.ip_address(address)) is allowed


def test_nothing_is_allowed_by_default_and_one_bad_address_refuses_a_name():
    with pytest.raises(NotAllowed):
        check(Allowlist.parse(""), "localhost", [ipaddress.ip_address("127.0.0.1")])
    with pytest.raises(NotAllowed):
        check(LOCAL, "x", [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.0.0.1")])
    with pytest.raises(NotAllowed):
        check(LOCAL, "x", [])


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "http://user:pw@127.0.0.1/", "http:///x", "gopher://a"]
)
def test_only_http_urls_without_credentials(url):
    with pytest.raises(NotAllowed):
        destination(url)


def test_destination_ports():
    assert destination("https://a.hooks.example.org/x") == ("a.hooks.example.org", 443)
    assert destination("http://[::1]:8080/x") == ("::1", 8080)
