"""Load the knowledge base: YAML files → validated → plain data, cached by content hash.

Why a cache: validating ~20 YAML files with pydantic costs a few hundred milliseconds and the
imports of PyYAML and pydantic another ~150 ms, while a CLI query should answer in a few tens of
milliseconds. The validated knowledge is stored as ``marshal`` data in the user's cache
directory, together with the exact bytes it was built from (every knowledge file's name and
content, the Python version); it is read only when those bytes are still the same, so a stale
cache is never read. The file is named by a CRC-32 of the bytes, which only spreads the
entries: the comparison decides. (A SHA-256 key cost the CLI the import of OpenSSL's
``_hashlib`` and the hashing, ~4 ms of a 60 ms ``prodsec check``.) The knowledge base's
``version`` is still the SHA-256 of the files, computed when the cache is built.

All errors of all files are collected and raised together (``KnowledgeBaseError``), each with
the file and the path inside it, so an author fixes a file in one pass.
"""

from __future__ import annotations

import marshal
import os
import sys
from pathlib import Path

from prodsec.errors import KnowledgeBaseError, KnowledgeError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing on the CLI's fast path
if TYPE_CHECKING:
    from typing import Any

DATA_DIR = Path(__file__).parent / "data"
FORMAT_VERSION = "1"
SECTIONS = ("regulations", "standards", "mappings")
__all__ = ["KnowledgeBaseError", "KnowledgeError", "build", "knowledge_files", "load_data"]


def knowledge_files(data_dir: Path = DATA_DIR) -> list[Path]:
    """Every knowledge file, in a stable order: the vocabulary first, then each section."""
    files = [data_dir / "vocabulary.yaml", data_dir / "changes.yaml"]
    for section in SECTIONS:
        files.extend(sorted((data_dir / section).glob("*.yaml")))
    return files


def source_bytes(files: list[Path], data_dir: Path = DATA_DIR) -> bytes:
    """What the validated knowledge is built from: the format, the Python version (marshal's
    format follows it) and every file's name and content, each followed by a NUL (the layout
    the ``version`` has always been hashed from)."""
    parts = [FORMAT_VERSION.encode(), sys.version.encode()]
    for path in files:
        parts += [str(path.relative_to(data_dir)).encode(), b"\0", path.read_bytes(), b"\0"]
    return b"".join(parts)


def content_hash(source: bytes) -> str:
    """The SHA-256 of the knowledge's source bytes: its ``version``, recorded with assessments."""
    import hashlib

    return hashlib.sha256(source).hexdigest()


def cache_dir() -> Path:
    explicit = os.environ.get("PRODSEC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "prodsec"


def load_data(data_dir: Path = DATA_DIR, use_cache: bool = True) -> dict[str, Any]:
    """The validated knowledge base as plain data (dicts, lists, strings, ISO dates)."""
    files = knowledge_files(data_dir)
    source = source_bytes(files, data_dir)
    cached = cache_dir() / f"knowledge-{cache_name(source)}.marshal"
    if use_cache:
        data: dict[str, Any] | None = read_cached(cached, source)
        if data is not None:
            return data
    data = build(files, data_dir)
    data["version"] = content_hash(source)[:16]
    if use_cache:
        write_cached(cached, source, data)
    return data


def cache_name(source: bytes) -> str:
    """A file name for the cache entry of ``source``: CRC-32 and length. Two sources may share
    it; ``read_cached`` compares the bytes, so they only replace each other's entry."""
    import zlib

    return f"{zlib.crc32(source):08x}-{len(source):x}"


def read_cached(path: Path, source: bytes) -> Any:
    """The value cached at ``path`` for exactly these source bytes; None when there is none,
    it was built from other bytes, or it is unreadable."""
    try:
        saved, value = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return None
    return value if saved == source else None


def write_cached(path: Path, source: bytes, value: Any) -> bool:
    """Cache ``value`` with the bytes it was made from; False when marshal cannot hold it
    (a YAML timestamp is a ``datetime``) and nothing was written."""
    try:
        payload = marshal.dumps((source, value))
    except ValueError:
        return False
    write_atomic(path, payload)
    return True


def write_atomic(path: Path, payload: bytes) -> None:
    """Write via a temporary file and rename, so a reader never sees half a cache file."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
        os.replace(tmp, path)
    except OSError:
        pass  # a read-only cache directory only costs speed


def build(files: list[Path], data_dir: Path = DATA_DIR) -> dict[str, Any]:
    """Parse and validate every file; raise ``KnowledgeBaseError`` listing all problems."""
    from prodsec.knowledge import validate

    return validate.validate_files(files, data_dir)
