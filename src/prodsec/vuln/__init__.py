"""Offline vulnerability matching: an advisory index built from OSV files, and SBOM scans."""

from __future__ import annotations

from prodsec.vuln.index import AdvisoryIndex
from prodsec.vuln.scan import scan

__all__ = ["AdvisoryIndex", "scan"]
