"""A Kafka record as the worker received it, and how a record's own failure is described."""

from dataclasses import dataclass
from typing import Protocol

from shared.contracts import ContractError


@dataclass(frozen=True)
class Delivery:
    """A Kafka record as the worker received it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


def reason_of(err: BaseException) -> str:
    """Why a record was refused, for the dead-letter headers: a contract error says it in its own
    words; anything else names its class, so an operator can tell a bad value from a bug."""
    if isinstance(err, ContractError):
        return str(err)
    message = str(err)[:300]
    return f"{type(err).__name__}: {message}" if message else type(err).__name__


class DeadLetters(Protocol):
    """Where a record that cannot count goes, with the reason."""

    async def send(self, delivery: Delivery, reason: str) -> None: ...
