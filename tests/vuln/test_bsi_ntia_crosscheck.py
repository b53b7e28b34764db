"""Cross-check on the SPDX side against ntia-conformance-checker 6.0.0 ``--comply bsi``.

A one-off measurement (2026-12-03, in a scratch environment; the checker is no dependency of
prodsec): ``ntia-checker -c bsi -r json FILE`` (``-s spdx3`` for SPDX 3) on two real SPDX
documents. Its ``bsi`` profile covers the overlap below — name, version, concluded licence,
supplier/creator per component — and it leaves out the components it finds floating (for the
SPDX 2.3 example: the two ``SPDXRef-fromDoap-*`` packages). Recorded here: the components it
found non-conformant per element. Where prodsec's reading of TR-03183-2 v2.1.0 differs by
design, the test says so: the SBOM's creator (ntia: a name suffices; the TR: an email or URL)
and dependencies (ntia: any relationship in the document; the TR: per component).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from prodsec.vuln import bsi
from tests.realdata import DATA

SPDX3 = DATA / "spdx3/software/example11/spdx3.0/sbom.spdx3.json"
SPDX23 = DATA / "sbom/spdx/spec-examples-2.3/SPDXJSONExample-v2.3.spdx.json"
#: file → (components ntia evaluated, {ntia element: non-conformant components}, ntia's
#: authorNameProvided)
NTIA: dict[str, tuple[set[str], dict[str, set[str]], bool]] = {
    "spdx3": ({"hello-server-src", "hyper", "pretty_env_logger", "tokio"}, {
        "component-name": set(), "component-version": set(), "distribution-licences": set(),
        "component-creator": {"hello-server-src", "hyper", "pretty_env_logger", "tokio"}}, True),
    "spdx23": ({"glibc", "Saxon"}, {
        "component-name": set(), "component-version": set(), "distribution-licences": set(),
        "component-creator": {"Saxon"}}, True),
}


def _missing(report: dict[str, Any], evaluated: set[str], field_id: str) -> set[str]:
    return {c["name"] for c in report["components"] if c["name"] in evaluated
            for f in c["findings"] if f["field"] == field_id and f["status"] != "present"}


@pytest.mark.parametrize("name, path", [("spdx3", SPDX3), ("spdx23", SPDX23)])
def test_the_overlap_agrees_with_ntia_conformance_checker(name: str, path: Any) -> None:
    report = bsi.check(json.loads(path.read_text()))
    evaluated, nonconformant, author_named = NTIA[name]
    assert evaluated <= {c["name"] for c in report["components"]}
    for field_id, expected in nonconformant.items():
        assert _missing(report, evaluated, field_id) == expected, field_id
    creator = next(d for d in report["document"] if d["field"] == "sbom-creator")
    # by design: a creator named without email or URL does not meet clause 5.2.1
    assert author_named and creator["status"] == "missing"
