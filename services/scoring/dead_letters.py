"""Kafka adapter for the dead-letter topic."""

from services.scoring.scorer import Delivery
from shared.contracts import DEAD_LETTER
from shared.kafka import KafkaPublisher


class KafkaDeadLetters:
    """Sends a bad record, unchanged (key and value), to the dead-letter topic; the reason and the
    record's origin travel in headers."""

    def __init__(self, publisher: KafkaPublisher):
        self._publisher = publisher

    async def send(self, d: Delivery, reason: str) -> None:
        headers = [
            ("dlq.reason", reason[:1000].encode()),
            ("dlq.topic", d.topic.encode()),
            ("dlq.partition", str(d.partition).encode()),
            ("dlq.offset", str(d.offset).encode()),
        ]
        await self._publisher.publish(DEAD_LETTER.name, d.key, d.value, headers)
