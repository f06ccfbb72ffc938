"""The score feed: every ledger's scores, published after each write, read by the leaders' API.

A compacted topic keyed by generation and ledger: its latest record per key is that ledger's
current summary, so a reader that starts from the beginning has every score of a generation,
and a reader at the end sees each change within milliseconds. MongoDB stays the store of
record; the feed is how readers learn what changed without scanning it (FerretDB cannot
serve anything but `_id` lookups from an index).
"""

from collections.abc import Awaitable, Callable

import msgspec

from services.scoring.core import summary as codec
from services.scoring.core.summary import LedgerSummary, MemberSummary
from shared.contracts import Topic
from shared.kafka import KafkaPublisher

SCORE_FEED = Topic(
    "scoring.scores.v2.<database>",  # one feed per score database; v2: offsets of the routed topics
    key="g<generation>|<branch id>|<stream>|<year>; a member's: "
    "g<generation>|m|<member id>|<branch id>|<stream>|<year>",
    value="JSON: the ledger's LedgerSummary, or a member's MemberSummary (services/scoring/core/summary.py)",
)
# Compacted: a key's older records are superseded by its newest one.
SCORE_FEED_CONFIG = {"cleanup.policy": "compact", "retention.ms": "-1", "min.compaction.lag.ms": "60000"}


def feed_topic(database: str) -> str:
    """The feed of the scores kept in `database` (database names are valid topic names)."""
    return SCORE_FEED.name.replace("<database>", database)


def feed_key(generation: int, ledger_id: str) -> str:
    return f"g{generation}|{ledger_id}"


def encode(generation: int, summary: LedgerSummary) -> bytes:
    """The feed record of a summary published under `generation`."""
    return codec.encode(msgspec.structs.replace(summary, generation=generation))


def decode(value: bytes) -> LedgerSummary:
    return codec.decode(value)


def encode_member(generation: int, summary: MemberSummary) -> bytes:
    """The feed record of a member summary published under `generation`."""
    return codec.encode_member(msgspec.structs.replace(summary, generation=generation))


def decode_member(value: bytes) -> MemberSummary:
    return codec.decode_member(value)


_MEMBER_START = b'{"_id":"' + codec.MEMBER_PREFIX.encode()


def is_member_record(value: bytes) -> bool:
    """Whether a feed record is a member's (its `_id`, encoded first, has a member id's five parts),
    told apart without decoding it."""
    if not value.startswith(_MEMBER_START):
        return False
    end = value.find(b'"', len(_MEMBER_START))
    return end > 0 and value.count(b"|", 8, end) == 4


class KafkaScoreFeed:
    """Publishes ledger summaries of one generation; returns once the broker has them."""

    def __init__(self, publisher: KafkaPublisher, topic: str):
        self._publisher, self._topic = publisher, topic

    async def publish(self, generation: int, summaries: list[LedgerSummary]) -> None:
        await self.publish_encoded([(feed_key(generation, s.id), encode(generation, s)) for s in summaries])

    async def publish_members(self, generation: int, summaries: list[MemberSummary]) -> None:
        await self.publish_encoded(
            [(feed_key(generation, s.id), encode_member(generation, s)) for s in summaries]
        )

    async def send_encoded(self, records: list[tuple[str, bytes]]) -> Callable[[], Awaitable[None]]:
        """Hand encoded records to the producer without waiting; the returned confirm() waits for
        the broker (the worker confirms before it acknowledges what the records came from)."""
        return await self._publisher.send_many(self._topic, records)

    async def publish_encoded(self, records: list[tuple[str, bytes]]) -> None:
        """Publish (key, value) records already encoded (and checked against the size limit)."""
        if records:
            await self._publisher.publish_many(self._topic, records)
