"""Errors as RFC 9457 problem details (``application/problem+json``), for every failure.

A ``ProdsecError`` answers the ``http_status`` its class carries (the tree and its numbers are
in ``prodsec.errors``, shared with the CLI's exit codes and the web's error pages), with its
``slug`` as the problem's ``code``, its ``headers`` (Retry-After) and, for a
``ValidationFailed``, ``errors: [{field, message}]``. A 500 of the tree hides its message.
The API's own HTTP-level failures are ``ApiError``: 401 with WWW-Authenticate, 403 a
cookie write without its CSRF header, 412/428 If-Match, 429 with Retry-After.

A database that is busy (SQLite's writer lock) answers 503 with Retry-After; anything else
unexpected answers a bare 500 problem: the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, OperationalError
from starlette.exceptions import HTTPException

from prodsec.errors import ProdsecError, ValidationFailed

log = logging.getLogger("prodsec.api")
MEDIA_TYPE = "application/problem+json"


class ApiError(Exception):
    """An HTTP-level failure raised by the API layer itself (not by a service)."""

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, dict(headers or {})


def unauthenticated(detail: str = "credentials are missing or invalid") -> ApiError:
    return ApiError(401, detail, {"WWW-Authenticate": 'Bearer realm="prodsec"'})


def problem(status: int, detail: str | None, errors: list[dict[str, str]] | None = None,
            headers: Mapping[str, str] | None = None, code: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": HTTPStatus(status).phrase,
                            "status": status, "detail": detail}
    if code is not None:
        body["code"] = code
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=dict(headers or {}),
                        media_type=MEDIA_TYPE)


async def on_prodsec_error(_request: Request, exc: Exception) -> JSONResponse:
    """The one mapping of the tree to HTTP: the class's status, slug and headers."""
    assert isinstance(exc, ProdsecError)
    status = exc.http_status
    if status >= 500:
        log.error("prodsec error (%s): %s", exc.slug, exc)
        return problem(status, "internal error" if status == 500 else HTTPStatus(status).phrase,
                       headers=exc.headers, code=exc.slug)
    errors = ([{"field": exc.field, "message": exc.detail}] if isinstance(exc, ValidationFailed)
              else [] if status == 422 else None)
    return problem(status, str(exc), errors, exc.headers, exc.slug)


async def on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.detail, headers=exc.headers)


async def on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors: unknown route (404), wrong method (405), bad JSON …"""
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return problem(exc.status_code, detail, headers=exc.headers)


def _field(loc: tuple[Any, ...]) -> str:
    """``("body", "profile", "markets", 0)`` → ``profile.markets[0]``; where from is implied."""
    parts = list(loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc)
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or str(loc[0] if loc else "body")


async def on_request_invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(tuple(e.get("loc", ()))), "message": str(e.get("msg", "invalid"))}
              for e in exc.errors()]
    names = ", ".join(dict.fromkeys(e["field"] for e in errors))
    return problem(422, f"invalid request: {names}", errors)


async def on_data_error(_request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot store (too long, a NUL character): the input's fault."""
    log.info("database refused a value: %s", exc)
    return problem(422, "a value is too long or contains characters that cannot be stored", [])


async def on_operational_error(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    return problem(503, "the database is busy; try again", headers={"Retry-After": "1"})


async def on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error", exc_info=exc)
    return problem(500, "internal error")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ProdsecError, on_prodsec_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(HTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_request_invalid)
    app.add_exception_handler(DataError, on_data_error)
    app.add_exception_handler(OperationalError, on_operational_error)
    app.add_exception_handler(Exception, on_unexpected)
