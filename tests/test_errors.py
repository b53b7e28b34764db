"""One exception tree, one mapping: every ``ProdsecError`` subclass in the package answers the
``http_status`` its class carries through the API's problem handler AND the web's error
helpers, and the ``exit_code`` through the CLI's handler; the drawing in ``prodsec.errors``
is the tree as it is (classes, parents, numbers).

Before, three hand-written mappings disagreed: evidence over the size limit was 413 in the API
and 422 on the web; an unknown knowledge id 404 in the API and 422 on the web.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pkgutil
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import prodsec
from prodsec import errors
from prodsec.errors import KnowledgeError, ProdsecError

# Imported for side effects would be wrong: Alembic's env.py runs a migration on import.
SKIP = ("prodsec.db.migrations",)


def _import_everything() -> None:
    for info in pkgutil.walk_packages(prodsec.__path__, "prodsec."):
        if not info.name.startswith(SKIP):
            importlib.import_module(info.name)


def _tree() -> list[type[ProdsecError]]:
    _import_everything()
    found, todo = [], [ProdsecError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(c for c in cls.__subclasses__() if c not in found)
    return sorted(set(found), key=lambda c: c.__qualname__)


def _examples() -> dict[str, Callable[[], ProdsecError]]:
    """One instance of each class whose constructor takes more than a message."""
    from prodsec.core.profile import FieldProblem, ProfileError
    from prodsec.documents.facts import MissingInformation, UnverifiedFacts
    from prodsec.workspace.status_changes import BadRows
    from prodsec.workspace.transfer.common import ExportFormatError
    from prodsec.workspace.users import OrganisationChoice

    return {
        "KnowledgeBaseError": lambda: errors.KnowledgeBaseError(
            [KnowledgeError("regulations/cra.yaml", "$.id", "missing")]),
        "LoginThrottled": lambda: errors.LoginThrottled(8),
        "MissingExtra": lambda: errors.MissingExtra("pdf", "weasyprint"),
        "NotFoundError": lambda: errors.NotFoundError("regulation", "cra2", ["cra"]),
        "Conflict": lambda: errors.Conflict("name taken", precondition=False),
        "ValidationFailed": lambda: errors.ValidationFailed("name", "required"),
        "EvidenceTooLarge": lambda: errors.EvidenceTooLarge("file", "over 5 MB"),
        "TriageQueryError": lambda: errors.TriageQueryError("sort", "expected priority, cvss…"),
        "OrganisationChoice": lambda: OrganisationChoice(["Acme", "Globex"]),
        "TextRefused": lambda: errors.TextRefused("name", "contains a NUL character"),
        "ProfileError": lambda: ProfileError("p.yaml", [FieldProblem("markets", "unknown")]),
        "BadRows": lambda: BadRows("s.csv", ["row 2: unknown product"]),
        "MissingInformation": lambda: MissingInformation("eu-doc", []),
        "UnverifiedFacts": lambda: UnverifiedFacts("eu-doc", [], "--confirm-facts"),
        "ExportFormatError": lambda: ExportFormatError(Path("org.zip"), [("$", "not JSON")]),
    }


def _instances() -> list[ProdsecError]:
    examples = _examples()
    made = [examples.get(c.__name__, lambda c=c: c("a message"))() for c in _tree()]
    return [*made, errors.Conflict("stale version")]  # the other face of Conflict: 412


INSTANCES = _instances()


def _api_answer(exc: ProdsecError) -> tuple[int, dict[str, Any], dict[str, str]]:
    from prodsec.api.problems import on_prodsec_error

    response = asyncio.run(on_prodsec_error(None, exc))  # type: ignore[arg-type]
    return response.status_code, json.loads(bytes(response.body)), dict(response.headers)


def _web_answer(exc: ProdsecError) -> tuple[int, int, str]:
    from prodsec.web.pages.common import PageError, error_page, status_of

    with pytest.raises(PageError) as page:
        error_page(exc)
    return status_of(exc), page.value.status, page.value.message


@pytest.mark.parametrize("exc", INSTANCES, ids=lambda e: type(e).__name__)
def test_every_face_answers_the_class_numbers(exc: ProdsecError,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from prodsec.cli.failure import report

    status, body, headers = _api_answer(exc)
    form_status, page_status, page_message = _web_answer(exc)
    assert status == form_status == page_status == exc.http_status
    assert body["status"] == status and body["code"] == exc.slug
    if status >= 500:  # the server's fault: neither the API nor the page shows the message
        assert str(exc) not in json.dumps(body) and str(exc) != page_message
    else:
        assert body["detail"] == str(exc) == page_message
    for name, value in exc.headers.items():
        assert headers[name.lower()] == value
    assert report(exc) == exc.exit_code
    assert capsys.readouterr().err == f"error: {exc}\n"


def test_the_numbers_the_faces_once_disagreed_on() -> None:
    """Pinned, so that a changed class attribute is a decision, not a slip."""
    expected = {
        errors.EvidenceTooLarge("file", "big"): (413, 2),
        errors.NotFoundError("regulation", "x", []): (404, 2),
        errors.NotFound("no product"): (404, 2),
        errors.PermissionDenied("viewer"): (403, 2),
        errors.Conflict("stale"): (412, 2),
        errors.Conflict("taken", precondition=False): (409, 2),
        errors.ValidationFailed("f", "m"): (422, 2),
        errors.LoginThrottled(3): (429, 1),
        errors.KnowledgeBaseError([]): (500, 3),
    }
    for exc, (status, code) in expected.items():
        assert (exc.http_status, exc.exit_code) == (status, code), type(exc).__name__
        assert _api_answer(exc)[0] == _web_answer(exc)[0] == status
    assert _api_answer(errors.LoginThrottled(3))[2]["retry-after"] == "3"


DRAWN = re.compile(r"^(?P<indent>(?:[│ ]   )*)(?:[├└]── )?(?P<name>\w+)\*?")


def _drawing() -> dict[str, tuple[str | None, int | None, int | None]]:
    """Name -> (parent, exit code, HTTP status) as drawn in the docstring of prodsec.errors."""
    lines = (errors.__doc__ or "").splitlines()
    head = next(i for i, line in enumerate(lines) if line.strip() == "exit  HTTP")
    exit_at, http_at = lines[head].index("exit"), lines[head].index("HTTP")
    drawn: dict[str, tuple[str | None, int | None, int | None]] = {}
    parents: list[str] = []
    for line in lines[head + 1:]:
        if not line.strip():
            break
        found = DRAWN.match(line)
        assert found, line
        depth = len(found["indent"]) // 4 + (line.lstrip(" │").startswith(("├", "└")))
        del parents[depth:]
        code, status = line[exit_at:exit_at + 4].strip(), line[http_at:http_at + 4].strip()
        drawn[found["name"]] = (parents[-1] if parents else None,
                                int(code) if code else None, int(status) if status else None)
        parents.append(found["name"])
    return drawn


def test_the_drawing_is_the_tree() -> None:
    drawn = _drawing()
    classes = {c.__name__: c for c in _tree()}
    assert set(drawn) == set(classes), "draw every class of the tree in prodsec.errors"
    for name, (parent, code, status) in drawn.items():
        cls = classes[name]
        if parent is not None:
            assert classes[parent] in cls.__bases__, f"{name} is drawn under {parent}"
        assert cls.exit_code == (code if code is not None else classes[parent or name].exit_code)
        assert cls.http_status == (status if status is not None
                                   else classes[parent or name].http_status), name


def test_a_partly_refused_import_has_one_status_on_every_face() -> None:
    """``refusal_status``: the API's problem, the web page and the CLI's exit agree."""
    from prodsec.errors import Invalid, refusal_status

    assert refusal_status([]) == 200
    assert refusal_status([{"reason": "unknown component"}]) == Invalid.http_status == 422
    assert Invalid.exit_code == 2
