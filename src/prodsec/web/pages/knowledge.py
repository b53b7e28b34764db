"""The knowledge pages: the landscape and one regulation."""

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

