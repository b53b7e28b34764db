"""Documents generated from the workspace: declarations of conformity, the technical file,
user information, the PSTI statement of compliance, security.txt, the disclosure policy, the
pledge progress report and OSCAL exports. ``render`` is the one entry point for every shell."""

from __future__ import annotations

from prodsec.documents.facts import MissingInformation
from prodsec.documents.render import KINDS, list_records, render

__all__ = ["KINDS", "MissingInformation", "list_records", "render"]
