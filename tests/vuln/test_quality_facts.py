"""``quality.document_facts``: who wrote an SBOM and when, SPDX 3 JSON-LD included."""

from __future__ import annotations

from prodsec.vuln.quality import document_facts
from tests.realdata import DATA

SPDX3 = DATA / "spdx3" / "software" / "example11" / "spdx3.0" / "sbom.spdx3.json"


def test_spdx3_creation_info_gives_author_and_latest_time() -> None:
    assert document_facts(SPDX3.read_bytes()) == {"author": True,
                                                  "timestamp": "2022-11-03T07:10:10Z"}


def test_an_spdx3_graph_without_creation_info_has_neither() -> None:
    data = b'{"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld", "@graph": []}'
    assert document_facts(data) == {"author": False, "timestamp": None}
