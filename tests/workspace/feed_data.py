"""Data for the feed and proposal tests: the real SaltStack advisories of tests/data/osv (whose
CVEs the real CISA KEV slice lists as exploited), a small SBOM naming salt 3000, and feed files
in the real layouts (EPSS rows and the EUVD exploited-list answer are built here: see
tests/data/epss and tests/data/euvd)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from prodsec.db.engine import Database
from prodsec.services.knowledge import knowledge_base
from prodsec.workspace import products, sbom_import
from prodsec.workspace.context import Actor
from tests.realdata import DATA

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
KEV = DATA / "kev" / "known_exploited_vulnerabilities.json"
EUVD = DATA / "euvd"
SALT = DATA / "osv" / "pypi" / "vulns" / "salt"
#: CVE-2020-11651 (PYSEC-2020-102): in the KEV slice, dateAdded 2021-11-03
SALT_CVE = "CVE-2020-11651"


def sbom(*components: tuple[str, str]) -> bytes:
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
                       "components": [{"type": "library", "bom-ref": f"c{i}", "name": n,
                                       "version": v, "purl": f"pkg:pypi/{n}@{v}"}
                                      for i, (n, v) in enumerate(components)]}).encode()


def osv_dir(target: Path) -> Path:
    """The real salt advisories (and only those)."""
    target.mkdir(parents=True, exist_ok=True)
    for path in SALT.glob("PYSEC-2020-10*.yaml"):
        shutil.copy(path, target / path.name)
    return target


def release(db: Database, actor: Actor, name: str, support_end: dt.date | None,
            label: str = "1.0", rescan: str = "inline") -> str:
    """A product whose release ships salt 3000 (affected by the salt advisories)."""
    with db.transaction() as s:
        product = products.add_product(s, actor, knowledge_base(), ROUTER | {"name": name})
        products.add_release(s, actor, product.id, label, None, support_end,
                             "" if support_end is None else "expected use")
        sbom_import.import_sbom(s, actor, product.id, label, sbom(("salt", "3000")), "sbom.json",
                          rescan=rescan)
        return product.id


def epss_csv(date: str, rows: dict[str, float], gz: bool = False) -> bytes:
    text = (f"#model_version:v2025.03.14,score_date:{date}T00:00:00Z\ncve,epss,percentile\n"
            + "".join(f"{c},{v:.5f},{min(v + 0.5, 1):.5f}\n" for c, v in rows.items()))
    return gzip.compress(text.encode()) if gz else text.encode()


def euvd_exploited(cve: str, since: str = "Apr 9, 2025, 12:00:00 AM",
                   euvd_id: str = "EUVD-2020-12345") -> bytes:
    """An EUVD API answer listing one exploited record: a copy of the real EUVD-2024-22512
    with its ids and aliases replaced and ``exploitedSince`` added (the exploited list's field)."""
    record: dict[str, Any] = json.loads((EUVD / "EUVD-2024-22512.json").read_text())
    record |= {"id": euvd_id, "aliases": f"{cve}\n", "exploitedSince": since}
    return json.dumps({"items": [record], "total": 1}).encode()
