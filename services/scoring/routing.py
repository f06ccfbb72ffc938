"""Where a record goes to be scored: the worker's own repartition topics, keyed by branch.

Producers may put one branch's records on any partition of an input topic (another client's
partitioner, an explicit partition, partitions added later). The worker re-keys every record by
its envelope's subject onto a topic of its own, written only by its own producer (one
partitioner), so that each ledger again has one ordered source and one writer, and live scoring
and a rescore read the same records in the same order.
"""

import re

import orjson

from shared.contracts import ID_PATTERN, TOPICS, ContractError, Stream, Topic

ROUTED = Topic(
    "<app id>.routed.<stream>.v1",
    key="branch id (the envelope's subject), UTF-8, partitioned by the worker's own producer",
    value="the input record's bytes, unchanged; headers origin.topic, origin.partition, origin.offset",
)
STREAM_OF_INPUT = {t.name: s for s, t in TOPICS.items()}
ORIGIN_HEADERS = ("origin.topic", "origin.partition", "origin.offset")
_ID = re.compile(ID_PATTERN)


def routed_topic(app_id: str, stream: Stream) -> str:
    """The repartition topic of one stream for the workers of `app_id`."""
    return ROUTED.name.replace("<app id>", app_id).replace("<stream>", stream.value)


def routed_topics(app_id: str) -> dict[str, Stream]:
    """Every repartition topic of `app_id`, with its stream."""
    return {routed_topic(app_id, s): s for s in Stream}


def subject_of(value: bytes | None) -> str:
    """The branch a record belongs to, read cheaply (the scorer validates the whole record later);
    raise ContractError when the record has no usable subject."""
    try:
        envelope = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        raise ContractError("invalid envelope: not JSON") from None
    subject = envelope.get("subject") if isinstance(envelope, dict) else None
    if not isinstance(subject, str) or not _ID.fullmatch(subject):
        raise ContractError("invalid envelope: subject must be a branch id (the record's routing key)")
    return subject


def origin_headers(topic: str, partition: int, offset: int) -> list[tuple[str, bytes]]:
    """Where a routed record was first written: dead letters and operators name it."""
    return list(
        zip(ORIGIN_HEADERS, (topic.encode(), str(partition).encode(), str(offset).encode()), strict=True)
    )
