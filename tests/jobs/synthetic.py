"""A synthetic portfolio for the job tests: a CycloneDX SBOM of ``n`` Go modules and one OSV
advisory per module (versions below 1.0.3 affected), so a rescan's result is known exactly."""

from __future__ import annotations

import json
from pathlib import Path


def module(i: int) -> str:
    return f"example.com/synthetic/mod{i}"


def sbom(n: int, offset: int = 0) -> bytes:
    components = [{"type": "library", "bom-ref": f"c{i}", "name": module(i),
                   "version": f"v1.0.{i % 5}", "purl": f"pkg:golang/{module(i)}@v1.0.{i % 5}"}
                  for i in range(offset, offset + n)]
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                       "components": components}).encode()


def osv_dir(path: Path, n: int, fixed: str = "1.0.3") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (path / f"GO-SYN-{i:05d}.json").write_text(json.dumps({
            "id": f"GO-SYN-{i:05d}", "modified": "2026-11-01T00:00:00Z",
            "summary": f"synthetic advisory {i}",
            "affected": [{"package": {"ecosystem": "Go", "name": module(i)},
                          "ranges": [{"type": "SEMVER",
                                      "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]}))
    return path


def expected(n: int, offset: int = 0, fixed_minor: int = 3) -> set[str]:
    """The modules a scan must flag: patch version below ``fixed_minor``."""
    return {module(i) for i in range(offset, offset + n) if i % 5 < fixed_minor}
