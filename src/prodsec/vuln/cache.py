"""On-disk cache of loaded OSV databases, keyed by the hash of every file's name and content.

Parsing the two shipped databases takes ~5 s (YAML is most of it); unpickling them ~0.3 s.
The key is the content, so an edited or added advisory is never served stale.
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path

from prodsec.formats import osv

FORMAT = b"prodsec-osv-cache-1"


def default_dir() -> Path:
    """``$XDG_CACHE_HOME/prodsec/osv`` (``~/.cache/prodsec/osv``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "prodsec" / "osv"


def content_key(path: Path) -> str:
    """SHA-256 over the relative names and bytes of every advisory file under ``path``."""
    digest = hashlib.sha256(FORMAT)
    files = sorted(p for p in path.rglob("*") if p.suffix in osv.SUFFIXES) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def load(path: Path, cache_dir: Path | None = None) -> osv.LoadResult:
    """``osv.load(path)``, served from the cache when the content is unchanged."""
    folder = cache_dir or default_dir()
    target = folder / f"{content_key(path)}.pickle"
    if target.is_file():
        try:
            with target.open("rb") as handle:
                result = pickle.load(handle)
            if isinstance(result, osv.LoadResult):
                return result
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass
    result = osv.load(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        temp = target.with_suffix(".tmp")
        temp.write_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        temp.replace(target)
    except OSError:
        pass  # a read-only cache only costs time
    return result
