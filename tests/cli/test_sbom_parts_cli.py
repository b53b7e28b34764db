"""``prodsec sbom import --part``, ``sbom parts``, ``sbom export`` and ``sbom remove-part`` as a
user runs them (a subprocess): a release assembled from an SPDX 3 document and a CycloneDX SBOM,
the merged export valid CycloneDX with its warnings on standard error, bad input exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import run
from tests.realdata import DATA

ROOT = Path(__file__).resolve().parents[2]
NAME = "Fictinet AX3000 Home Router"
SPDX3 = DATA / "spdx3/software/example11/spdx3.0/sbom.spdx3.json"
HBOM = DATA / "sbom/cyclonedx/HBOM/PCIe-SATA-adapter-board/bom.json"


def test_parts_flow(tmp_path: Path) -> None:
    from prodsec.formats import cyclonedx

    db = ("--db", str(tmp_path / "w.db"))
    assert run("product", "add", str(ROOT / "examples/products/router.yaml"), *db).returncode == 0
    assert run("product", "release", NAME, "1.0", *db).returncode == 0
    added = run("sbom", "import", NAME, "1.0", str(SPDX3), "--part", "agent", "--kind",
                "service", *db)
    assert added.returncode == 0, added.stderr
    assert "SPDX SPDX-3.0.1, 4 components" in added.stdout and "part agent (1 part)" in added.stdout
    assert run("sbom", "import", NAME, "1.0", str(HBOM), "--part", "board", "--kind", "hardware",
               *db).returncode == 0
    parts = json.loads(run("sbom", "parts", NAME, "1.0", "--format", "json", *db).stdout)
    assert [(p["name"], p["kind"], p["components"]) for p in parts] == [
        ("agent", "service", 4), ("board", "hardware", 6)]
    target = tmp_path / "sbom.cdx.json"
    exported = run("sbom", "export", NAME, "1.0", "--spec", "1.7", "-o", str(target), *db)
    assert exported.returncode == 0, exported.stderr
    assert "warning: no security contact" in exported.stderr
    report = cyclonedx.validate(target.read_bytes(), "x")
    assert report.valid and report.spec_version == "1.7"
    doc = json.loads(target.read_text())
    assert {c["name"]: c["type"] for c in doc["components"]} == {"agent": "platform",
                                                                 "board": "device"}
    removed = run("sbom", "remove-part", NAME, "1.0", "board", *db)
    assert removed.returncode == 0 and "1 parts left" in removed.stdout


def test_bad_parts_exit_2_without_traceback(tmp_path: Path) -> None:
    db = ("--db", str(tmp_path / "w.db"))
    run("product", "add", str(ROOT / "examples/products/router.yaml"), *db)
    run("product", "release", NAME, "1.0", *db)
    for args, message in (
            (("sbom", "import", NAME, "1.0", str(HBOM), "--kind", "toaster"), "expected one of"),
            (("sbom", "import", NAME, "1.0", str(HBOM), "--part", "a b"), "a part name is"),
            (("sbom", "remove-part", NAME, "1.0", "nope"), "no SBOM part 'nope'"),
            (("sbom", "export", NAME, "1.0"), "has no SBOM"),
            (("sbom", "export", NAME, "1.0", "--spec", "1.4"), "expected one of 1.6, 1.7")):
        got = run(*args, *db)
        assert got.returncode == 2 and message in got.stderr, (args, got.stderr)
        assert "Traceback" not in got.stderr
