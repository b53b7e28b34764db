"""Load the knowledge base: YAML files → validated → plain data, cached by content hash.

Why a cache: validating ~20 YAML files with pydantic costs a few hundred milliseconds and the
imports of PyYAML and pydantic another ~150 ms, while a CLI query should answer in a few tens of
milliseconds. The validated knowledge is stored as ``marshal`` data in the user's cache
directory under the SHA-256 of every knowledge file (and the Python version); any edit to any
file changes the key, so a stale cache is never read.

All errors of all files are collected and raised together (``KnowledgeBaseError``), each with
the file and the path inside it, so an author fixes a file in one pass.
"""

from __future__ import annotations

import hashlib
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


def content_hash(files: list[Path], data_dir: Path = DATA_DIR) -> str:
    digest = hashlib.sha256(FORMAT_VERSION.encode())
    digest.update(sys.version.encode())
    for path in files:
        digest.update(str(path.relative_to(data_dir)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def cache_dir() -> Path:
    explicit = os.environ.get("PRODSEC_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "prodsec"


def load_data(data_dir: Path = DATA_DIR, use_cache: bool = True) -> dict[str, Any]:
    """The validated knowledge base as plain data (dicts, lists, strings, ISO dates)."""
    files = knowledge_files(data_dir)
    key = content_hash(files, data_dir)
    cached = cache_dir() / f"knowledge-{key[:32]}.marshal"
    if use_cache:
        try:
            data: dict[str, Any] = marshal.loads(cached.read_bytes())
            return data
        except (OSError, EOFError, ValueError, TypeError):
            pass
    data = build(files, data_dir)
    data["version"] = key[:16]
    if use_cache:
        write_atomic(cached, marshal.dumps(data))
    return data


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
