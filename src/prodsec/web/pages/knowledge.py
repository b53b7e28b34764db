"""The knowledge pages: the landscape, one regulation and the changes of the law."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from prodsec.web.pages.common import (
    current_date,
    page_error,
    redirect,
    render,
    signed_in,
    svg,
    web_state,
)

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    signed_in(request)
    return redirect("/portfolio")


@router.get("/landscape", response_class=HTMLResponse)
def landscape_page(request: Request) -> HTMLResponse:
    from prodsec.services import knowledge, landscape

    actor, csrf = signed_in(request)
    kb = web_state(request).kb
    pictures = {kind: svg(landscape.render(kb, kind, "svg", (), lambda i: f"/regulations/{i}"))
                for kind in ("rigor", "scope")}
    return render(request, "landscape.html.j2", {
        "pictures": pictures, "regulations": knowledge.regulations(kb)}, actor=actor, csrf=csrf)


@router.get("/regulations/{reg_id}", response_class=HTMLResponse)
def regulation_page(request: Request, reg_id: str) -> HTMLResponse:
    from prodsec.errors import NotFoundError
    from prodsec.services import knowledge

    actor, csrf = signed_in(request)
    kb = web_state(request).kb
    try:
        reg = knowledge.regulation(kb, reg_id)
    except NotFoundError as exc:
        raise page_error(exc) from None
    related = {q["id"]: knowledge.mappings(kb, q["id"], 1)["related"]
               for reqs in reg["requirements"].values() for q in reqs}
    return render(request, "regulation.html.j2", {"reg": reg, "related": related,
                                                   "today": current_date().isoformat()},
                   actor=actor, csrf=csrf)



@router.get("/knowledge/changes", response_class=HTMLResponse)
def changes_page(request: Request, since: str = "", recorded_since: str = "") -> HTMLResponse:
    """The changes of the law that can move a verdict (``prodsec knowledge changes``, ``GET
    /api/v1/knowledge/changes``): date, act, what changed, the instruments and facts touched.
    A malformed date is refused next to its field, the list left unfiltered."""
    from prodsec.errors import InputError
    from prodsec.services import knowledge

    actor, csrf = signed_in(request)
    kb = web_state(request).kb
    entered = {"since": since.strip(), "recorded_since": recorded_since.strip()}
    status, error = 200, None
    try:
        data = knowledge.changes(kb, entered["since"] or None, entered["recorded_since"] or None)
    except InputError as exc:
        field = "recorded_since" if str(exc).startswith("--recorded-since") else "since"
        status, error = 422, {"field": field, "text": "expected a date YYYY-MM-DD"}
        data = knowledge.changes(kb)
    names = {r["id"]: r["short_name"] for r in knowledge.regulations(kb)}
    return render(request, "changes.html.j2", {"data": data, "entered": entered, "error": error,
                                                "names": names}, status, actor, csrf)
