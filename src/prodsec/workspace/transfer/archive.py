"""Zip archives read within bounds (``ArchiveLimits``), whatever their directory says."""

from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from prodsec.workspace.transfer.common import ArchiveError, ArchiveTooLarge


@dataclass(frozen=True)
class ArchiveLimits:
    """How far an archive (backup, export) may expand. A zip's directory states each member's
    sizes; they are checked before anything is read and enforced again while streaming."""

    max_members: int = 200_000
    max_member_bytes: int = 1 << 30  # one table file or evidence file (evidence: 50 MiB)
    max_total_bytes: int = 8 << 30  # the whole archive, uncompressed
    max_ratio: int = 250  # uncompressed : compressed, per member and overall
    ratio_floor: int = 1 << 20  # below this size a member may compress better (tiny JSON)

    @classmethod
    def from_env(cls) -> ArchiveLimits:
        """``PRODSEC_ARCHIVE_MAX_BYTES`` raises (or lowers) the total for large workspaces."""
        total = os.environ.get("PRODSEC_ARCHIVE_MAX_BYTES")
        return cls(max_total_bytes=int(total)) if total and total.isdigit() else cls()


ZIP_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                   NotImplementedError, RuntimeError, ValueError)


class SafeZip:
    """A zip whose directory was checked against ``ArchiveLimits`` and a pattern of allowed
    member names (no duplicates, nothing absolute, no ``..``), read only through bounded
    streams."""

    def __init__(self, zf: zipfile.ZipFile, source: Path, limits: ArchiveLimits,
                 allowed: re.Pattern[str]) -> None:
        self.zf, self.source, self.limits = zf, source, limits
        self.infos = {info.filename: info for info in zf.infolist()}
        self._check_directory(zf.infolist(), allowed)

    def _check_directory(self, infos: list[zipfile.ZipInfo], allowed: re.Pattern[str]) -> None:
        limits, source = self.limits, self.source
        if len(infos) > limits.max_members:
            raise ArchiveTooLarge(f"{source}: {len(infos)} members, more than the limit of "
                                  f"{limits.max_members}")
        duplicated = sorted(n for n, k in Counter(i.filename for i in infos).items() if k > 1)
        if duplicated:
            raise ArchiveError(f"{source}: member {duplicated[0]} appears more than once "
                               "(which copy is meant is ambiguous); nothing was read")
        total = packed = 0
        for info in infos:
            name = info.filename
            if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/") \
                    or "\0" in name:
                raise ArchiveError(f"{source}: member {name!r} has an absolute or '..' path")
            if not allowed.fullmatch(name):
                raise ArchiveError(f"{source}: unexpected member {name!r}")
            if info.file_size > limits.max_member_bytes:
                raise ArchiveTooLarge(f"{source}: {name} expands to {info.file_size} bytes, more "
                                      f"than the limit of {limits.max_member_bytes}")
            if info.file_size > limits.ratio_floor and \
                    info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise ArchiveTooLarge(f"{source}: {name} has a compression ratio above "
                                      f"{limits.max_ratio}:1 ({info.compress_size} bytes expand "
                                      f"to {info.file_size}); refused as a decompression bomb")
            total += info.file_size
            packed += info.compress_size
        if total > limits.max_total_bytes:
            raise ArchiveTooLarge(f"{source}: expands to {total} bytes, more than the limit of "
                                  f"{limits.max_total_bytes} (PRODSEC_ARCHIVE_MAX_BYTES)")
        if total > limits.ratio_floor and total > limits.max_ratio * max(packed, 1):
            raise ArchiveTooLarge(f"{source}: a compression ratio above {limits.max_ratio}:1 "
                                  "overall; refused as a decompression bomb")

    def names(self) -> set[str]:
        return set(self.infos)

    def open(self, name: str) -> IO[bytes]:
        """A stream of one member that fails once it yields more than the directory said."""
        info = self.infos.get(name)
        if info is None:
            raise KeyError(name)
        try:
            inner = self.zf.open(info)
        except ZIP_READ_ERRORS as exc:
            raise ArchiveError(f"{self.source}: {name} cannot be read ({exc})") from None
        return io.BufferedReader(_BoundedMember(inner, f"{self.source}: {name}",
                                                min(info.file_size,
                                                    self.limits.max_member_bytes)))

    def read(self, name: str) -> bytes:
        with self.open(name) as data:
            return data.read()


class _BoundedMember(io.RawIOBase):
    """Counts what a member really expands to; damaged or oversized data is an ArchiveError."""

    def __init__(self, inner: IO[bytes], where: str, limit: int) -> None:
        self.inner, self.where, self.limit, self.seen = inner, where, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.inner.read(len(buffer))
        except ZIP_READ_ERRORS as exc:
            raise ArchiveError(f"{self.where} is damaged ({exc})") from None
        self.seen += len(data)
        if self.seen > self.limit:
            raise ArchiveTooLarge(f"{self.where} expands beyond its declared size or the limit "
                                  f"of {self.limit} bytes; refused")
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.inner.close()
        super().close()
