"""A page of a listing is at most ``core.limits.PAGE_SIZE`` rows, refused by the service for
every face: before, only the API's query bound (``le=500``) held it."""

from __future__ import annotations

import pytest

from prodsec.core.limits import PAGE_SIZE
from prodsec.db.engine import Database
from prodsec.errors import ValidationFailed
from prodsec.workspace import compliance, products
from prodsec.workspace.context import Actor

LISTINGS = [
    pytest.param(lambda s, a, n, o: products.list_products(s, a, n, o), id="products"),
    pytest.param(lambda s, a, n, o: compliance.list_evidence(s, a, n, o), id="evidence"),
    pytest.param(lambda s, a, n, o: compliance.list_statuses(s, a, n, o), id="statuses"),
    pytest.param(lambda s, a, n, o: compliance.page_controls(s, a, n, o), id="controls"),
]


@pytest.mark.parametrize("listing", LISTINGS)
def test_a_page_beyond_the_limit_is_refused_naming_the_field(database: Database, viewer: Actor,
                                                             listing: object) -> None:
    with database.transaction() as session:
        assert listing(session, viewer, PAGE_SIZE, 0)[1] == 0  # type: ignore[operator]
        for limit, offset, field in ((PAGE_SIZE + 1, 0, "limit"), (0, 0, "limit"),
                                     (10**9, 0, "limit"), (10, -1, "offset")):
            with pytest.raises(ValidationFailed) as refused:
                listing(session, viewer, limit, offset)  # type: ignore[operator]
            assert refused.value.field == field
            if field == "limit":
                assert f"between 1 and {PAGE_SIZE}" in str(refused.value)


def test_the_api_bound_is_the_services() -> None:
    """The API's ``limit`` query parameter carries the same constant."""
    import typing

    from prodsec.api import deps

    limit = typing.get_type_hints(deps.paging, include_extras=True)["limit"]
    bounds = {type(b).__name__: b for b in limit.__metadata__[0].metadata}
    assert bounds["Le"].le == PAGE_SIZE and bounds["Ge"].ge == 1
