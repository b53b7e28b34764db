"""The pages, one module per area; ``common`` holds what every page shares (sign-in, the role
and CSRF checks of a form, the one write path ``form_write``, rendering, error pages).

Each handler reads through the workspace services in one transaction and renders a template;
writes come from HTML forms carrying the session's CSRF token, and redirect after success (so a
reload never repeats a write).

Handlers are plain ``def`` (FastAPI runs them in its threadpool): database work, argon2 and
parsing never run on the event loop. A form handler takes its form through one dependency
(``ViewerForm``, ``EditorForm``, ``AdminForm``) that signs in, checks the role the API asks
for the same action (``Actor.require``, before the body is read), checks the CSRF token and
closes uploaded files afterwards.
"""

from __future__ import annotations

from fastapi import APIRouter

from prodsec.web.pages import (
    account,
    admin,
    board,
    cases,
    csaf,
    feeds,
    jobs,
    knowledge,
    lifecycle,
    notifications,
    portfolio,
    products,
    proposals,
    records,
    vulnerabilities,
)
from prodsec.web.pages.common import PageError, WebState, install_error_pages

#: The areas in the order their routes are matched (``/products/new`` and ``/products/archived``
#: before ``/products/{pid}``, ``/cases/proposed`` before ``/cases/{case_id}``).
AREAS = (account, knowledge, lifecycle, products, board, vulnerabilities, csaf, proposals, cases,
         portfolio, admin, jobs, feeds, records, notifications)

#: Every page and form, as plain routes (``include_router`` would wrap each area's router, and
#: the isolation walk reads the routes one by one).
router = APIRouter(include_in_schema=False)
for _area in AREAS:
    router.routes.extend(_area.router.routes)

__all__ = ["AREAS", "PageError", "WebState", "install_error_pages", "router"]
