"""The feed readers on real files (tests/data/kev, euvd, epss) and on the ways a feed file goes
wrong: truncated, from another source, out of range, listed twice."""

from __future__ import annotations

import gzip
import json

import pytest

from prodsec.errors import FormatError
from prodsec.formats import epss, euvd, kev
from tests.realdata import DATA

EPSS = DATA / "epss" / "epss_scores-2025-09-03.csv"
KEV = DATA / "kev" / "known_exploited_vulnerabilities.json"


def test_epss_real_layout_plain_and_gzip() -> None:
    for data in (EPSS.read_bytes(), gzip.compress(EPSS.read_bytes())):
        assert epss.looks_like(data)
        parsed = epss.parse(data, "epss.csv")
        assert (parsed.model_version, parsed.score_date) == ("v2025.03.14",
                                                             "2025-09-03T12:55:00Z")
        assert parsed.scores == {"CVE-1999-0001": (0.0142, 0.7991)}


@pytest.mark.parametrize(("body", "message"), [
    (b"cve,epss,percentile\nCVE-1999-0001,0.1,0.2\n", ":1: expected '#model_version"),
    (b"#model_version:v1,score_date:2025-09-03\ncve,score\n", ":2: expected the header"),
    (b"#model_version:v1,score_date:2025-09-03\ncve,epss,percentile\nCVE-1999-0001,0.1",
     "truncated"),
    (b"#model_version:v1,score_date:2025-09-03\ncve,epss,percentile\nCVE-1999-0001,1.5,0.2\n",
     ":3: epss and percentile must be numbers from 0 to 1"),
    (b"#model_version:v1,score_date:2025-09-03\ncve,epss,percentile\nCVE-1999-0001,nan,0.2\n",
     ":3: epss and percentile"),
    (b"#model_version:v1,score_date:2025-09-03\ncve,epss,percentile\nGHSA-x,0.1,0.2\n",
     ":3: expected CVE-YYYY-NNNN"),
    (b"#model_version:v1,score_date:2025-09-03\ncve,epss,percentile\n"
     b"CVE-1999-0001,0.1,0.2\nCVE-1999-0001,0.1,0.2\n", ":4: CVE-1999-0001 is listed twice"),
])
def test_epss_bad_files_name_the_line(body: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        epss.parse(body, "e.csv")


def test_epss_truncated_gzip_is_refused() -> None:
    with pytest.raises(FormatError, match="truncated"):
        epss.parse(gzip.compress(EPSS.read_bytes())[:-12], "e.csv.gz")


def test_euvd_real_records_and_the_exploited_list_shape() -> None:
    data = (DATA / "euvd" / "EUVD-2024-22512.json").read_bytes()
    assert euvd.looks_like(data) and not kev.looks_like(data) and not epss.looks_like(data)
    [record] = euvd.parse(data, "e.json")
    assert (record.euvd_id, record.cve, record.base_score, record.exploited_since) == (
        "EUVD-2024-22512", "CVE-2024-25176", 9.8, None)
    assert record.aliases == ("CVE-2024-25176", "GHSA-xvfg-m24j-r4pm")
    rejected = euvd.parse((DATA / "euvd" / "EUVD-2023-33780.json").read_bytes(), "r.json")
    assert rejected[0].base_score is None  # EUVD writes -1.0 for "no score"
    listed = json.loads(data) | {"exploitedSince": "Apr 9, 2025, 12:00:00 AM"}
    answer = json.dumps({"items": [listed], "total": 168061}).encode()
    assert euvd.parse(answer, "a.json")[0].exploited_since == "2025-04-09T00:00:00+00:00"


def test_euvd_wrong_source_and_bad_fields() -> None:
    with pytest.raises(FormatError, match="not an ENISA EUVD export"):
        euvd.parse(KEV.read_bytes(), "kev.json")
    record = json.loads((DATA / "euvd" / "EUVD-2024-22513.json").read_text())
    with pytest.raises(FormatError, match="listed twice"):
        euvd.parse(json.dumps([record, record]).encode(), "l.json")
    with pytest.raises(FormatError, match="exploitedSince: expected a date"):
        euvd.parse(json.dumps(record | {"exploitedSince": "soon"}).encode(), "d.json")
    with pytest.raises(FormatError, match="total says 0"):
        euvd.parse(json.dumps({"items": [record], "total": 0}).encode(), "t.json")


def test_kev_whole_catalogue_or_nothing() -> None:
    data = KEV.read_bytes()
    catalogue = kev.parse(data, "kev.json")
    assert catalogue.version == "2025.08.25" and len(catalogue.entries) == 48
    assert catalogue.entries["CVE-2020-11651"] == "2021-11-03"
    with pytest.raises(FormatError, match="count says 48 but /vulnerabilities has 47"):
        doc = json.loads(data)
        doc["vulnerabilities"].pop()
        kev.parse(json.dumps(doc).encode(), "kev.json")
    with pytest.raises(FormatError, match="not a CISA KEV catalogue"):
        kev.parse(b'{"vulnerabilities": []}', "k.json")
