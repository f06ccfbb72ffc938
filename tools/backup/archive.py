"""The backup archive: a tar of a manifest, each topic partition's records and each collection's documents.

manifest.json     what was taken and when: topics (partitions, settings, offsets), consumer groups'
                  committed offsets, the database's collections (counts, indexes)
kafka/T/P.jsonl   partition P of topic T, one record a line: offset, timestamp, key, value, headers
mongo/C.bson      collection C's documents, BSON one after another (types kept exactly)
"""

import base64
import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import bson
from bson import CodecOptions
from bson.raw_bson import RawBSONDocument


@dataclass(frozen=True)
class Record:
    """One Kafka record as backed up."""

    offset: int
    timestamp: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    def line(self) -> bytes:
        def b64(data: bytes | None) -> str | None:
            return None if data is None else base64.b64encode(data).decode()

        fields = {
            "o": self.offset,
            "t": self.timestamp,
            "k": b64(self.key),
            "v": b64(self.value),
            "h": [[k, b64(v)] for k, v in self.headers],
        }
        return json.dumps(fields, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def parse(cls, line: bytes) -> "Record":
        f = json.loads(line)

        def raw(text: str | None) -> bytes | None:
            return None if text is None else base64.b64decode(text)

        headers = [(k, raw(v) or b"") for k, v in f["h"]]
        return cls(f["o"], f["t"], raw(f["k"]), raw(f["v"]), headers)


def add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def partition_member(topic: str, partition: int) -> str:
    return f"kafka/{topic}/{partition}.jsonl"


def collection_member(name: str) -> str:
    return f"mongo/{name}.bson"


def read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(member(tar, "manifest.json"))
    return manifest


def member(tar: tarfile.TarFile, name: str) -> bytes:
    extracted = tar.extractfile(name)
    assert extracted is not None, name
    return extracted.read()


def records(tar: tarfile.TarFile, topic: str, partition: int) -> Iterator[Record]:
    for line in member(tar, partition_member(topic, partition)).splitlines():
        yield Record.parse(line)


def documents(tar: tarfile.TarFile, collection: str) -> list[dict[str, Any]]:
    return list(bson.decode_all(member(tar, collection_member(collection))))


def raw_documents(tar: tarfile.TarFile, collection: str) -> list[RawBSONDocument]:
    """The documents as their exact bytes, to insert unchanged."""
    raw = CodecOptions(document_class=RawBSONDocument)
    return list(bson.decode_all(member(tar, collection_member(collection)), raw))
