"""An SBOM part imported in two halves (``workspace.sbom_import``): rows built off the writer
lock, stored only if what they were built on is unchanged — on SQLite and PostgreSQL, with the
proton-bridge SBOMs and the Go advisories of tests/data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from sqlalchemy import func, select

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.db.models import FindingRecord
from prodsec.workspace import products, sbom_import
from prodsec.workspace import vulnerabilities as vulns
from prodsec.workspace.context import Actor
from tests.workspace.vuln_data import SBOM_A, SBOM_B, make_osv_dir

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())


@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _release(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    with db.transaction() as s:
        product = products.add_product(s, actor, kb, ROUTER)
        products.add_release(s, actor, product.id, "2.0", None, None)
        return product.id


def _prepare(db: Database, actor: Actor, pid: str, path: Path,
             part: str) -> sbom_import.PreparedSbom:
    data = path.read_bytes()
    with db.transaction() as s:
        return sbom_import.prepare_sbom(s, actor, pid, "2.0", data, path.name,
                                        vulns.parse_sbom(data, path.name), part=part)


def _import(db: Database, actor: Actor, pid: str, path: Path, part: str) -> dict[str, Any]:
    with db.transaction() as s:
        return sbom_import.import_sbom(s, actor, pid, "2.0", path.read_bytes(), path.name,
                                       part=part)


def test_prepared_findings_are_what_a_recompute_finds(database: Database, editor: Actor,
                                                      kb: KnowledgeBase, osv_dir: Path) -> None:
    """The findings built off the lock, over the new part and the stored ones, are exactly
    those the canonical recompute makes afterwards: it adds, removes and changes nothing."""
    pid = _release(database, editor, kb)
    with database.transaction() as s:
        vulns.import_advisories(s, editor, osv_dir)
    _import(database, editor, pid, SBOM_B, "app")
    result = _import(database, editor, pid, SBOM_A, "firmware")
    assert result["findings"]["added"] > 0 and result["parts"] == 2
    with database.transaction() as s:
        release = vulns.get_release(s, editor, pid, "2.0")
        again = vulns.recompute_findings(s, editor, [release.id])
    assert (again["added"], again["removed"]) == (0, 0)
    assert again["kept"] == result["findings"]["added"] + result["findings"]["kept"]


def test_a_part_imported_meanwhile_makes_the_preparation_stale(
        database: Database, editor: Actor, kb: KnowledgeBase) -> None:
    pid = _release(database, editor, kb)
    prepared = _prepare(database, editor, pid, SBOM_A, "firmware")
    _import(database, editor, pid, SBOM_B, "app")  # lands between the two halves
    with pytest.raises(sbom_import.Stale), database.transaction() as s:
        sbom_import.store_sbom(s, editor, prepared, rebuild=False)
    with database.transaction() as s:
        stored = sbom_import.store_sbom(s, editor, prepared)  # rebuilt in the transaction
        parts = vulns.list_sbom_parts(s, editor, pid, "2.0")
    assert stored["parts"] == 2 and stored["format"] == "assembled"
    assert [(p["name"], p["components"]) for p in parts] == [("app", 201), ("firmware", 201)]


def test_an_advisory_import_meanwhile_is_not_missed(database: Database, editor: Actor,
                                                    kb: KnowledgeBase, osv_dir: Path) -> None:
    """Rows prepared before an advisory import would store no findings; the basis check sees
    the advisories changed, and the stored import has the findings a recompute gives."""
    pid = _release(database, editor, kb)
    prepared = _prepare(database, editor, pid, SBOM_A, "main")
    assert prepared.findings == {}
    with database.transaction() as s:
        vulns.import_advisories(s, editor, osv_dir)
    with database.transaction() as s:
        stored = sbom_import.store_sbom(s, editor, prepared)
    assert stored["findings"]["added"] > 0
    with database.transaction() as s:
        count = s.scalar(select(func.count()).select_from(FindingRecord))
    assert count == stored["findings"]["added"]


def test_the_server_import_prepares_again_off_the_lock(
        database: Database, editor: Actor, kb: KnowledgeBase,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stale preparation is made again in a read transaction; the write that stores it is
    not asked to rebuild (that is only the last attempt's fallback)."""
    import dataclasses

    pid = _release(database, editor, kb)
    prepare, store = sbom_import.prepare_sbom, sbom_import.store_sbom
    calls: list[str] = []

    def counted_prepare(*args: Any, **kwargs: Any) -> sbom_import.PreparedSbom:
        calls.append("prepare")
        return prepare(*args, **kwargs)

    def racing_store(session: Any, actor: Actor, prepared: sbom_import.PreparedSbom,
                     **kwargs: Any) -> dict[str, Any]:
        calls.append(f"store rebuild={kwargs.get('rebuild')}")
        if len(calls) == 2:  # the first one was built on what has changed since
            prepared = dataclasses.replace(prepared, basis=(*prepared.basis[:-1], "changed"))
        return store(session, actor, prepared, **kwargs)

    monkeypatch.setattr(sbom_import, "prepare_sbom", counted_prepare)
    monkeypatch.setattr(sbom_import, "store_sbom", racing_store)
    result = anyio.run(lambda: sbom_import.import_sbom_queued(
        database, editor, pid, "2.0", SBOM_A.read_bytes(), SBOM_A.name, part="firmware"))
    assert calls == ["prepare", "store rebuild=False", "prepare", "store rebuild=False"]
    assert result["parts"] == 1 and result["components"] == 201
