"""The REST API (FastAPI): ``create_app(database, kb)``; served by ``prodsec serve``.

Only ``prodsec.api`` and the ``serve`` command import FastAPI and uvicorn, so the CLI starts
without them.
"""

from prodsec.api.app import create_app
from prodsec.api.deps import Settings

__all__ = ["Settings", "create_app"]
