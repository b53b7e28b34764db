"""``vex_location``: the ETag ignores when a document was made, not what it says; the
release's CSAF VEX gets a new version only when what it says changed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.workspace import vex, vex_location
from prodsec.workspace.context import Actor
from tests.workspace.test_vulnerabilities import NAME, _loaded, _triage
from tests.workspace.vuln_data import make_osv_dir


def _cdx(serial: str, stamp: str, state: str) -> dict:
    return {"serialNumber": serial, "metadata": {"timestamp": stamp},
            "vulnerabilities": [{"id": "GO-1", "analysis": {"state": state}}]}


def test_moments_do_not_move_the_tag_but_content_does() -> None:
    a = vex_location.etag(_cdx("urn:uuid:1", "2026-01-01T00:00:00Z", "exploitable"), "cyclonedx")
    b = vex_location.etag(_cdx("urn:uuid:2", "2026-02-01T00:00:00Z", "exploitable"), "cyclonedx")
    c = vex_location.etag(_cdx("urn:uuid:2", "2026-02-01T00:00:00Z", "resolved"), "cyclonedx")
    assert a == b != c


def test_csaf_tracking_and_self_reference_are_moments() -> None:
    def doc(day: str) -> dict:
        return {"document": {"tracking": {"id": "x", "current_release_date": day},
                             "references": [{"category": "self", "url": f"https://a/{day}"},
                                            {"category": "external", "url": "https://osv.dev/"}]},
                "vulnerabilities": []}
    assert vex_location.etag(doc("1"), "csaf") == vex_location.etag(doc("2"), "csaf")


def test_if_none_match_is_compared_weakly_and_lists_are_read() -> None:
    tag = 'W/"abc"'
    assert vex_location.matches('"abc"', tag) and vex_location.matches('"x", W/"abc"', tag)
    assert vex_location.matches("*", tag) and not vex_location.matches('"abd"', tag)
    assert not vex_location.matches(None, tag)


def test_file_names() -> None:
    assert vex_location.file_name("Router X", "1.0", "csaf") == "router-x-1_0-vex.json"
    assert vex_location.file_name("Router X", "1.0", "openvex") == "Router-X-1.0.openvex.json"


# ---- the release's CSAF VEX versions ---------------------------------------------------------

@pytest.fixture(scope="module")
def osv_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_osv_dir(tmp_path_factory.mktemp("osv"))


def _tracking(db: Database, actor: Actor, pid: str) -> dict:
    with db.transaction() as s:
        doc = vex.export(s, actor, pid, "1.8.0", "csaf")
        assert vex.export_problems(doc, "csaf") == []
        return dict(doc["document"]["tracking"])


def test_same_content_same_version_changed_content_next_version(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulled again later with nothing changed: version 1, its date, one history entry. After a
    triage change: version 2 with a second history entry, the initial date kept; pulled again:
    still version 2."""
    pid = _loaded(database, editor, kb, osv_dir)
    clock = [dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)]
    monkeypatch.setattr(vex_location, "utcnow", lambda: clock[0])
    first = _tracking(database, editor, pid)
    assert (first["version"], first["current_release_date"]) == ("1", "2026-12-01T09:00:00Z")
    assert [h["number"] for h in first["revision_history"]] == ["1"]
    clock[0] += dt.timedelta(days=1)
    assert _tracking(database, editor, pid) == first
    _triage(database, editor, pid)
    second = _tracking(database, editor, pid)
    assert second["version"] == "2" and second["current_release_date"] == "2026-12-02T09:00:00Z"
    assert second["initial_release_date"] == first["initial_release_date"]
    assert [(h["number"], h["date"]) for h in second["revision_history"]] == [
        ("1", "2026-12-01T09:00:00Z"), ("2", "2026-12-02T09:00:00Z")]
    clock[0] += dt.timedelta(days=1)
    assert _tracking(database, editor, pid) == second


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_each_release_and_format_keeps_its_own_history(database: Database, editor: Actor,
                                                       kb: KnowledgeBase, osv_dir: Path) -> None:
    """Other formats record nothing; the versions are the release's, not the product's."""
    from sqlalchemy import select

    from prodsec.db.models import ReleaseVexRevision
    from prodsec.workspace import sbom_import
    from tests.workspace.vuln_data import SBOM_A

    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        sbom_import.import_sbom(s, editor, pid, "1.6.3", SBOM_A.read_bytes(), SBOM_A.name)
    with database.transaction() as s:
        vex.export(s, editor, pid, "1.8.0", "cyclonedx")
        vex.export(s, editor, pid, "1.8.0", "openvex")
        assert s.scalars(select(ReleaseVexRevision)).all() == []
        vex.export(s, editor, pid, "1.8.0", "csaf")
        vex.export(s, editor, pid, "1.6.3", "csaf")
        rows = s.scalars(select(ReleaseVexRevision)).all()
        assert sorted(r.version for r in rows) == [1, 1]
        assert len({r.release_id for r in rows}) == 2


def _stale_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first read of the revisions misses the one a concurrent pull has just committed (what
    two pulls racing see), later reads are true."""
    real = vex_location._revisions
    calls = []

    def stale(*args: object) -> list:
        calls.append(1)
        return [] if len(calls) == 1 else real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(vex_location, "_revisions", stale)


def test_a_pull_that_loses_the_race_serves_the_winners_revision(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """GET is safe (RFC 9110 9.2.1): the pull that finds its version recorded by another one is
    not told to change its request (409); it serves the stored revision, which says the same."""
    pid = _loaded(database, editor, kb, osv_dir)
    first = _tracking(database, editor, pid)
    _stale_once(monkeypatch)
    assert _tracking(database, editor, pid) == first


def test_a_pull_that_loses_the_race_to_other_content_takes_the_next_version(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The winner recorded different content as version 1: this pull's content is version 2."""
    from prodsec.db.models import ReleaseVexRevision, utcnow
    from prodsec.workspace import vulnerabilities as vulns

    pid = _loaded(database, editor, kb, osv_dir)
    with database.transaction() as s:
        release = vulns.get_release(s, editor, pid, "1.8.0")
        s.add(ReleaseVexRevision(org_id=editor.org_id, release_id=release.id, version=1,
                                 content_sha256="0" * 64, released_at=utcnow()))
    _stale_once(monkeypatch)
    tracking = _tracking(database, editor, pid)
    assert tracking["version"] == "2"
    assert [h["number"] for h in tracking["revision_history"]] == ["1", "2"]


def test_a_pull_that_keeps_losing_is_told_to_retry_never_to_change(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded: after RECORD_ATTEMPTS collisions a 503 with Retry-After, not a 4xx."""
    from prodsec.errors import ServiceBusy

    pid = _loaded(database, editor, kb, osv_dir)
    monkeypatch.setattr(vex_location, "_record", lambda *args: None)
    with pytest.raises(ServiceBusy) as caught:
        _tracking(database, editor, pid)
    assert caught.value.http_status == 503 and caught.value.headers == {"Retry-After": "1"}


def test_concurrent_pulls_all_get_the_same_revision(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path) -> None:
    """Six first pulls at once: every one answers, all with version 1."""
    import threading

    pid = _loaded(database, editor, kb, osv_dir)
    barrier = threading.Barrier(6)
    results: list[object] = []

    def pull() -> None:
        barrier.wait()
        try:
            results.append(_tracking(database, editor, pid)["version"])
        except Exception as exc:  # collected and asserted below
            results.append(exc)

    threads = [threading.Thread(target=pull) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["1"] * 6


def _self_refs(doc: dict) -> list[str]:
    return [r["url"] for r in doc["document"]["references"] if r["category"] == "self"]


def test_the_self_reference_names_the_public_location_or_is_left_out(
        database: Database, editor: Actor, kb: KnowledgeBase, osv_dir: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The CSAF VEX's self reference is the API's per-release location under the configured
    public URL (else the request's); with neither (the CLI) there is none, and a warning says
    why, rather than a provider-tree URL where the document is never written."""
    pid = _loaded(database, editor, kb, osv_dir)
    monkeypatch.delenv(vex_location.PUBLIC_URL_ENV, raising=False)
    with database.transaction() as s:
        bare, warnings = vex.export_with_warnings(s, editor, pid, "1.8.0", "csaf")
        asked, _ = vex.export_with_warnings(s, editor, pid, "1.8.0", "csaf",
                                            location="http://10.0.0.5:8000/")
        monkeypatch.setenv(vex_location.PUBLIC_URL_ENV, "https://vex.fictinet.example/")
        public = vex.export(s, editor, pid, "1.8.0", "csaf")
    assert _self_refs(bare) == [] and any("PRODSEC_PUBLIC_URL" in w for w in warnings)
    assert vex.export_problems(bare, "csaf") == []
    tail = (f"/api/v1/products/{pid}/releases/1.8.0/vex/"
            + vex_location.file_name(NAME, "1.8.0", "csaf"))
    assert _self_refs(asked) == ["http://10.0.0.5:8000" + tail]
    assert _self_refs(public) == ["https://vex.fictinet.example" + tail]
    assert public["document"]["tracking"]["version"] == "1"  # the reference is not content
