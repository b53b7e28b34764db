"""One limit per text field (``prodsec.core.limits``): every limit fits the column it lands in,
the services refuse anything longer, and whatever the services accept survives export/import
and backup/restore unchanged (a property test over random workspaces)."""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from prodsec.core import limits
from prodsec.core.knowledge import KnowledgeBase
from prodsec.db import models
from prodsec.db.engine import Database, open_database
from prodsec.workspace import compliance, products, transfer
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.users import get_or_create_org

ROOT = Path(__file__).resolve().parents[2]
ROUTER = yaml.safe_load((ROOT / "examples/products/router.yaml").read_text())
AS_OF = dt.date(2026, 11, 27)

#: (column, the limit the services enforce on it)
COLUMNS = [
    (models.Organisation.name, limits.NAME),
    (models.User.email, limits.EMAIL),
    (models.User.name, limits.NAME),
    (models.ApiToken.name, limits.NAME),
    (models.Product.name, limits.NAME),
    (models.Release.version_label, limits.VERSION),
    (models.RequirementStatus.requirement_id, limits.REQUIREMENT_ID),
    (models.Control.name, limits.NAME),
    (models.Control.owner, limits.NAME),
    (models.Evidence.title, limits.TITLE),
    (models.Evidence.filename, limits.TITLE),
    (models.Evidence.media_type, limits.NAME),
    (models.Evidence.url, limits.URL),
    (models.Evidence.owner, limits.NAME),
    (models.Evidence.version_label, limits.VERSION),
    (models.VexStatement.vulnerability, limits.VULNERABILITY_ID),
    (models.Article14Case.title, limits.REPORT_TITLE),
]


@pytest.mark.parametrize(("column", "limit"), COLUMNS, ids=lambda c: getattr(c, "key", str(c)))
def test_every_limit_fits_its_column(column: Any, limit: int) -> None:
    """Import checks values against the column widths: a limit above one would let the
    workspace accept what its own export cannot bring back."""
    assert column.type.length == limit


# ---- the services refuse what is too long -------------------------------------------------------


def _assessed(db: Database, actor: Actor, kb: KnowledgeBase) -> str:
    with db.transaction() as s:
        product = products.add_product(s, actor, kb, ROUTER)
        products.assess(s, actor, kb, product.id, AS_OF)
        return product.id


def test_too_long_product_name_is_refused(database: Database, editor: Actor,
                                          kb: KnowledgeBase) -> None:
    with pytest.raises(ValidationFailed, match=r"profile.name: is 200000 characters long; "
                                               r"the limit is 200"), database.transaction() as s:
        products.add_product(s, editor, kb, {**ROUTER, "name": "x" * 200_000})


@pytest.mark.parametrize(("field", "call"), [
    ("version_label", lambda s, a, kb, p: products.add_release(s, a, p, "1" * 101, None, None)),
    ("support_rationale", lambda s, a, kb, p: products.add_release(
        s, a, p, "1.0", None, None, "r" * (limits.TEXT + 1))),
    ("justification", lambda s, a, kb, p: compliance.set_status(
        s, a, compliance.find_status(s, a, p, "uk-psti:schedule-1:1"), "not-applicable",
        "j" * (limits.TEXT + 1), None)),
    ("name", lambda s, a, kb, p: compliance.add_control(
        s, a, kb, "c" * (limits.NAME + 1), ["uk-psti:schedule-1:1"])),
    ("description", lambda s, a, kb, p: compliance.add_control(
        s, a, kb, "c", ["uk-psti:schedule-1:1"], "d" * (limits.TEXT + 1))),
    ("title", lambda s, a, kb, p: compliance.add_evidence(
        s, a, Path("unused"), "t" * (limits.TITLE + 1), url="https://example.com")),
    ("organisation", lambda s, a, kb, p: get_or_create_org(s, "o" * (limits.NAME + 1))),
])
def test_too_long_text_is_refused_naming_the_field(database: Database, editor: Actor,
                                                   kb: KnowledgeBase, field: str, call: Any) -> None:
    product_id = _assessed(database, editor, kb)
    before = transfer.content_digest(database)
    with pytest.raises(ValidationFailed) as caught, database.transaction() as s:
        call(s, editor, kb, product_id)
    assert caught.value.field == field
    assert "the limit is" in str(caught.value)
    assert transfer.content_digest(database) == before


def test_duplicate_release_is_a_sentence(database: Database, editor: Actor,
                                         kb: KnowledgeBase) -> None:
    product_id = _assessed(database, editor, kb)
    with database.transaction() as s:
        products.add_release(s, editor, product_id, "1.0", None, None)
    with pytest.raises(products.Conflict, match=r"release 1.0 of 'Fictinet AX3000 Home Router' already exists"), \
            database.transaction() as s:
        products.add_release(s, editor, product_id, "1.0", None, None)


@pytest.mark.parametrize(("field", "call"), [
    ("profile.name", lambda s, a, kb: products.add_product(s, a, kb, {
        **ROUTER, "name": "Router \u202eevil"})),
    ("filename", lambda s, a, kb: compliance.add_evidence(
        s, a, Path("unused"), "Report", url="https://example.com",
        filename="e\u202egnp.exe")),
    ("title", lambda s, a, kb: compliance.add_evidence(
        s, a, Path("unused"), "Pen\u2067test", url="https://example.com")),
    ("name", lambda s, a, kb: compliance.add_control(
        s, a, kb, "\u202aUnique passwords", ["uk-psti:schedule-1:1"])),
])
def test_bidirectional_controls_are_refused_in_names_and_titles(
        database: Database, editor: Actor, kb: KnowledgeBase, field: str, call: Any) -> None:
    """"e\u202egnp.exe" showed as "eexe.png" in a download (pentest h11pen I3)."""
    with pytest.raises(ValidationFailed) as caught, database.transaction() as s:
        call(s, editor, kb)
    assert caught.value.field == field and "bidirectional control U+20" in str(caught.value)


def test_free_text_may_hold_bidirectional_controls(database: Database, editor: Actor,
                                                   kb: KnowledgeBase) -> None:
    """Descriptions may quote right-to-left text; only one-line names and titles refuse."""
    with database.transaction() as s:
        compliance.add_control(s, editor, kb, "Passwords", ["uk-psti:schedule-1:1"],
                               "\u202bمرحبا\u202c")


# ---- property: what is accepted round-trips ------------------------------------------------------

#: Text as users type it: any character but surrogates and NUL (which PostgreSQL refuses) and
#: the bidirectional controls names and titles refuse.
CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"
                      "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def text(limit: int, *, required: bool = False) -> st.SearchStrategy[str]:
    """Random text within ``limit``, the limit itself included (the edge matters most)."""
    body = st.text(CHARS, min_size=1 if required else 0, max_size=min(limit, 40))
    edge = st.text(CHARS, min_size=limit, max_size=limit)
    strategy = st.one_of(body, edge)
    return strategy.filter(lambda s: s.strip() == s and bool(s)) if required else strategy


STATUSES = st.sampled_from(compliance.STATUSES)
REQUIREMENTS = ["uk-psti:schedule-1:1", "eu-cra:annex-i:part-i:2:m", "eu-cra:annex-i:part-i:2:d"]

WORKSPACE = st.fixed_dictionaries({
    "products": st.lists(st.fixed_dictionaries({
        "name": text(limits.NAME, required=True),
        "manufacturer": text(limits.NAME, required=True),
        "description": text(limits.TEXT, required=True),
        "releases": st.lists(st.tuples(text(limits.VERSION, required=True), text(limits.TEXT)),
                             max_size=2, unique_by=lambda r: r[0]),
        "statuses": st.lists(st.tuples(st.sampled_from(REQUIREMENTS), STATUSES,
                                       text(limits.TEXT, required=True)),
                             max_size=3, unique_by=lambda r: r[0]),
    }), min_size=1, max_size=2, unique_by=lambda p: p["name"]),
    "controls": st.lists(st.tuples(text(limits.NAME, required=True), text(limits.TEXT),
                                   text(limits.NAME)),
                         max_size=2, unique_by=lambda c: c[0]),
})


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated empty database, copied for every example (migrating costs ~1 s)."""
    path = tmp_path_factory.mktemp("template") / "empty.db"
    open_database(str(path)).dispose()
    return path


@contextmanager
def fresh(template: Path, where: Path, name: str) -> Iterator[Database]:
    shutil.copy(template, where / f"{name}.db")
    db = open_database(str(where / f"{name}.db"))
    db.evidence_dir = where / f"{name}.evidence"
    try:
        yield db
    finally:
        db.dispose()


def build(db: Database, kb: KnowledgeBase, spec: dict[str, Any]) -> None:
    with db.transaction() as s:
        org = get_or_create_org(s, "Acme")
        actor = Actor("local", "cli:test", org.id, "admin")
        for p in spec["products"]:
            profile = {**ROUTER, "name": p["name"], "manufacturer": p["manufacturer"],
                       "description": p["description"]}
            product = products.add_product(s, actor, kb, profile)
            for label, rationale in p["releases"]:
                products.add_release(s, actor, product.id, label, AS_OF, None, rationale)
            products.assess(s, actor, kb, product.id, AS_OF)
            for rid, status, justification in p["statuses"]:
                row = compliance.find_status(s, actor, product.id, rid)
                compliance.set_status(s, actor, row, status, justification, None)
        for name, description, owner in spec["controls"]:
            compliance.add_control(s, actor, kb, name, REQUIREMENTS[:1], description, owner)


def content(db: Database) -> dict[str, Any]:
    """What a user entered, independent of ids and timestamps."""
    with db.transaction() as s:
        return {
            "products": sorted((p.name, repr(p.profile), tuple(sorted(
                (r.version_label, r.support_rationale) for r in p.releases)))
                for p in s.scalars(select(models.Product))),
            "statuses": sorted((r.requirement_id, r.status, r.justification)
                               for r in s.scalars(select(models.RequirementStatus))),
            "controls": sorted((c.name, c.description, c.owner)
                               for c in s.scalars(select(models.Control))),
        }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.data_too_large])
@given(spec=WORKSPACE)
def test_accepted_workspaces_round_trip(template: Path, kb: KnowledgeBase,
                                        spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        with fresh(template, where, "source") as source:
            build(source, kb, spec)
            expected = content(source)
            transfer.export_org(source, "Acme", where / "acme.zip")
            transfer.backup(source, where / "backup.zip")
            digest = transfer.content_digest(source)
        with fresh(template, where, "imported") as imported:
            transfer.import_org(imported, where / "acme.zip", None, "cli:test")
            assert content(imported) == expected
        restored = open_database(str(where / "restored.db"), upgrade=False)
        restored.evidence_dir = where / "restored.evidence"
        try:
            transfer.restore(restored, where / "backup.zip")
            assert transfer.content_digest(restored) == digest
        finally:
            restored.dispose()
