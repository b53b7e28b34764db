"""What every page shares: signing in (``signed_in``), the role and CSRF checks of a form
(``form_as`` and its ``ViewerForm``/``EditorForm``/``AdminForm`` dependencies), the one write
path of a form (``form_write``), rendering with autoescape, and the error pages (``PageError``,
``status_of``, ``install_error_pages``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from prodsec.api.middleware import read_form
from prodsec.core import limits
from prodsec.core.knowledge import CATEGORIES, ROUTE_LABELS
from prodsec.workspace.context import Actor, NotFound, PermissionDenied, ValidationFailed

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "web"
COOKIE = "prodsec_session"
LOGIN_COOKIE = "prodsec_login"  # the sign-in form's pre-session CSRF token (double submit)
# Every page escapes what it prints: autoescape for every template, whatever its name ends
# with (``select_autoescape`` knows html/htm/xml only, and ours end with ``.html.j2``). Markup
# the server made itself is wrapped in ``Markup`` in Python, never ``|safe`` in a template.
templates = Jinja2Templates(env=Environment(loader=FileSystemLoader(str(TEMPLATES)),
                                            autoescape=True))
#: Forms take their maxlength from the same limits the services enforce.
templates.env.globals["limits"] = limits


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``{{ n | counted("requirement") }}``: "1 requirement", "2 requirements". Pages print
    counts in prose, and "1 requirements" reads as a mistake to the person checking them."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"


templates.env.filters["counted"] = counted
T = TypeVar("T")


@pass_context
def instrument_name(context: Context, reg_id: str) -> Markup:
    """An instrument as a reader knows it: its short title from the knowledge base, the id (the
    code of the data and the API) in the title attribute; an unknown id stays as it is."""
    name = (context.get("instrument_names") or {}).get(reg_id)
    if not name:
        return Markup("{}").format(reg_id)
    return Markup('<span class="inst" title="{}">{}</span>').format(reg_id, name)


def route_label(route: str | None) -> Markup:
    """A conformity assessment route in words (``core.knowledge.ROUTE_LABELS``), with the
    provisions that define it in the title attribute; an unknown route stays as it is."""
    known = ROUTE_LABELS.get(str(route))
    if not known:
        return Markup("{}").format(route or "")
    return Markup('<span class="route" title="{}: {}">{}</span>').format(
        route, known["basis"], known["label"])


templates.env.filters["instrument"] = instrument_name
templates.env.filters["route"] = route_label


@dataclass
class WebState:
    database: Any
    kb: Any
    limiter: Any
    secure_cookies: bool = False


class PageError(Exception):
    """An error page (401 → login, 403, 404, a refusal) for a browser request. ``title`` says
    what was refused; ``back`` is the (link, words) back to where the user was."""

    def __init__(self, status: int, message: str, title: str | None = None,
                 back: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.title, self.back = status, message, title, back


def web_state(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def upload_limit(request: Request, setting: str) -> int:
    """The deployment's limit for one uploaded file, ``Settings.<setting>`` of the API app the
    pages are mounted on: the number the API and the body-size middleware hold the same file
    to, so an oversize file is refused alike (413) on every face."""
    return int(getattr(request.app.state.prodsec.settings, setting))


def current_date() -> dt.date:
    return dt.date.today()


def signed_in(request: Request) -> tuple[Actor, str]:
    """The signed-in actor and the session's CSRF token, or a 401 page (→ login)."""
    from prodsec.workspace.sessions import session_actor

    secret = request.cookies.get(COOKIE)
    if secret:
        with web_state(request).database.transaction() as session:
            found = session_actor(session, secret)
        if found:
            return found
    raise PageError(401, "Please sign in.")


def check_csrf(csrf: str, form: Any) -> None:
    from prodsec.workspace.sessions import csrf_matches

    token = form.get("csrf_token")
    if not csrf_matches(csrf, token if isinstance(token, str) else None):
        raise PageError(403, "This form has expired or did not come from this site; reload the page and try again.")


def permit(actor: Actor, role: str) -> None:
    """The role check every face shares (``Actor.require``), answered as the error page of
    ``PermissionDenied`` (403)."""
    try:
        actor.require(role)
    except PermissionDenied as exc:
        raise page_error(exc) from None


@dataclass(frozen=True)
class Submitted:
    """A signed-in user's form: who sent it, the session's CSRF token, the fields and files."""

    actor: Actor
    csrf: str
    form: Any


def form_as(role: str) -> Callable[[Request], AsyncIterator[Submitted]]:
    """The dependency of a form handler: sign-in (401 → login), then the role (403, before the
    body is read, like the API's), then the body and its CSRF token (403); uploaded files are
    closed when the handler is done."""

    async def submitted(request: Request) -> AsyncIterator[Submitted]:
        actor, csrf = await run_in_threadpool(signed_in, request)
        permit(actor, role)
        form = await read_form(request, files=1)  # bounded fields; files only on upload routes
        try:
            check_csrf(csrf, form)
            yield Submitted(actor, csrf, form)
        finally:
            await form.close()

    return submitted


ViewerForm = Annotated[Submitted, Depends(form_as("viewer"))]
EditorForm = Annotated[Submitted, Depends(form_as("editor"))]
AdminForm = Annotated[Submitted, Depends(form_as("admin"))]


async def form_write(request: Request, sent: Submitted, work: Callable[[Any], T],
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
        result = await writes.write(web_state(request).database, org_id or sent.actor.org_id,
                                    work)
    except NotFound as exc:
        if missing_is_404:
            raise page_error(exc) from None
        return await run_in_threadpool(refused, exc)
    except (InputError, PermissionDenied) as exc:
        return await run_in_threadpool(refused, exc)
    return await run_in_threadpool(done, result)


def render(request: Request, name: str, context: dict[str, Any], status: int = 200,
            actor: Actor | None = None, csrf: str = "") -> HTMLResponse:
    web = getattr(request.app.state, "web", None)
    base = {"request": request, "actor": actor, "csrf": csrf, "categories": CATEGORIES,
            "path": request.url.path,
            "law_as_of": getattr(getattr(web, "kb", None), "law_as_of", None),
            "instrument_names": getattr(getattr(web, "kb", None), "short_names", {})}
    return templates.TemplateResponse(request, name, base | context, status_code=status)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def error_page(exc: Exception) -> Response:
    """The error page for a refused form (a ``form_write`` callback: it never returns)."""
    raise page_error(exc)


def page_error(exc: Exception, title: str | None = None,
               back: tuple[str, str] | None = None) -> PageError:
    """The error page for an error of the tree: its class's status (``status_of``), so a
    missing object is the 404 page and a refused role the 403 page without a number written
    here; a server fault (5xx) shows no message, as the API's problem does not. ``title`` and
    ``back`` say what was refused and where to go back to (``PageError``)."""
    status = status_of(exc)
    if status >= 500:
        return PageError(status, "Something went wrong.")
    return PageError(status, str(exc), title, back)


def status_of(exc: Exception) -> int:
    """The status of a refused form: the ``http_status`` its class carries in the one tree
    (``prodsec.errors``), the API's answer to the same error; 422 for a value the form's own
    parsing refused (``ValueError``)."""
    from prodsec.errors import ProdsecError

    return exc.http_status if isinstance(exc, ProdsecError) else 422


def form_date(value: Any, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValidationFailed(field, "expected a date YYYY-MM-DD") from None


def form_months(value: Any, field: str) -> int | None:
    """A whole number of months from a form (empty: none); the range is the service's check."""
    text = str(value or "").strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailed(field, "expected a whole number of months, e.g. 36")
    return int(text)


#: The release forms' labels, so a refusal names the field as the user sees it.
RELEASE_LABELS = {"version_label": "Version", "placed_on_market": "Placed on the market",
                  "support_end": "Support ends", "expected_use_months": "Expected use time (months)",
                  "support_rationale": "How the support period was determined"}


def labelled(exc: Exception, labels: dict[str, str]) -> str:
    """A refusal in the form's words: ``Support ends: …`` rather than ``support_end: …``."""
    if isinstance(exc, ValidationFailed) and exc.field in labels:
        return f"{labels[exc.field]}: {exc.detail}"
    return str(exc)


def _signed_in_or_none(request: Request) -> tuple[Actor | None, str]:
    try:
        return signed_in(request)
    except PageError:
        return None, ""


def came_from(request: Request) -> str | None:
    """The page the user came from: the Referer's path when it is this site's, else None."""
    from urllib.parse import urlsplit

    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return None
    path = referer.path + (f"?{referer.query}" if referer.query else "")
    return None if path == request.url.path else path


def refusal_page(request: Request, exc: PageError) -> HTMLResponse:
    """A 4xx in the normal layout: navigation for a signed-in user, a title saying what was
    refused, and a link back to where the user was (the page's own, the referring page, or the
    start). A 5xx keeps the generic page (it says nothing the log should keep)."""
    actor, csrf = _signed_in_or_none(request)
    back = exc.back or ((came_from(request), "Back to the previous page")
                        if came_from(request) else ("/", "Back to the start"))
    return render(request, "error.html.j2", {"status": exc.status, "message": exc.message,
                                             "title": exc.title, "back": back},
                  exc.status, actor, csrf)


def install_error_pages(app: Any) -> None:
    """Browsers get HTML error pages; /api paths keep the API's problem+json handlers.

    Every other handler the API installed (the tree's ``ProdsecError``, request validation, the
    database's refusals, the unexpected) answers a page path with the error page of the same
    status and words as its problem (``problem_page``): before, ``GET /audit?before=0`` showed a
    browser 422 ``application/problem+json``."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    async def on_page_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageError)
        if exc.status == 401:
            return redirect(f"/login?next={quote(str(request.url.path))}")
        if exc.status >= 500:
            return render(request, "error.html.j2", {"status": exc.status,
                                                     "message": exc.message}, exc.status)
        return await run_in_threadpool(refusal_page, request, exc)

    previous = app.exception_handlers.get(StarletteHTTPException)

    async def http_error(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api") and previous is not None:
            result: Response = await previous(request, exc)
            return result
        status = getattr(exc, "status_code", 500)
        message = {404: "There is no such page.", 405: "That action is not available here."}.get(
            status, getattr(exc, "detail", "Something went wrong."))
        if status < 500:
            return await run_in_threadpool(refusal_page, request, PageError(status, message))
        return render(request, "error.html.j2", {"status": status, "message": message}, status)

    def as_page(api_handler: Any) -> Any:
        async def handler(request: Request, exc: Exception) -> Response:
            answer: Response = await api_handler(request, exc)
            if request.url.path.startswith("/api"):
                return answer
            page = await on_page_error(request, problem_page(answer))
            if "retry-after" in answer.headers:
                page.headers["Retry-After"] = answer.headers["retry-after"]
            return page
        return handler

    for kind, api_handler in list(app.exception_handlers.items()):
        if isinstance(kind, type) and kind is not StarletteHTTPException:
            app.add_exception_handler(kind, as_page(api_handler))
    app.add_exception_handler(PageError, on_page_error)
    app.add_exception_handler(StarletteHTTPException, http_error)


def problem_page(answer: Response) -> PageError:
    """The error page for the API's problem ``answer``: its status, its detail and each
    field's message. The API's handlers (``api.problems``) stay the one mapping of an error to
    a number, and a 5xx page says no more than the problem does."""
    import json

    problem = json.loads(bytes(answer.body))
    message = str(problem.get("detail") or "Something went wrong.")
    fields = [f"{e['field']}: {e['message']}" for e in problem.get("errors") or ()
              if e.get("field") and e.get("message") and e["message"] not in message]
    return PageError(answer.status_code, "; ".join([message, *fields]))


def form_values(form: Any) -> dict[str, Any]:
    """Entered values, kept for re-display (lists for multi-value fields)."""
    out: dict[str, Any] = {}
    for key in set(form.keys()):
        values = form.getlist(key)
        out[key] = values if len(values) > 1 or key in ("markets", "radio", "functions",
                                                         "sector_law") else values[0]
    return out


def svg(data: bytes) -> Markup:
    """The inline picture: matplotlib's SVG of the knowledge base (it escapes its text, and
    nothing in it comes from a user), so it is markup of ours."""
    text = data.decode("utf-8")
    return Markup(text[text.index("<svg"):])


def obligation_word(ob: dict[str, Any]) -> str:
    """A voluntary label's condition is never an obligation that applies (nor is it missed)."""
    return {"voluntary": "To do for the label", "on-event": "In force, triggered by an event"}.get(
        str(ob.get("nature")), "Obligations apply")
