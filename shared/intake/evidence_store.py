"""Evidence files (佐证材料) in MongoDB, every read an `_id` lookup.

GridFS works against FerretDB 1.24 (pymongo's AsyncGridFSBucket uploads and downloads), but it
reads a file's chunks with a `files_id` filter, which FerretDB answers by scanning the whole
chunks collection: measured on the local stack, one 1 MB download took 0.4 s with one file stored
and 9.7 s with thirty. So a file is stored content-addressed instead: its chunks under
`<sha256>:<n>` and then its head under `<sha256>` (written last: a head means every chunk is
there), and each record's list of files under `<stream>:<event id>` in a second collection.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

CHUNK_BYTES = 255 * 1024  # GridFS's own chunk size: well under the document limit
MAX_FILES = 5  # per record


@dataclass(frozen=True)
class EvidenceFile:
    """One attached file: what its content is (by its magic bytes), its size and hash."""

    sha256: str
    media_type: str
    size: int


class TooMany(Exception):
    """The record has MAX_FILES files already."""


async def _insert_once(collection: AsyncCollection, doc: dict) -> None:
    """Insert, taking a document already there under that `_id` as this one (content-addressed)."""
    try:
        await collection.insert_one(doc)
    except DuplicateKeyError:
        pass


class MongoEvidenceStore:
    """Files by their SHA-256, and the files attached to each record."""

    def __init__(self, files: AsyncCollection, attached: AsyncCollection):
        self._files, self._attached = files, attached

    async def put(self, file: EvidenceFile, content: bytes) -> None:
        """Store the content once (a second upload of the same bytes finds it stored)."""
        if await self._files.find_one({"_id": file.sha256}, {"_id": 1}) is not None:
            return
        chunks = [content[i : i + CHUNK_BYTES] for i in range(0, len(content), CHUNK_BYTES)]
        for n, chunk in enumerate(chunks):
            await _insert_once(self._files, {"_id": f"{file.sha256}:{n}", "data": chunk})
        head = {"_id": file.sha256, "media_type": file.media_type, "size": file.size, "chunks": len(chunks)}
        await _insert_once(self._files, head)

    async def get(self, sha256: str) -> tuple[str, bytes] | None:
        """(media type, content) of a stored file, or None."""
        head = await self._files.find_one({"_id": sha256})
        if head is None:
            return None
        parts = [await self._files.find_one({"_id": f"{sha256}:{n}"}) for n in range(head["chunks"])]
        return head["media_type"], b"".join(bytes(p["data"]) for p in parts if p is not None)

    async def listed(self, key: str) -> list[EvidenceFile]:
        """The files attached to the record `key` ("<stream>:<event id>"), in the order attached."""
        doc = await self._attached.find_one({"_id": key})
        return [EvidenceFile(**f) for f in doc["files"]] if doc else []

    async def attach(
        self, key: str, file: EvidenceFile, before_change: Callable[[], Awaitable[None]]
    ) -> bool:
        """Add `file` to the record's list (False: it was there already); TooMany past MAX_FILES.
        `before_change` runs once the change is checked, just before it (the audit hook).
        Concurrent attaches are serialised by the list's length (compare and set, retried)."""
        for _ in range(10):
            files = await self.listed(key)
            if any(f.sha256 == file.sha256 for f in files):
                return False
            if len(files) >= MAX_FILES:
                raise TooMany(f"a record holds at most {MAX_FILES} files")
            await before_change()
            entry = {"sha256": file.sha256, "media_type": file.media_type, "size": file.size}
            if not files:
                try:
                    await self._attached.insert_one({"_id": key, "n": 1, "files": [entry]})
                    return True
                except DuplicateKeyError:
                    continue
            done = await self._attached.update_one(
                {"_id": key, "n": len(files)}, {"$push": {"files": entry}, "$inc": {"n": 1}}
            )
            if done.modified_count:
                return True
        raise TooMany("the record's files are changing too fast: try again")
