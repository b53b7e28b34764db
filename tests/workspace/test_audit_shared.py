"""The audit chain's verification as the faces show it: reused while the chain is unchanged
(any member may ask, and a long chain costs seconds to re-hash: pentest h11pen2 F1), computed
again as soon as an event is added; the product filter takes % and _ literally (F5)."""

from __future__ import annotations

from prodsec.db.engine import Database
from prodsec.workspace import audit
from prodsec.workspace.context import Actor


def _event(db: Database, actor: Actor, entity_id: str) -> None:
    with db.transaction() as s:
        audit.record(s, actor, "test.touch", "product", entity_id, None, {"product_id": entity_id})


def test_an_unchanged_chain_is_not_verified_again(database: Database, editor: Actor) -> None:
    _event(database, editor, "p1")
    with database.transaction() as s:
        first, age = audit.verify_shared(s, editor.org_id)
        again, later = audit.verify_shared(s, editor.org_id)
    assert first.ok and age == 0.0
    assert again is first and later >= 0.0
    _event(database, editor, "p2")
    with database.transaction() as s:
        fresh, age = audit.verify_shared(s, editor.org_id)
    assert fresh is not first and fresh.events == first.events + 1 and age == 0.0


def test_the_product_filter_has_no_wildcards(database: Database, editor: Actor) -> None:
    for pid in ("p1", "p2"):
        _event(database, editor, pid)
    with database.transaction() as s:
        everything, _ = audit.events_page(s, editor, product_id="%")
        one, _ = audit.events_page(s, editor, product_id="p1")
        underscore, _ = audit.events_page(s, editor, product_id="p_")
    assert everything == [] and underscore == []
    assert [e["entity_id"] for e in one] == ["p1"]
