"""The pages. Each handler reads through the workspace services in one transaction and renders
a template; writes come from HTML forms carrying the session's CSRF token, and redirect after
success (so a reload never repeats a write).

Handlers are plain ``def`` (FastAPI runs them in its threadpool): database work, argon2 and
parsing never run on the event loop. A form handler takes its form through one dependency
(``ViewerForm``, ``EditorForm``, ``AdminForm``) that signs in, checks the role the API asks
for the same action (``Actor.require``, before the body is read), checks the CSRF token and
closes uploaded files afterwards.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from prodsec.api.middleware import read_form
from prodsec.core import limits
from prodsec.core.knowledge import CATEGORIES
from prodsec.web.questions import profile_from_form, questions
from prodsec.workspace.context import Actor, Conflict, NotFound, PermissionDenied, ValidationFailed

TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "web"
COOKIE = "prodsec_session"
LOGIN_COOKIE = "prodsec_login"  # the sign-in form's pre-session CSRF token (double submit)
# Every page escapes what it prints: autoescape for every template, whatever its name ends
# with (``select_autoescape`` knows html/htm/xml only, and ours end with ``.html.j2``). Markup
# the server made itself is wrapped in ``Markup`` in Python, never ``|safe`` in a template.
templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(str(TEMPLATES)),
                                            autoescape=True))
#: Forms take their maxlength from the same limits the services enforce.
templates.env.globals["limits"] = limits
router = APIRouter(include_in_schema=False)
T = TypeVar("T")


@dataclass
class WebState:
    database: Any
    kb: Any
    limiter: Any
    secure_cookies: bool = False


class PageError(Exception):
    """An error page (401 → login, 403, 404) for a browser request."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def _today() -> dt.date:
    return dt.date.today()


def _who(request: Request) -> tuple[Actor, str]:
    """The signed-in actor and the session's CSRF token, or a 401 page (→ login)."""
    from prodsec.workspace.sessions import session_actor

    secret = request.cookies.get(COOKIE)
    if secret:
        with _state(request).database.transaction() as session:
            found = session_actor(session, secret)
        if found:
            return found
    raise PageError(401, "Please sign in.")


def _check_csrf(csrf: str, form: Any) -> None:
    from prodsec.workspace.sessions import csrf_matches

    token = form.get("csrf_token")
    if not csrf_matches(csrf, token if isinstance(token, str) else None):
        raise PageError(403, "This form has expired or did not come from this site; reload the page and try again.")


def _permit(actor: Actor, role: str) -> None:
    """The role check every face shares (``Actor.require``), answered as a 403 page."""
    try:
        actor.require(role)
    except PermissionDenied as exc:
        raise PageError(403, str(exc)) from None


@dataclass(frozen=True)
class Submitted:
    """A signed-in user's form: who sent it, the session's CSRF token, the fields and files."""

    actor: Actor
    csrf: str
    form: Any


def _form_as(role: str) -> Callable[[Request], AsyncIterator[Submitted]]:
    """The dependency of a form handler: sign-in (401 → login), then the role (403, before the
    body is read, like the API's), then the body and its CSRF token (403); uploaded files are
    closed when the handler is done."""

    async def submitted(request: Request) -> AsyncIterator[Submitted]:
        actor, csrf = await run_in_threadpool(_who, request)
        _permit(actor, role)
        form = await read_form(request, files=1)  # bounded fields; files only on upload routes
        try:
            _check_csrf(csrf, form)
            yield Submitted(actor, csrf, form)
        finally:
            await form.close()

    return submitted


ViewerForm = Annotated[Submitted, Depends(_form_as("viewer"))]
EditorForm = Annotated[Submitted, Depends(_form_as("editor"))]
AdminForm = Annotated[Submitted, Depends(_form_as("admin"))]


async def _form_write(request: Request, sent: Submitted, work: Callable[[Any], T],
                      done: Callable[[T], Response], refused: Callable[[Exception], Response],
                      missing_is_404: bool = True, org_id: str | None = None) -> Response:
    """The one write path of a form handler, after ``_form_as`` has signed the user in,
    checked the role and the CSRF token: ``work(session)`` runs through ``writes.write``, the
    API's path (queued for its turn, then a writer's transaction holding the organisation's
    chain lock first), so a web edit racing an API edit neither fails on SQLite's stale
    snapshot nor deadlocks on PostgreSQL. ``done(result)`` makes the answer (a redirect,
    mostly); a refused input (``InputError``, ``PermissionDenied``) goes to ``refused``, which
    renders the page again with the user's values and the error. NotFound is the 404 page
    unless ``missing_is_404`` is false (a form whose field names the missing thing). Both
    callbacks run on a worker thread: they read the database and render templates.
    ``org_id``: the organisation written to, when not the user's own (an invitation's)."""
    from prodsec.errors import InputError
    from prodsec.workspace import writes

    try:
        result = await writes.write(_state(request).database, org_id or sent.actor.org_id,
                                    work)
    except NotFound as exc:
        if missing_is_404:
            raise PageError(404, str(exc)) from None
        return await run_in_threadpool(refused, exc)
    except (InputError, PermissionDenied) as exc:
        return await run_in_threadpool(refused, exc)
    return await run_in_threadpool(done, result)


def _render(request: Request, name: str, context: dict[str, Any], status: int = 200,
            actor: Actor | None = None, csrf: str = "") -> HTMLResponse:
    web = getattr(request.app.state, "web", None)
    base = {"request": request, "actor": actor, "csrf": csrf, "categories": CATEGORIES,
            "path": request.url.path,
            "law_as_of": getattr(getattr(web, "kb", None), "law_as_of", None)}
    return templates.TemplateResponse(request, name, base | context, status_code=status)


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# ---- sign in / out ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return _login_form(request, _safe_next(next))


def _safe_next(target: str) -> str:
    """Only local paths: never redirect to another site after sign-in."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _login_form(request: Request, target: str, email: str = "", error: str | None = None,
                status: int = 200, organisations: list[str] | None = None) -> HTMLResponse:
    """The sign-in page with a fresh pre-session CSRF token, in the form and in a cookie only
    this site can set: a cross-site form cannot sign a victim in to the attacker's account."""
    token = secrets.token_urlsafe(32)
    response = _render(request, "login.html.j2", {
        "next": target, "email": email, "error": error, "login_csrf": token,
        "organisations": organisations or []}, status)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=_state(request).secure_cookies or request.url.scheme == "https",
                        max_age=3600)
    return response


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, email: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/",
          csrf_token: Annotated[str, Form()] = "",
          organisation: Annotated[str, Form()] = "") -> Response:
    from prodsec.workspace import devices
    from prodsec.workspace.sessions import LoginThrottled, create_session, csrf_matches, sign_in
    from prodsec.workspace.users import OrganisationChoice

    email, target = email.strip().lower(), _safe_next(next[:2048])
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not csrf_matches(expected, csrf_token):
        return _login_form(request, target, email, "This sign-in form has expired or did not "
                           "come from this site; please sign in again.", 403)
    if len(email) > 320 or len(password) > 1024 or len(organisation) > 200:
        return _login_form(request, target, email[:320], "E-mail or password is wrong.", 401)
    state = _state(request)
    try:
        actor = sign_in(state.database, state.limiter, email, password, _client(request),
                        organisation or None, request.cookies.get(devices.COOKIE))
    except LoginThrottled as exc:
        return _login_form(request, target, email, "Too many failed sign-ins. Try again in "
                           f"{_wait_text(exc.retry_after)}.", 429)
    except OrganisationChoice as exc:
        return _login_form(request, target, email, "This account belongs to several "
                           "organisations: choose one and enter the password again.",
                           organisations=exc.organisations)
    if actor is None:
        return _login_form(request, target, email, "E-mail or password is wrong.", 401)
    with state.database.transaction() as session:
        secret, _csrf = create_session(session, actor)
    response = _redirect(target)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", path="/",
                        secure=state.secure_cookies or request.url.scheme == "https",
                        max_age=12 * 3600)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    set_device_cookie(response, email, state.secure_cookies or request.url.scheme == "https")
    return response


def set_device_cookie(response: Response, email: str, secure: bool) -> None:
    """A fresh known-device cookie for the account just signed in to (``devices``): HttpOnly,
    SameSite=Strict, sent with sign-in attempts only."""
    from prodsec.workspace import devices

    response.set_cookie(devices.COOKIE, devices.issue(email), max_age=devices.max_age(),
                        httponly=True, samesite="strict", path="/", secure=secure)


def _client(request: Request) -> str:
    """The client's address for the limiter: proxy-aware with the API's trusted proxies."""
    from prodsec.api.clients import request_client

    api = getattr(request.app.state, "prodsec", None)
    return request_client(request, api.settings.trusted_proxies if api else ())


def _wait_text(seconds: int) -> str:
    return f"{seconds} seconds" if seconds < 120 else f"{seconds // 60 + 1} minutes"


@router.post("/logout")
async def logout(request: Request, sent: ViewerForm) -> Response:
    from prodsec.workspace.sessions import end_session

    def signed_out(_result: None) -> Response:
        response = _redirect("/login")
        response.delete_cookie(COOKIE, path="/")
        return response

    return await _form_write(request, sent, lambda s: end_session(
        s, request.cookies.get(COOKIE, "")), signed_out, _error_page)


def _error_page(exc: Exception) -> Response:
    raise PageError(_status(exc), str(exc))


# ---- knowledge pages ------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def home(request: Request) -> Response:
    _who(request)
    return _redirect("/portfolio")


@router.get("/landscape", response_class=HTMLResponse)
def landscape_page(request: Request) -> HTMLResponse:
    from prodsec.services import knowledge, landscape

    actor, csrf = _who(request)
    kb = _state(request).kb
    pictures = {kind: _svg(landscape.render(kb, kind, "svg", (), lambda i: f"/regulations/{i}"))
                for kind in ("rigor", "scope")}
    return _render(request, "landscape.html.j2", {
        "pictures": pictures, "regulations": knowledge.regulations(kb)}, actor=actor, csrf=csrf)


def _svg(data: bytes) -> Markup:
    """The inline picture: matplotlib's SVG of the knowledge base (it escapes its text, and
    nothing in it comes from a user), so it is markup of ours."""
    text = data.decode("utf-8")
    return Markup(text[text.index("<svg"):])


@router.get("/regulations/{reg_id}", response_class=HTMLResponse)
def regulation_page(request: Request, reg_id: str) -> HTMLResponse:
    from prodsec.errors import NotFoundError
    from prodsec.services import knowledge

    actor, csrf = _who(request)
    kb = _state(request).kb
    try:
        reg = knowledge.regulation(kb, reg_id)
    except NotFoundError as exc:
        raise PageError(404, str(exc)) from None
    related = {q["id"]: knowledge.mappings(kb, q["id"], 1)["related"]
               for reqs in reg["requirements"].values() for q in reqs}
    return _render(request, "regulation.html.j2", {"reg": reg, "related": related,
                                                   "today": _today().isoformat()},
                   actor=actor, csrf=csrf)


# ---- products ---------------------------------------------------------------------------------


def _wizard_context(request: Request, form: Any = None, errors: dict[str, str] | None = None,
                    preview: Any = None) -> dict[str, Any]:
    kb = _state(request).kb
    return {"questions": questions(kb.data["vocabulary"]), "form": form or {},
            "errors": errors or {}, "preview": preview}


@router.get("/products/new", response_class=HTMLResponse)
def wizard(request: Request) -> HTMLResponse:
    actor, csrf = _who(request)
    return _render(request, "wizard.html.j2", _wizard_context(request), actor=actor, csrf=csrf)


def _form_values(form: Any) -> dict[str, Any]:
    """Entered values, kept for re-display (lists for multi-value fields)."""
    out: dict[str, Any] = {}
    for key in set(form.keys()):
        values = form.getlist(key)
        out[key] = values if len(values) > 1 or key in ("markets", "radio", "functions",
                                                         "sector_law") else values[0]
    return out


def _profile_errors(exc: Exception) -> dict[str, str]:
    problems = getattr(exc, "problems", None) or []
    errors: dict[str, str] = {}
    for p in problems:
        key = p.field.split("[")[0].split(".")[0]
        errors.setdefault(key, p.message)
    return errors


def _preview(kb: Any, raw: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    from prodsec.core.applicability import Engine
    from prodsec.core.profile import ProfileError, parse_profile

    try:
        profile = parse_profile(raw | {"name": raw.get("name") or "preview",
                                       "markets": raw.get("markets") or ["EU"]}, kb.vocabulary)
    except ProfileError as exc:
        return None, _profile_errors(exc)
    return Engine(kb).check(profile, _today()).to_dict(), {}


@router.post("/products/preview", response_class=HTMLResponse)
def wizard_preview(request: Request, sent: ViewerForm) -> HTMLResponse:
    """What the answers so far would mean: computes, stores nothing (any role, like the API's
    ``/check``)."""
    form = sent.form
    preview, _errors = _preview(_state(request).kb, profile_from_form(form, form.getlist))
    return _render(request, "_preview.html.j2", {"preview": preview}, actor=sent.actor,
                   csrf=sent.csrf)


@router.post("/products/new", response_class=HTMLResponse)
async def wizard_save(request: Request, sent: EditorForm) -> Response:
    from prodsec.core.profile import ProfileError, parse_profile

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = _state(request)
    raw = profile_from_form(form, form.getlist)
    values = _form_values(form)

    def refused(exc: Exception) -> Response:
        if isinstance(exc, ProfileError):
            return _render(request, "wizard.html.j2",
                           _wizard_context(request, values, _profile_errors(exc)), 422, actor, csrf)
        field = getattr(exc, "field", "name").split(".")[-1]
        return _render(request, "wizard.html.j2",
                       _wizard_context(request, values, {field: str(exc)}), _status(exc), actor, csrf)

    if form.get("action") == "preview":
        preview, errors = await run_in_threadpool(_preview, state.kb, raw)
        return await run_in_threadpool(
            _render, request, "wizard.html.j2", _wizard_context(request, values, errors, preview),
            200, actor, csrf)
    try:  # parsed before the write queue: a wrong answer never waits for a writer's turn
        await run_in_threadpool(parse_profile, raw, state.kb.vocabulary, "wizard")
    except ProfileError as exc:
        return await run_in_threadpool(refused, exc)
    return await _form_write(request, sent, lambda s: _add_product(s, actor, state.kb, raw, "wizard"),
                             lambda pid: _redirect(f"/products/{pid}"), refused)


def _add_product(session: Any, actor: Actor, kb: Any, raw: dict[str, Any], source: str) -> str:
    """A new product and its first assessment, in the caller's write transaction."""
    from prodsec.workspace import products

    product = products.add_product(session, actor, kb, raw, source)
    products.assess(session, actor, kb, product.id, _today())
    return str(product.id)


@router.post("/products/import", response_class=HTMLResponse)
async def import_profile(request: Request, sent: EditorForm) -> Response:
    """A profile file (YAML or JSON): parsed in the threadpool, never on the event loop, and
    before the write queue."""
    from prodsec.core.profile import ProfileError
    from prodsec.errors import InputError
    from prodsec.services.check import parse_document

    actor, csrf, upload = sent.actor, sent.csrf, sent.form.get("profile")
    state = _state(request)

    def refused(exc: Exception) -> Response:
        return _render(request, "wizard.html.j2", _wizard_context(
            request, {}, {"profile": str(exc)}), _status(exc), actor, csrf)

    try:
        if upload is None or isinstance(upload, str):
            raise ValidationFailed("profile", "choose a profile file (.yaml or .json)")
        data = await upload.read(1_000_001)
        if len(data) > 1_000_000:
            raise ValidationFailed("profile", "the file is larger than 1 MB")
        name = upload.filename or "profile"
        try:  # bounded, no YAML aliases (a 357-byte alias bomb hung the loop for 35 s)
            raw = await run_in_threadpool(parse_document, data, name, name.endswith(".json"))
        except ProfileError as exc:
            raise ValidationFailed("profile", str(exc)) from None
    except InputError as exc:
        return await run_in_threadpool(refused, exc)
    return await _form_write(request, sent, lambda s: _add_product(s, actor, state.kb, raw, name),
                             lambda pid: _redirect(f"/products/{pid}"), refused)


def _status(exc: Exception) -> int:
    """The status of a refused form: 403 role, 404 no such object here, 409 conflict, 422
    anything else wrong in the input (the API's answers for the same errors)."""
    return (403 if isinstance(exc, PermissionDenied) else 404 if isinstance(exc, NotFound)
            else 409 if isinstance(exc, Conflict) else 422)


def _product_data(request: Request, actor: Actor, pid: str) -> dict[str, Any]:
    from prodsec.documents.render import KINDS, list_records
    from prodsec.workspace import gaps, products

    state = _state(request)
    with state.database.transaction() as session:
        try:
            product = products.get_product(session, actor, pid)
        except NotFound as exc:
            raise PageError(404, str(exc)) from None
        assessments = products.current_assessments(session, actor, product.id)
        view = products.product_view(product)
        summary = gaps.product_gaps(session, actor, state.kb, product.id, _today())
        records = list_records(session, actor, product.id, state.kb)[:20]
    kinds = [{"name": k.name, "title": k.title, "formats": k.formats}
             for k in KINDS.values() if k.needs_product]
    return {"product": view, "assessments": [products.assessment_view(a) for a in assessments],
            "verdicts": {a.regulation_id: a.verdict for a in assessments}, "gaps": summary,
            "document_kinds": kinds, "documents": records}


@router.post("/products/{pid}/documents", response_class=HTMLResponse)
async def generate_document(request: Request, pid: str, sent: EditorForm) -> Response:
    """Generate a document (a write: it stores a generation record, so editors and admins
    only, as in the API); when information is missing, say what and where to enter it."""
    from prodsec.documents.facts import MissingInformation, UnverifiedFacts
    from prodsec.documents.render import MEDIA
    from prodsec.documents.render import render as render_document

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = _state(request)
    name, fmt = str(form.get("kind") or ""), str(form.get("format") or "html")
    draft = form.get("draft") == "1"
    # answers to OJ-listing restrictions, as the refusal page's questions send them
    answers = {str(k).removeprefix("restriction:"): str(v) for k, v in form.multi_items()
               if str(k).startswith("restriction:") and v}

    def refused(exc: Exception) -> Response:
        if isinstance(exc, MissingInformation | UnverifiedFacts):
            missing, unverified = ((exc.missing, []) if isinstance(exc, MissingInformation)
                                   else ([], exc.facts))
            return _render(request, "missing.html.j2", {
                "kind": name, "format": fmt, "pid": pid, "missing": missing,
                "unverified": unverified, "answers": answers,
                "questions": [m for m in missing if m.key.startswith("restriction.")]},
                422, actor, csrf)
        raise PageError(403 if isinstance(exc, PermissionDenied) else 422, str(exc))

    def done(data: bytes) -> Response:
        disposition = "inline" if fmt == "html" else "attachment"
        filename = f"{name}{'-draft' if draft else ''}.{fmt}"
        return Response(data, media_type=MEDIA[fmt],
                        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'})

    return await _form_write(request, sent, lambda s: render_document(
        name, s, actor, pid, fmt, draft=draft, kb=state.kb, answers=answers)[0], done, refused)


@router.post("/products/{pid}/documents/acknowledge", response_class=HTMLResponse)
async def acknowledge_facts(request: Request, pid: str, sent: EditorForm) -> Response:
    """Confirm the unverified facts ticked on the refusal page (stored and audited), then
    show the page again: the document can be generated once none is left."""
    from prodsec.documents.acknowledge import acknowledge, pending

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = _state(request)
    name, fmt = str(form.get("kind") or ""), str(form.get("format") or "html")
    keys = [str(k) for k in form.getlist("fact")]
    answers = {str(k).removeprefix("restriction:"): str(v) for k, v in form.multi_items()
               if str(k).startswith("restriction:") and v}

    def done(_result: object) -> Response:
        with state.database.transaction() as session:
            left = pending(session, actor, name, pid, kb=state.kb)
        return _render(request, "missing.html.j2", {"kind": name, "format": fmt, "pid": pid,
                                                    "missing": [], "unverified": left,
                                                    "confirmed": len(keys), "answers": answers,
                                                    "questions": []},
                       200, actor, csrf)

    return await _form_write(request, sent, lambda s: acknowledge(
        s, actor, name, pid, keys, str(form.get("reason") or ""), kb=state.kb), done, _error_page)


@router.get("/products/{pid}", response_class=HTMLResponse)
def product_page(request: Request, pid: str) -> HTMLResponse:
    from prodsec.services import landscape

    actor, csrf = _who(request)
    data = _product_data(request, actor, pid)
    binding = {r for r, v in data["verdicts"].items()
               if v.get("status") in ("required", "upcoming", "voluntary")}
    kb = _state(request).kb
    data["svg"] = _svg(landscape.render(kb, "rigor", "svg", binding, lambda i: f"/regulations/{i}"))
    data["timeline"] = _timeline(kb, data["verdicts"], binding)
    return _render(request, "product.html.j2", data, actor=actor, csrf=csrf)


def _timeline(kb: Any, verdicts: dict[str, Any], binding: set[str]) -> list[dict[str, Any]]:
    today = _today().isoformat()
    events = []
    for reg_id in sorted(binding):
        reg = kb.regulations[reg_id]
        for d in reg["dates"]:
            events.append({"date": d["date"], "regulation": reg["short_name"], "text": d["text"],
                           "past": d["date"] <= today})
        for ob in verdicts[reg_id].get("obligations", []):
            events.append({"date": ob["applies_from"], "regulation": reg["short_name"],
                           "text": f"{_obligation_word(ob)}: {ob['title']}",
                           "past": ob["applies_from"] <= today})
    return sorted(events, key=lambda e: (e["date"], e["regulation"]))


def _obligation_word(ob: dict[str, Any]) -> str:
    """A voluntary label's condition is never an obligation that applies (nor is it missed)."""
    return {"voluntary": "To do for the label", "on-event": "In force, triggered by an event"}.get(
        str(ob.get("nature")), "Obligations apply")


@router.post("/products/{pid}/releases", response_class=HTMLResponse)
async def add_release(request: Request, pid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import products

    actor, csrf, form = sent.actor, sent.csrf, sent.form

    def refused(exc: Exception) -> Response:
        data = _product_data(request, actor, pid)
        data |= {"release_error": str(exc), "release_form": _form_values(form), "svg": "",
                 "timeline": []}
        return _render(request, "product.html.j2", data, _status(exc), actor, csrf)

    def work(session: Any) -> None:
        placed = _date(form.get("placed_on_market"), "placed_on_market")
        end = _date(form.get("support_end"), "support_end")
        products.add_release(session, actor, pid, str(form.get("version_label") or ""),
                             placed, end, str(form.get("support_rationale") or ""))

    return await _form_write(request, sent, work,
                             lambda _r: _redirect(f"/products/{pid}#releases"), refused)


def _date(value: Any, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(field, "expected a date YYYY-MM-DD") from None


# ---- assessment board -----------------------------------------------------------------------


def _board_data(request: Request, actor: Actor, pid: str, status: str = "", category: str = "",
                q: str = "") -> dict[str, Any]:
    from prodsec.workspace import compliance, gaps, products

    state = _state(request)
    kb = state.kb
    with state.database.transaction() as session:
        try:
            product = products.get_product(session, actor, pid)
        except NotFound as exc:
            raise PageError(404, str(exc)) from None
        controls = compliance.list_controls(session, actor)
        instruments = []
        for a in products.current_assessments(session, actor, product.id):
            if a.status not in gaps.BINDING:
                continue
            rows = compliance.statuses_of(session, actor, a.id)
            progress = gaps.instrument_gaps(kb, a, rows)
            shown = [_row(session, actor, kb, r, controls) for r in rows
                     if (not status or r.status == status) and (not category or r.category == category)
                     and (not q or q.lower() in (r.requirement_id + " " + kb.requirements.get(
                         r.requirement_id, {}).get("title", "")).lower())]
            instruments.append({"assessment": products.assessment_view(a), "progress": progress,
                                "rows": shown})
        return {"product": products.product_view(product), "instruments": instruments,
                "controls": [compliance.control_view(c) for c in controls],
                "filters": {"status": status, "category": category, "q": q},
                "statuses": compliance.STATUSES}


def _row(session: Any, actor: Actor, kb: Any, row: Any, controls: list[Any]) -> dict[str, Any]:
    """One requirement on the board: its status, text, evidence, and what else it counts for."""
    from prodsec.workspace import compliance
    from prodsec.workspace.products import status_view

    req = kb.requirements.get(row.requirement_id, {})
    linked = [c for c in controls if row.requirement_id in c.requirements]
    also = sorted({r for c in linked for r in c.requirements if r != row.requirement_id})
    return {"status": status_view(row), "title": req.get("title", ""), "text": req.get("text", ""),
            "citation": kb.cite(req.get("citation"), kb.document(kb.document_id(row.requirement_id)))
            if req else "", "controls": [c.name for c in linked], "also_satisfies": also,
            "related": [r["requirement"] for r in kb.related(row.requirement_id, 1)][:6]
            if row.requirement_id in kb.requirements else [],
            "evidence": [compliance.evidence_view(e) for e in
                         compliance.evidence_for_status(session, actor, row.id)]}


@router.get("/products/{pid}/board", response_class=HTMLResponse)
def board(request: Request, pid: str, status: str = "", category: str = "", q: str = "") -> HTMLResponse:
    actor, csrf = _who(request)
    data = _board_data(request, actor, pid, status, category, q)
    return _render(request, "board.html.j2", data | {"message": None, "error": None},
                   actor=actor, csrf=csrf)


@router.post("/products/{pid}/statuses/{sid}", response_class=HTMLResponse)
async def change_status(request: Request, pid: str, sid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import compliance

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    state = _state(request)

    def work(session: Any) -> None:
        try:
            version = int(str(form.get("version") or "0"))
        except ValueError:
            raise ValidationFailed("version", "expected a number") from None
        row = compliance.get_status(session, actor, sid)
        compliance.set_status(session, actor, row, str(form.get("status") or ""),
                              str(form.get("justification") or ""), version)

    def refused(exc: Exception) -> Response:
        if not isinstance(exc, Conflict):
            return _board_error(request, actor, csrf, pid, str(exc), sid, _status(exc), form)
        with state.database.transaction() as session:
            now = compliance.get_status(session, actor, sid)
            message = (f"Someone else changed {now.requirement_id} meanwhile: it is now "
                       f"'{now.status}'{' — ' + now.justification if now.justification else ''}. "
                       "Your change was not saved; review and save again.")
        return _board_error(request, actor, csrf, pid, message, sid, 412)

    return await _form_write(request, sent, work,
                             lambda _r: _redirect(f"/products/{pid}/board#s-{sid}"), refused)


def _board_error(request: Request, actor: Actor, csrf: str, pid: str, message: str, sid: str,
                 status: int, form: Any = None) -> HTMLResponse:
    data = _board_data(request, actor, pid)
    entered = _form_values(form) if form is not None else None
    return _render(request, "board.html.j2", data | {
        "message": None, "error": {"sid": sid, "text": message, "form": entered}}, status, actor, csrf)


@router.post("/products/{pid}/statuses/{sid}/evidence", response_class=HTMLResponse)
async def upload_evidence(request: Request, pid: str, sid: str, sent: EditorForm) -> Response:
    """Attach a file or a link; async only to stage the upload and queue for the write
    (``writes``), which run the database work on worker threads."""
    from anyio import to_thread

    from prodsec.workspace import compliance, staging, writes

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    upload = form.get("file")
    url = str(form.get("url") or "").strip() or None
    state = _state(request)
    store = state.database.evidence_dir
    has_file = upload is not None and not isinstance(upload, str) and upload.filename
    title = str(form.get("title") or "").strip() or (upload.filename if has_file else url) or ""
    try:
        expires = _date(form.get("expires_on"), "expires_on")
        # The file is staged before the write transaction begins: it only inserts rows.
        with staging.staged(store, compliance.MAX_EVIDENCE_BYTES) as file:
            if has_file:
                await to_thread.run_sync(staging.copy_into, file, upload.file)

            def insert(session: Any) -> None:
                row = compliance.get_status(session, actor, sid)
                item = compliance.add_evidence(
                    session, actor, store, title, staged=file if has_file else None,
                    filename=upload.filename if has_file else None,
                    media_type=upload.content_type if has_file else None,
                    url=None if has_file else url, expires_on=expires)
                compliance.link_evidence(session, actor, item, status=row)

            await writes.write(state.database, actor.org_id, insert)
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    except (ValidationFailed, PermissionDenied) as exc:
        return await to_thread.run_sync(_board_error, request, actor, csrf, pid, str(exc), sid,
                                        _status(exc), form)
    return _redirect(f"/products/{pid}/board#s-{sid}")


@router.post("/products/{pid}/statuses/{sid}/control", response_class=HTMLResponse)
async def link_control(request: Request, pid: str, sid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import compliance

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    kb = _state(request).kb

    def work(session: Any) -> None:
        row = compliance.get_status(session, actor, sid)
        name = str(form.get("control") or "").strip()
        new_name = str(form.get("new_control") or "").strip()
        if new_name:
            compliance.add_control(session, actor, kb, new_name, [row.requirement_id])
        elif name:
            control = compliance.get_control(session, actor, name)
            compliance.update_control(session, actor, kb, control, {
                "requirements": [*control.requirements, row.requirement_id]}, control.version)
        else:
            raise ValidationFailed("control", "choose a control or name a new one")

    return await _form_write(
        request, sent, work, lambda _r: _redirect(f"/products/{pid}/board#s-{sid}"),
        lambda exc: _board_error(request, actor, csrf, pid, str(exc), sid, _status(exc), form))


# ---- vulnerabilities: SBOMs, findings, triage, VEX and CSAF ----------------------------------


def _findings_data(request: Request, actor: Actor, pid: str) -> dict[str, Any]:
    """The page's data: per release its SBOM (with the stored quality report) and finding
    counts, every finding, the authored CSAF documents; no error and no import summary yet."""
    from prodsec.core.assembly import PART_KINDS
    from prodsec.workspace import csaf_documents, products, vex
    from prodsec.workspace.vulnerabilities import list_findings, list_sbom_parts, sbom_reports

    with _state(request).database.transaction() as session:
        try:
            product = products.get_product(session, actor, pid)
        except NotFound as exc:
            raise PageError(404, str(exc)) from None
        findings = list_findings(session, actor, product.id)
        view = products.product_view(product)
        sboms = sbom_reports(session, actor, [r["id"] for r in view["releases"]])
        parts = {r["id"]: list_sbom_parts(session, actor, product.id, r["version_label"])
                 for r in view["releases"] if r["id"] in sboms}
        documents = [csaf_documents.document_view(row)
                     for row in csaf_documents.list_documents(session, actor, product.id)]
    releases = [r | {"sbom": sboms.get(r["id"]), "parts": parts.get(r["id"], []),
                     "counts": _counts(findings, r["id"])} for r in view["releases"]]
    return {"product": view, "findings": findings, "releases": releases, "documents": documents,
            "part_kinds": list(PART_KINDS),
            "states": vex.STATES, "justifications": vex.JUSTIFICATIONS, "error": None,
            "form_error": None, "vex_summary": None}


def _counts(findings: list[dict[str, Any]], release_id: str) -> dict[str, int]:
    mine = [f for f in findings if f["release_id"] == release_id]
    return {"findings": len(mine), "known_exploited": sum(f["known_exploited"] for f in mine),
            "in_triage": sum(f["state"] == "in_triage" for f in mine)}


def _vulnerabilities(request: Request, actor: Actor, csrf: str, pid: str, status: int = 200,
                     **extra: Any) -> HTMLResponse:
    data = _findings_data(request, actor, pid) | extra
    data["findings"].sort(key=lambda f: (not f["known_exploited"], f["state"] != "in_triage",
                                         f["vulnerability"]))
    return _render(request, "vulnerabilities.html.j2", data, status, actor, csrf)


@router.get("/products/{pid}/vulnerabilities", response_class=HTMLResponse)
def vulnerabilities_page(request: Request, pid: str) -> HTMLResponse:
    """Releases with their SBOM, VEX downloads and CSAF advisories; findings of every release
    (known-exploited first) with their VEX triage state."""
    actor, csrf = _who(request)
    return _vulnerabilities(request, actor, csrf, pid)


@router.post("/products/{pid}/vex", response_class=HTMLResponse)
async def set_vex(request: Request, pid: str, sent: EditorForm) -> Response:
    from prodsec.workspace import vex

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    return await _form_write(request, sent, lambda s: vex.set_statement(
        s, actor, pid, str(form.get("vulnerability") or ""), str(form.get("state") or ""),
        justification=str(form.get("justification") or "") or None,
        detail=str(form.get("detail") or "")),
        lambda _r: _redirect(f"/products/{pid}/vulnerabilities"),
        lambda exc: _vulnerabilities(request, actor, csrf, pid, _status(exc), error=str(exc)))


async def _upload(form: Any, what: str) -> tuple[bytes, str]:
    """The uploaded file's bytes and name, refused when missing or over the file limit."""
    from prodsec.formats._io import MAX_BYTES

    upload = form.get("file")
    if upload is None or isinstance(upload, str) or not upload.filename:
        raise ValidationFailed("file", f"choose {what} file")
    data = await upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationFailed("file", f"{upload.filename} is larger than the limit of "
                                       f"{MAX_BYTES} bytes")
    return data, str(upload.filename)


@router.post("/products/{pid}/sbom", response_class=HTMLResponse)
async def import_sbom(request: Request, pid: str, sent: EditorForm) -> Response:
    """A release's SBOM file: stored with its quality report, findings recomputed. Async only
    to parse off the writer queue and then queue (``writes``): database work and parsing run
    on worker threads."""
    from prodsec.errors import InputError
    from prodsec.workspace import writes
    from prodsec.workspace.vulnerabilities import check_part, get_release, parse_sbom
    from prodsec.workspace.vulnerabilities import import_sbom as store

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "")
    part = str(form.get("part") or "").strip() or "main"
    kind = str(form.get("kind") or "") or "application"
    database = _state(request).database
    try:
        check_part(part, kind)
        data, name = await _upload(form, "an SBOM")
        await writes.read(database, lambda s: get_release(s, actor, pid, release))  # 404
        parsed = await run_in_threadpool(parse_sbom, data, name)  # before the transaction
        release_id = str((await writes.write(database, actor.org_id, lambda s: store(
            s, actor, pid, release, data, name, parsed, part=part, kind=kind)))["release_id"])
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    except (InputError, PermissionDenied) as exc:
        return await run_in_threadpool(_vulnerabilities, request, actor, csrf, pid, _status(exc),
                                       form_error={"form": "sbom", "release": release,
                                                   "text": str(exc)})
    return _redirect(f"/products/{pid}/vulnerabilities#release-{release_id}")


@router.post("/products/{pid}/sbom/remove", response_class=HTMLResponse)
def remove_sbom_part(request: Request, pid: str, sent: EditorForm) -> Response:
    """One SBOM part of a release removed; the rest re-assembled, findings recomputed."""
    from prodsec.workspace.vulnerabilities import remove_sbom_part as remove

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "")
    try:
        with _state(request).database.transaction() as session:
            release_id = str(remove(session, actor, pid, release,
                                    str(form.get("part") or ""))["release_id"])
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    except (ValidationFailed, PermissionDenied) as exc:
        return _vulnerabilities(request, actor, csrf, pid, _status(exc),
                                form_error={"form": "sbom", "release": release,
                                            "text": str(exc)})
    return _redirect(f"/products/{pid}/vulnerabilities#release-{release_id}")


@router.post("/products/{pid}/vex/import", response_class=HTMLResponse)
async def import_vex(request: Request, pid: str, sent: EditorForm) -> Response:
    """A supplier's VEX file (CycloneDX, OpenVEX or CSAF): the page shows what was imported
    and what was refused, and why (importing the same file again changes nothing). Async only
    to parse off the writer queue and then queue, as ``import_sbom``."""
    from prodsec.errors import InputError
    from prodsec.formats.vex import parse_vex
    from prodsec.workspace import writes
    from prodsec.workspace.products import get_product
    from prodsec.workspace.vex_import import import_summary
    from prodsec.workspace.vulnerabilities import get_release

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "") or None
    database = _state(request).database

    def exists(session: Any) -> None:  # 404 before the file is parsed
        get_product(session, actor, pid)
        if release:
            get_release(session, actor, pid, release)

    try:
        data, name = await _upload(form, "a VEX")
        await writes.read(database, exists)
        parsed = await run_in_threadpool(parse_vex, data, name)  # before the transaction
        summary = await writes.write(database, actor.org_id, lambda s: (
            import_summary(s, actor, pid, data, name, release, parsed)))
    except NotFound as exc:
        raise PageError(404, str(exc)) from None
    except (InputError, PermissionDenied) as exc:
        return await run_in_threadpool(_vulnerabilities, request, actor, csrf, pid, _status(exc),
                                       form_error={"form": "vex", "release": release or "",
                                                   "text": str(exc)})
    return await run_in_threadpool(_vulnerabilities, request, actor, csrf, pid,
                                   422 if summary["refused"] else 200, vex_summary=summary)


@router.post("/products/{pid}/csaf", response_class=HTMLResponse)
async def author_csaf(request: Request, pid: str, sent: EditorForm) -> Response:
    """Author a CSAF advisory for a release: validated, stored, then listed for download."""
    from prodsec.workspace.csaf_author import author

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    release = str(form.get("release") or "")
    title = str(form.get("title") or "").strip()
    cvss = str(form.get("cvss") or "")

    def refused(exc: Exception) -> Response:
        return _vulnerabilities(request, actor, csrf, pid, _status(exc), form_error={
            "form": "csaf", "release": release, "text": str(exc), "title": title, "cvss": cvss})

    try:
        vectors = _vector_lines(cvss)
    except ValidationFailed as exc:
        return await run_in_threadpool(refused, exc)
    return await _form_write(request, sent, lambda s: str(author(
        s, actor, pid, release, "csaf_security_advisory", title=title or None,
        cvss=vectors).id),
        lambda doc_id: _redirect(f"/products/{pid}/vulnerabilities#csaf-{doc_id}"), refused)


def _vector_lines(text: str) -> dict[str, str]:
    """``ID=VECTOR`` per line (blank lines ignored), as the CLI's repeated ``--cvss``."""
    vectors = {}
    for line in text.splitlines():
        name, sep, vector = line.strip().partition("=")
        if not line.strip():
            continue
        if not sep or not name.strip() or not vector.strip():
            raise ValidationFailed("cvss", f"{line.strip()!r}: expected ID=VECTOR")
        vectors[name.strip()] = vector.strip()
    return vectors


@router.post("/products/{pid}/csaf/{doc_id}/publish", response_class=HTMLResponse)
async def publish_csaf(request: Request, pid: str, doc_id: str, sent: EditorForm) -> Response:
    """Publish a CSAF document (interim or final): audited, a new immutable revision."""
    from prodsec.workspace import csaf_documents
    from prodsec.workspace.csaf_author import publish

    actor, csrf, form = sent.actor, sent.csrf, sent.form

    def work(session: Any) -> None:
        row = csaf_documents.get_document(session, actor, pid, doc_id)
        publish(session, actor, row.id, str(form.get("status") or ""),
                str(form.get("summary") or "").strip()[:2000])

    return await _form_write(
        request, sent, work, lambda _r: _redirect(f"/products/{pid}/vulnerabilities#csaf-{doc_id}"),
        lambda exc: _vulnerabilities(request, actor, csrf, pid, _status(exc), form_error={
            "form": "publish", "doc": doc_id, "release": "", "text": str(exc)}))


# ---- vulnerability reporting clocks ------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse)
def cases_page(request: Request) -> HTMLResponse:
    """CRA Article 14 cases: every report stage with its UTC deadline, overdue first."""

    actor, csrf = _who(request)
    return _cases(request, actor, csrf)


def _cases(request: Request, actor: Actor, csrf: str, status: int = 200,
           form_error: dict[str, Any] | None = None) -> HTMLResponse:
    """The cases page; each open case with the form of its next report, pre-filled from the
    draft (or from what was sent when the form was refused)."""
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports

    state = _state(request)
    with state.database.transaction() as session:
        cases = article14.list_cases(session, actor, state.kb)
        for c in cases:
            done = {s["stage"] for s in c["submissions"]}
            todo = [st for st in article14.STAGES if st not in done]
            if c["closed_at"] or not todo:
                continue
            draft = article14.draft(session, actor, state.kb, c["id"], todo[0])
            values = (form_error or {}).get("values") if (form_error or {}).get("case") == c["id"] else None
            content = values or draft["content"]
            c["next_form"] = {"stage": todo[0], "later": todo[1:], "blocked": draft["blocked"],
                              "items": [{"key": i.key, "label": i.label, "point": i.point,
                                         "required": i.required, "kind": i.kind,
                                         "value": content.get(i.key)}
                                        for i in reports.items_of(c["kind"], todo)]}
    return _render(request, "cases.html.j2", {"cases": cases, "form_error": form_error},
                   status=status, actor=actor, csrf=csrf)


@router.post("/cases/{case_id}/submit", response_class=HTMLResponse)
async def submit_report(request: Request, case_id: str, sent: EditorForm) -> Response:
    """Submit a case's next report from the form: refused out of order or with a required item
    empty, with the reason shown on the page (409 / 422, as the API)."""
    from prodsec.workspace import article14
    from prodsec.workspace import article14_reports as reports

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    kb = _state(request).kb
    stage = str(form.get("stage") or "")
    includes = tuple(str(v) for v in form.getlist("includes"))
    values: dict[str, Any] = {}

    def work(session: Any) -> None:
        case = article14.get_case(session, actor, case_id)
        stages = [st for st in article14.STAGES if st in (stage, *includes)] or [stage]
        for item in reports.items_of(case.kind, [s for s in stages if s in article14.STAGES]):
            raw = str(form.get(item.key) or "").strip()[:20000]
            values[item.key] = (
                [v.strip() for v in raw.split(",") if v.strip()] if item.kind == "list"
                else {"yes": True, "no": False}.get(raw) if item.kind == "bool" else raw)
        article14.submit(session, actor, kb, case_id, stage, None,
                         str(form.get("reference") or "").strip()[:300], values, includes)

    return await _form_write(request, sent, work, lambda _r: _redirect(f"/cases#case-{case_id}"),
                             lambda exc: _cases(request, actor, csrf, _status(exc), form_error={
                                 "case": case_id, "text": str(exc), "values": values}))


# ---- portfolio and administration ------------------------------------------------------------


@router.get("/portfolio", response_class=HTMLResponse)
def portfolio(request: Request) -> HTMLResponse:
    from prodsec.workspace import compliance, gaps, products

    actor, csrf = _who(request)
    state = _state(request)
    today = _today()
    rows, upcoming = [], []
    with state.database.transaction() as session:
        for product in compliance.products_of(session, actor):
            current = {a.regulation_id: a for a in products.current_assessments(session, actor, product.id)}
            summary = gaps.product_gaps(session, actor, state.kb, product.id, today)
            met = {i["regulation"]: i["percent_met"] for i in summary["instruments"]}
            rows.append({"product": product, "cells": {r: current.get(r) for r in _instruments(state.kb)},
                         "met": met, "expiring": summary["expiring_evidence"]})
            for a in current.values():
                obligations: list[dict[str, Any]] = a.verdict.get("obligations", [])  # type: ignore[assignment]
                for ob in obligations:
                    if ob["applies_from"] > today.isoformat():
                        upcoming.append({"date": ob["applies_from"], "product": product.name,
                                         "product_id": product.id, "regulation": a.regulation_id,
                                         "title": f"{_obligation_word(ob)}: {ob['title']}"})
    upcoming.sort(key=lambda u: (u["date"], u["product"]))
    return _render(request, "portfolio.html.j2", {
        "rows": rows, "instruments": _instruments(state.kb), "upcoming": upcoming[:30]},
        actor=actor, csrf=csrf)


def _instruments(kb: Any) -> list[str]:
    return [r["id"] for r in kb.product_regulations]


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request) -> HTMLResponse:
    """Products side by side (``?product=ID&product=ID``): what each promises and proves."""
    from prodsec.documents import comparison

    actor, csrf = _who(request)
    state = _state(request)
    refs = request.query_params.getlist("product")
    with state.database.transaction() as session:
        try:
            data = comparison.compare(session, actor, state.kb, refs, _today())
        except NotFound as exc:
            raise PageError(404, str(exc)) from None
        except ValidationFailed as exc:
            return _render(request, "compare.html.j2", {"data": None, "error": exc.detail},
                           422, actor, csrf)
    return _render(request, "compare.html.j2", {"data": data, "error": None,
                                                "query": request.url.query}, actor=actor, csrf=csrf)


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request) -> HTMLResponse:
    actor, csrf = _who(request)
    _permit(actor, "admin")
    return _render(request, "admin.html.j2", _admin_data(request, actor) | {
        "error": None, "form": {}, "secret": None}, actor=actor, csrf=csrf)


def _admin_data(request: Request, actor: Actor) -> dict[str, Any]:
    """The organisation's members and tokens, through the same service calls as the API."""
    from prodsec.workspace import users

    with _state(request).database.transaction() as session:
        members, _n = users.list_members(session, actor, limit=500)
        tokens, _n = users.list_tokens(session, actor, limit=500)
        return {"members": [users.member_view(u, m) for u, m in members],
                "tokens": [users.token_view(t, email) for t, email in reversed(tokens)],
                "invitations": users.list_invitations(session, actor), "invited": None}


@router.post("/admin/users", response_class=HTMLResponse)
async def admin_add_user(request: Request, sent: AdminForm) -> Response:
    """Invite an address: ``users.add_member``, the rule the API applies (the same answer,
    an invitation, whether or not the address has an account anywhere)."""
    from prodsec.workspace.users import add_member

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    email = str(form.get("email") or "").strip()
    return await _form_write(request, sent, lambda s: add_member(
        s, actor, email, str(form.get("role") or ""), str(form.get("password") or ""),
        str(form.get("name") or "")),
        lambda _r: _render(request, "admin.html.j2", _admin_data(request, actor) | {
            "error": None, "form": {}, "secret": None, "invited": email}, actor=actor, csrf=csrf),
        lambda exc: _admin_error(request, sent, exc, "email"), missing_is_404=False)


@router.post("/admin/invitations/{iid}/cancel", response_class=HTMLResponse)
async def admin_cancel_invitation(request: Request, iid: str, sent: AdminForm) -> Response:
    from prodsec.workspace.users import cancel_invitation

    return await _form_write(request, sent, lambda s: cancel_invitation(s, sent.actor, iid),
                             lambda _r: _redirect("/admin"), _error_page)


# ---- invitations of the signed-in user ---------------------------------------------------------


@router.get("/account/invitations", response_class=HTMLResponse)
def invitations_page(request: Request) -> HTMLResponse:
    actor, csrf = _who(request)
    return _invitations(request, actor, csrf)


def _invitations(request: Request, actor: Actor, csrf: str, joined: str | None = None
                 ) -> HTMLResponse:
    from prodsec.workspace.users import my_invitations

    with _state(request).database.transaction() as session:
        mine = my_invitations(session, actor.user_id)
    return _render(request, "invitations.html.j2", {"invitations": mine, "joined": joined},
                   actor=actor, csrf=csrf)


@router.post("/account/invitations/{iid}/{answer}", response_class=HTMLResponse)
async def answer_invitation(request: Request, iid: str, answer: str, sent: ViewerForm
                            ) -> Response:
    """Accept (a membership with the invited role) or decline an invitation of one's own."""
    from prodsec.workspace import writes
    from prodsec.workspace.users import (
        accept_invitation,
        decline_invitation,
        invitation_org,
        organisation_name,
    )

    actor = sent.actor
    if answer not in ("accept", "decline"):
        raise PageError(404, "There is no such page.")
    try:  # the answer is written to the inviting organisation's chain: take its turn
        org_id = await writes.read(_state(request).database,
                                   lambda s: invitation_org(s, actor.user_id, iid))
    except NotFound as exc:
        raise PageError(404, str(exc)) from None

    def work(session: Any) -> str | None:
        if answer == "decline":
            decline_invitation(session, actor.user_id, iid)
            return None
        return organisation_name(session, accept_invitation(session, actor.user_id, iid))

    return await _form_write(request, sent, work,
                             lambda joined: _invitations(request, actor, sent.csrf, joined),
                             _error_page, org_id=org_id)


def _admin_error(request: Request, sent: Submitted, exc: Exception, field: str) -> Response:
    """The admin page again, with the error under ``field`` and the values entered."""
    return _render(request, "admin.html.j2", _admin_data(request, sent.actor) | {
        "error": {"field": getattr(exc, "field", field), "text": str(exc)},
        "form": _form_values(sent.form), "secret": None}, _status(exc), sent.actor, sent.csrf)


@router.post("/admin/tokens", response_class=HTMLResponse)
async def admin_add_token(request: Request, sent: AdminForm) -> Response:
    from prodsec.workspace.users import create_token

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    return await _form_write(request, sent, lambda s: create_token(
        s, actor, str(form.get("user") or ""), str(form.get("name") or "token"), 365)[0],
        lambda secret: _render(request, "admin.html.j2", _admin_data(request, actor) | {
            "error": None, "form": {}, "secret": secret}, actor=actor, csrf=csrf),
        lambda exc: _admin_error(request, sent, exc, "user"), missing_is_404=False)


# ---- passwords: change your own, an admin's reset, choosing one with the reset secret -------


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request) -> HTMLResponse:
    actor, csrf = _who(request)
    return _render(request, "password.html.j2", {"error": None, "done": False},
                   actor=actor, csrf=csrf)


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, sent: ViewerForm) -> Response:
    """``users.change_password`` under the login limiter (a wrong current password is a
    failed login); the other sessions of the user end, this one stays."""
    from prodsec.workspace.throttle import account_key, client_key
    from prodsec.workspace.users import change_password

    actor, csrf, form = sent.actor, sent.csrf, sent.form
    limiter = _state(request).limiter
    keys = (account_key(actor.email), client_key(_client(request)))
    wait = await run_in_threadpool(limiter.claim, *keys)
    if wait:
        return await run_in_threadpool(_render, request, "password.html.j2", {
            "error": {"field": "current_password",
                      "text": f"Too many wrong passwords. Try again in {_wait_text(wait)}."},
            "done": False}, 429, actor, csrf)

    settled = []  # the claim is given back exactly once: failed, succeeded or released

    def refused(exc: Exception) -> Response:
        wrong = isinstance(exc, ValidationFailed) and exc.field == "current_password"
        settled.append((limiter.failed if wrong else limiter.release)(*keys))
        return _render(request, "password.html.j2", {"error": {
            "field": getattr(exc, "field", "current_password"),
            "text": getattr(exc, "detail", str(exc))}, "done": False}, _status(exc), actor, csrf)

    def done(_ended: int) -> Response:
        settled.append(limiter.succeeded(*keys))
        return _render(request, "password.html.j2", {"error": None, "done": True},
                       actor=actor, csrf=csrf)

    try:
        return await _form_write(request, sent, lambda s: change_password(
            s, actor, str(form.get("current_password") or ""),
            str(form.get("new_password") or ""), request.cookies.get(COOKIE)), done, refused,
            missing_is_404=False)
    except BaseException:
        if not settled:
            await run_in_threadpool(limiter.release, *keys)
        raise


@router.post("/admin/users/{uid}/password-reset", response_class=HTMLResponse)
async def admin_reset_password(request: Request, uid: str, sent: AdminForm) -> Response:
    """An admin resets a member's password; the one-time secret is shown once, here."""
    from prodsec.workspace.users import issue_password_reset

    actor, csrf = sent.actor, sent.csrf

    def refused(exc: Exception) -> Response:
        return _render(request, "admin.html.j2", _admin_data(request, actor) | {
            "error": {"field": "user", "text": str(exc)}, "form": {}, "secret": None},
            _status(exc), actor, csrf)

    return await _form_write(request, sent, lambda s: issue_password_reset(s, actor, uid)[0],
                             lambda secret: _render(request, "admin.html.j2", _admin_data(
                                 request, actor) | {"error": None, "form": {}, "secret": None,
                                                    "reset_secret": secret},
                                 actor=actor, csrf=csrf), refused, missing_is_404=False)


@router.get("/password-reset", response_class=HTMLResponse)
def reset_page(request: Request) -> HTMLResponse:
    return _render(request, "password_reset.html.j2", {"error": None})


@router.post("/password-reset", response_class=HTMLResponse)
async def redeem_reset(request: Request, token: Annotated[str, Form(max_length=200)] = "",
                       new_password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    """Choose a new password with an admin's one-time secret, then sign in with it. (No
    CSRF token: there is no session to ride, and the secret itself is the credential.) A
    queued write of the organisation whose admin issued the secret, as the API's."""
    from prodsec.workspace import writes
    from prodsec.workspace.users import redeem_password_reset, reset_organisation

    database = _state(request).database
    try:
        org_id = await writes.read(database, lambda s: reset_organisation(s, token))
        await writes.write(database, org_id, lambda s: redeem_password_reset(
            s, token, new_password))
    except ValidationFailed as exc:
        return await run_in_threadpool(_render, request, "password_reset.html.j2", {
            "error": {"field": exc.field, "text": exc.detail}}, 422)
    return _redirect("/login")


# ---- error pages ------------------------------------------------------------------------------


def install_error_pages(app: Any) -> None:
    """Browsers get HTML error pages; /api paths keep the API's problem+json handlers."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    async def page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        if exc.status == 401:
            return _redirect(f"/login?next={quote(str(request.url.path))}")
        return _render(request, "error.html.j2", {"status": exc.status, "message": exc.message},
                       exc.status)

    previous = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api") and previous is not None:
            result: Response = await previous(request, exc)
            return result
        status = getattr(exc, "status_code", 500)
        message = {404: "There is no such page.", 405: "That action is not available here."}.get(
            status, getattr(exc, "detail", "Something went wrong."))
        return _render(request, "error.html.j2", {"status": status, "message": message}, status)

    app.add_exception_handler(PageError, page_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


# ---- jobs --------------------------------------------------------------------------------------


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, status: str | None = None,
              before: int | None = None) -> HTMLResponse:
    """The organisation's jobs: queued, running with progress, failed with the error; the same
    data as ``GET /api/v1/jobs``."""
    from prodsec.workspace import jobs

    actor, csrf = _who(request)
    with _state(request).database.transaction() as session:
        try:
            data = jobs.list_jobs(session, actor, status or None, before)
        except ValidationFailed as exc:
            raise PageError(422, str(exc)) from None
    return _render(request, "jobs.html.j2", {"data": data, "status": status or ""},
                   actor=actor, csrf=csrf)


@router.post("/jobs/{job_id}/retry", response_class=HTMLResponse)
async def job_retry(request: Request, job_id: int, sent: EditorForm) -> Response:
    """Queue a failed job again (``POST /api/v1/jobs/{id}/retry``)."""
    from prodsec.workspace import jobs

    return await _form_write(request, sent, lambda s: jobs.retry_job(s, sent.actor, job_id),
                             lambda _r: _redirect("/jobs"), _error_page)
