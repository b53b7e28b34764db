"""Optional dependencies: which extra brings a missing module, and the message that says so.

The base install answers the knowledge questions; the workspace, the server, PDF, pictures and
vulnerability handling need extras (``pip install 'prodsec[server]'``). Their modules are
imported inside the commands, so a missing one surfaces as ``ModuleNotFoundError`` where the
command first needs it — before it writes anything, or inside its transaction, which rolls
back. ``prodsec.cli.main`` turns that into this module's message and exit 2 for every command
at once, on the fast path and the Typer one, instead of each command checking for itself.
"""

from __future__ import annotations

from prodsec.errors import MissingExtra as MissingExtra

#: top-level import name → the extra of pyproject.toml that installs it (a test checks that
#: every requirement of every extra is here)
EXTRA_OF_MODULE: dict[str, str] = {
    # server: the workspace database, the REST API and the web UI
    "sqlalchemy": "server", "alembic": "server", "fastapi": "server", "starlette": "server",
    "uvicorn": "server", "argon2": "server", "multipart": "server",
    "python_multipart": "server", "psycopg": "server", "procrastinate": "server",
    # pdf
    "weasyprint": "pdf", "pypdfium2": "pdf",
    # pictures
    "matplotlib": "pictures",
    # vuln: SBOM, OSV, VEX, CSAF
    "cyclonedx": "vuln", "spdx_tools": "vuln", "csaf": "vuln", "packageurl": "vuln",
    "univers": "vuln", "semver": "vuln", "packaging": "vuln", "defusedxml": "vuln",
    "cvss": "vuln", "jsonschema": "vuln", "lxml": "vuln", "spdx_python_model": "vuln",
    "gnupg": "vuln",
}


def missing_extra(exc: ModuleNotFoundError) -> MissingExtra | None:
    """The extra to install for a missing module, or None when the module is not one of ours
    (a bug, left to surface as it is)."""
    module = (exc.name or "").partition(".")[0]
    extra = EXTRA_OF_MODULE.get(module)
    return None if extra is None else MissingExtra(extra, module)

