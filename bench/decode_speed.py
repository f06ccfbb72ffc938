"""`python -m bench.decode_speed [--records N] [--rounds R]`: records/s of the contract's decoder
(pydantic parse_event) and the worker's fast one (msgspec decode_event), over the same records in
one run, and their ratio; then the same for the worker's whole decode step (topic, time window,
fact and its content digest). The records are what the intake services publish: the bench's
sample of the demo year, with one void in ten. The best of R rounds counts (the least disturbed
by other processes), in records per CPU second: records/s on one core."""

import argparse
import gc
import time
from collections.abc import Callable
from datetime import UTC, datetime

from bench.dataset import bench_city, envelope, sample
from services.scoring.core.facts import fact_of
from services.scoring.delivery import Delivery
from services.scoring.scorer import decode
from shared.contracts import (
    TOPICS,
    RecordVoided,
    Stream,
    build_event,
    check_time_window,
    parse_event,
)
from shared.fast_contracts import decode_event

STREAMS = {t.name: s for s, t in TOPICS.items()}


def records(count: int) -> list[Delivery]:
    """`count` records as the intake services publish them, one in ten a void."""
    now = datetime.now(UTC)
    out = []
    for i, (stream, record) in enumerate(sample(bench_city(1), count, "decode")):
        topic = TOPICS[Stream(stream)].name
        if i % 10 == 9:
            void = RecordVoided(
                event_id=record["id"],
                branch_id=record["branch_id"],
                record_occurred_at=next(v for k, v in record.items() if k.endswith("_at")),
                reason="entered twice by mistake",
            )
            event = build_event(f"v-{i}", stream, Stream(stream), void, now)
            key, value = event.subject, event.model_dump_json().encode()
        else:
            key, value = envelope(stream, record, now)
        out.append(Delivery(topic, 0, i, key.encode(), value))
    return out


def rate(step: Callable[[Delivery], object], batch: list[Delivery], rounds: int) -> float:
    """Records per CPU second of `step` over `batch`, the best of `rounds`. CPU time, not wall
    time: on a shared machine the process is descheduled for stretches no decoder is to blame for."""
    best = float("inf")
    for _ in range(rounds):
        gc.collect()
        start = time.process_time()
        for d in batch:
            step(d)
        best = min(best, time.process_time() - start)
    return len(batch) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    batch = records(args.records)
    now = datetime.now(UTC)

    def contract_step(d: Delivery) -> object:  # the worker's decode step as it was, on pydantic
        event = parse_event(d.value)
        check_time_window(event.payload, now)
        return fact_of(event)

    rows = [
        (
            "envelope and payload",
            rate(lambda d: parse_event(d.value), batch, args.rounds),
            rate(lambda d: decode_event(d.value), batch, args.rounds),
        ),
        (
            "worker decode step",
            rate(contract_step, batch, args.rounds),
            rate(lambda d: decode(d, STREAMS, now), batch, args.rounds),
        ),
    ]
    print(f"{len(batch)} records, best of {args.rounds} rounds, records per CPU second")
    print(f"{'':<22}{'pydantic rec/s':>16}{'msgspec rec/s':>16}{'ratio':>8}")
    for name, slow, fast in rows:
        print(f"{name:<22}{slow:>16,.0f}{fast:>16,.0f}{fast / slow:>7.1f}x")


if __name__ == "__main__":
    main()
