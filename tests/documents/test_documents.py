"""Documents: golden outputs for every generator, PDF rendering, OSCAL against the official
schema, security.txt against RFC 9116, missing information, stale records, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.documents import KINDS, MissingInformation, list_records, render
from prodsec.documents.blocks import NotApplicable
from prodsec.documents.info import set_org_profile, set_product_docs
from prodsec.workspace.context import Actor
from tests.documents.workspace_setup import CRA_RELEASE, RED_RELEASE, TODAY, add_example
from tests.realdata import DATA

GOLDEN = Path(__file__).parent / "golden"
OSCAL = DATA / "oscal" / "schema"
REGENERATE = os.environ.get("PRODSEC_REGENERATE") == "1"
CAMERA, SAAS = "HomeSight Cam 2", "TaskHarbor Cloud"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def subject_of(kind: str) -> str | None:
    return {"cisa-pledge-report": SAAS, "oscal-catalog": "eu-cra", "vdp": None,
            "security-txt": None}.get(kind, CAMERA)


# the release each declaration is about: the RED delegated act covers 1.0 (2026), the CRA's
# conformity assessment 2.0 (2028); other kinds take the latest release
RELEASE_OF = {"red-declaration": RED_RELEASE, "psti-statement": RED_RELEASE,
              "eu-declaration": CRA_RELEASE, "eu-declaration-simplified": CRA_RELEASE}


#: The camera's answers to the EN 18031 OJ-listing restrictions that turn on a design choice
#: (it never lets the user skip setting a password): an issued RED declaration asks for them.
CAMERA_ANSWERS = {"en-18031-1:password-optional": "does-not-apply",
                  "en-18031-2:password-optional": "does-not-apply"}


def generate(db: Database, actor: Actor, kb: KnowledgeBase, kind: str, fmt: str,
             product: str | None = CAMERA, draft: bool = False, today: dt.date = TODAY,
             release: str | None = None, answers: dict[str, str] | None = None) -> bytes:
    release = release or (RELEASE_OF.get(kind) if product == CAMERA else None)
    if answers is None:
        answers = CAMERA_ANSWERS if product == CAMERA else {}
    with db.transaction() as session:
        data, _ = render(kind, session, actor, product, fmt, release, draft=draft, today=today,
                         kb=kb, answers=answers)
    return data


def confirm_all(db: Database, actor: Actor, kb: KnowledgeBase, kind: str,
                product: str | None = CAMERA, release: str | None = None) -> list[str]:
    """Confirm every unverified fact the document rests on, as a reviewer would."""
    from prodsec.documents.acknowledge import acknowledge, pending

    release = release or (RELEASE_OF.get(kind) if product == CAMERA else None)
    with db.transaction() as session:
        if not pending(session, actor, kind, product, release, today=TODAY, kb=kb):
            return []
        done = acknowledge(session, actor, kind, product, ["all"], "Checked against the OJ text.",
                           release, today=TODAY, kb=kb)
    return [d["key"] for d in done]


def normalise(text: str, kb: KnowledgeBase) -> str:
    """Goldens must not change when the knowledge base's hash or a random id changes."""
    return UUID.sub("UUID", text.replace(kb.version, "KBVERSION"))


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if REGENERATE or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not REGENERATE:
            pytest.fail(f"golden {name} was missing and has been written; re-run")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs (PRODSEC_REGENERATE=1)"


# ---- golden files ---------------------------------------------------------------------------

TEXT_FORMATS = [(k, f) for k, kind in KINDS.items() for f in kind.formats if f != "pdf"]


INTERNAL_MARKERS = ("[unverified]", "\\[unverified\\]", "⟦", "MISSING", "DRAFT",
                    "Relation in the knowledge base", "knowledge base", "prodsec")


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_every_generator_matches_its_golden_in_draft_and_issued_form(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """Drafts first (nothing confirmed yet), then the issued forms once every unverified fact
    is confirmed; an issued document carries none of the reviewer's marks."""
    db, actor = workspace
    prose = [(k, f) for k, f in TEXT_FORMATS if KINDS[k].formats != ("json",)]
    for kind, fmt in prose:
        text = generate(db, actor, kb, kind, fmt, subject_of(kind), draft=True).decode()
        check_golden(f"{kind}.draft.{fmt}", normalise(text, kb))
    for kind, fmt in TEXT_FORMATS:
        if (kind, fmt) in prose:
            confirm_all(db, actor, kb, kind, subject_of(kind))
        text = generate(db, actor, kb, kind, fmt, subject_of(kind)).decode()
        check_golden(f"{kind}.{fmt}", normalise(text, kb))
        if (kind, fmt) in prose:
            found = [m for m in INTERNAL_MARKERS if m in text]
            assert not found, (kind, fmt, found)


def test_records_are_stored_and_go_stale(workspace: tuple[Database, Actor],
                                         kb: KnowledgeBase) -> None:
    db, actor = workspace
    confirm_all(db, actor, kb, "eu-declaration")
    data = generate(db, actor, kb, "eu-declaration", "md")
    with db.transaction() as session:
        (record,) = list_records(session, actor, CAMERA, kb)
        assert record["stale"] is False and record["kind"] == "eu-declaration"
        import hashlib

        assert record["sha256"] == hashlib.sha256(data).hexdigest()
        assert record["kb_version"] == kb.version and record["release"] == CRA_RELEASE
        set_org_profile(session, actor, {"place_of_issue": "Hamburg"})
    with db.transaction() as session:
        (record,) = list_records(session, actor, CAMERA, kb)
        assert record["stale"] is True


def test_generation_is_in_the_audit_trail(workspace: tuple[Database, Actor],
                                          kb: KnowledgeBase) -> None:
    from prodsec.workspace import audit

    db, actor = workspace
    generate(db, actor, kb, "security-txt", "txt", None)
    with db.transaction() as session:
        (event,) = audit.history(session, actor, limit=1)
        assert event["action"] == "document.generate"
        assert audit.verify(session, actor.org_id).ok


# ---- PDF -----------------------------------------------------------------------------------


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_pdf_renders_a_non_blank_first_page(workspace: tuple[Database, Actor],
                                            kb: KnowledgeBase, tmp_path: Path) -> None:
    pdfium = pytest.importorskip("pypdfium2")
    db, actor = workspace
    confirm_all(db, actor, kb, "technical-file")
    data = generate(db, actor, kb, "technical-file", "pdf")
    assert data.startswith(b"%PDF")
    pdf = pdfium.PdfDocument(data)
    try:
        assert len(pdf) >= 3
        width, height = pdf[0].get_size()
        assert round(width) == 595 and round(height) == 842  # A4 in points
        image = pdf[0].render(scale=1).to_pil().convert("L")
        dark = sum(image.histogram()[:128])
        assert dark > 0.01 * image.width * image.height
    finally:
        pdf.close()


# ---- OSCAL ---------------------------------------------------------------------------------


def oscal_validator(version: str) -> Any:
    import jsonschema
    import regex
    schema = json.loads((OSCAL / f"oscal_complete_schema-{version.replace('.', '-')}.json").read_text())

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Any:
        if isinstance(instance, str) and not regex.search(patrn, instance):
            yield jsonschema.ValidationError(f"{instance!r} does not match {patrn!r}")

    cls = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": pattern})
    return cls(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
def test_oscal_outputs_validate_against_the_official_schema(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    db, actor = workspace
    documents = [json.loads(generate(db, actor, kb, "oscal-catalog", "json", reg))
                 for reg in ("eu-cra", "uk-psti", "eu-red-da", "us-cisa-sbd-pledge")]
    documents.append(json.loads(generate(db, actor, kb, "oscal-assessment-results", "json")))
    for version in ("1.1.2", "1.2.2"):
        validator = oscal_validator(version)
        for doc in documents:
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]
            assert not errors, errors[:5]
    controls = {c["id"] for g in documents[0]["catalog"]["groups"] for c in g["controls"]}
    assert "eu-cra.annex-i.part-i.2.a" in controls
    (cra,) = [r for r in documents[-1]["assessment-results"]["results"]
              if {"name": "regulation", "ns": "urn:prodsec:oscal", "value": "eu-cra"} in r["props"]]
    findings = cra["findings"]
    assert len(findings) == 60
    assert all(f["target"]["target-id"] in controls for f in findings)


# ---- security.txt --------------------------------------------------------------------------

FIELD = re.compile(r"^([A-Za-z0-9-]+): (\S.*)$")
KNOWN = {"acknowledgments", "canonical", "contact", "encryption", "expires", "hiring", "policy",
         "preferred-languages", "csaf"}


def rfc9116_problems(text: str, now: dt.datetime) -> list[str]:
    """The RFC 9116 rules a security.txt must meet (section 2.5 and 3)."""
    problems, fields = [], {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        m = FIELD.match(line)
        if not m:
            problems.append(f"not a field: {line!r}")
            continue
        name, value = m.group(1).lower(), m.group(2)
        fields.setdefault(name, []).append(value)
        if name not in KNOWN:
            problems.append(f"unknown field {name}")
        if name in ("canonical", "encryption", "policy", "csaf", "hiring", "acknowledgments") \
                and not value.startswith("https://"):
            problems.append(f"{name} must be an https URI")
        if name == "contact" and not value.startswith(("mailto:", "https://", "tel:")):
            problems.append("contact must be a mailto:, https: or tel: URI")
    if "contact" not in fields:
        problems.append("Contact is required")
    if len(fields.get("expires", [])) != 1:
        problems.append("exactly one Expires is required")
    else:
        expires = dt.datetime.strptime(fields["expires"][0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        if not now < expires <= now + dt.timedelta(days=365):
            problems.append("Expires must be in the future and within a year")
    for once in ("preferred-languages", "expires"):
        if len(fields.get(once, [])) > 1:
            problems.append(f"{once} must appear at most once")
    if not text.endswith("\n"):
        problems.append("the file must end with a line break")
    return problems


def test_security_txt_follows_rfc_9116(workspace: tuple[Database, Actor],
                                       kb: KnowledgeBase) -> None:
    db, actor = workspace
    text = generate(db, actor, kb, "security-txt", "txt", None).decode()
    now = dt.datetime.combine(TODAY, dt.time(), tzinfo=dt.UTC)
    assert rfc9116_problems(text, now) == []
    assert "CSAF: https://example.com/.well-known/csaf/provider-metadata.json\n" in text
    with db.transaction() as session:
        set_org_profile(session, actor, {"csaf_url": ""})
    text = generate(db, actor, kb, "security-txt", "txt", None).decode()
    assert "CSAF:" not in text and rfc9116_problems(text, now) == []


def test_the_validator_catches_a_broken_security_txt() -> None:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    broken = "Contact: security@example.com\nExpires: 2028-12-01T00:00:00Z\nPolicy: http://x\n"
    assert len(rfc9116_problems(broken, now)) == 3


# ---- missing information --------------------------------------------------------------------


def keys(exc: pytest.ExceptionInfo[MissingInformation]) -> list[str]:
    return [m.key for m in exc.value.missing]


def test_security_txt_lists_exactly_what_is_missing(database: Database, admin: Actor,
                                                    kb: KnowledgeBase) -> None:
    with pytest.raises(MissingInformation) as exc:
        generate(database, admin, kb, "security-txt", "txt", None)
    assert keys(exc) == ["org.security_contact", "org.vdp_url", "org.preferred_languages",
                         "org.security_txt_url"]
    assert exc.value.exit_code == 2
    assert "prodsec org set --security-contact" in str(exc.value)
    with database.transaction() as session:
        assert list_records(session, admin, None, kb) == []  # nothing recorded


def test_simplified_declaration_names_each_gap(database: Database, admin: Actor,
                                               kb: KnowledgeBase) -> None:
    with database.transaction() as session:
        add_example(session, admin, kb, database.evidence_dir, "camera.yaml", complete=False)
        set_org_profile(session, admin, {"legal_name": "Example Devices GmbH",
                                         "postal_address": "Berlin", "contact_email": "a@b.de"})
        set_product_docs(session, admin, kb, CAMERA, {"type_designation": "A1"})
    with pytest.raises(MissingInformation) as exc:
        generate(database, admin, kb, "eu-declaration-simplified", "md")
    missing = keys(exc)
    assert missing[0] == "product.doc_url"
    assert all(k.startswith("status.eu-cra:") for k in missing[1:])
    # 60 CRA requirements open, less the two that ask for the declaration itself (Art. 28(1),
    # Art. 13(20)): issuing it fulfils them, so they cannot block it
    assert len(missing) == 1 + 58
    assert not {"status.eu-cra:art-28:1", "status.eu-cra:art-13:20"} & set(missing)


def test_draft_marks_the_gaps_visibly(database: Database, admin: Actor,
                                      kb: KnowledgeBase) -> None:
    with database.transaction() as session:
        add_example(session, admin, kb, database.evidence_dir, "camera.yaml", complete=False)
    md = generate(database, admin, kb, "user-information", "md", draft=True).decode()
    assert "⟦MISSING: the manufacturer's registered name (prodsec org set --legal-name)⟧" in md
    html = generate(database, admin, kb, "user-information", "html", draft=True).decode()
    assert '<mark class="gap">MISSING: the single point of contact' in html
    assert "DRAFT" in html and "⟦" not in html


def test_a_document_of_an_instrument_that_does_not_apply_is_refused(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    db, actor = workspace
    with pytest.raises(NotApplicable, match="UK PSTI does not bind 'TaskHarbor Cloud'"):
        generate(db, actor, kb, "psti-statement", "md", SAAS)


def test_html_escapes_what_users_typed(workspace: tuple[Database, Actor],
                                       kb: KnowledgeBase) -> None:
    db, actor = workspace
    with db.transaction() as session:
        set_product_docs(session, actor, kb, CAMERA,
                         {"secure_use": "<script>alert(1)</script> [x](javascript:alert(1))"})
    html = generate(db, actor, kb, "user-information", "html").decode()
    assert "<script>" not in html and 'href="javascript:' not in html


MARKDOWN_ATTACK = ("![pixel](http://169.254.169.254/latest/meta-data/) [pay here](https://evil.example)"
                   " <https://evil.example/auto> | injected cell | **bold** `code` # heading")


def test_data_cannot_inject_markdown_structure(workspace: tuple[Database, Actor],
                                               kb: KnowledgeBase) -> None:
    """A product's text cannot become an image the PDF renderer fetches, a link, an autolink,
    a table cell or emphasis: it renders as the characters typed."""
    from html.parser import HTMLParser

    db, actor = workspace
    with db.transaction() as session:
        set_product_docs(session, actor, kb, CAMERA, {"secure_use": MARKDOWN_ATTACK})
        set_org_profile(session, actor, {"legal_name": MARKDOWN_ATTACK})
    html = generate(db, actor, kb, "user-information", "html").decode()
    tags: list[str] = []
    text: list[str] = []
    parser = type("Tags", (HTMLParser,), {"handle_starttag": lambda _s, t, _a: tags.append(t),
                                          "handle_data": lambda _s, d: text.append(d)})()
    parser.feed(html)
    assert not {"img", "a"} & set(tags), tags
    assert "".join(text).count(MARKDOWN_ATTACK) == 2  # both fields, character for character
    confirm_all(db, actor, kb, "technical-file")
    markdown = generate(db, actor, kb, "technical-file", "md").decode()
    assert "!\\[pixel\\](http" in markdown and "[pay here](" not in markdown


def test_cli_refuses_with_exit_2_then_generates_and_lists(tmp_path: Path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "prodsec", *args, "--db",
                               str(tmp_path / "ws.db")], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "COLUMNS": "200"})

    missing = run("document", "security-txt")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "org.vdp_url" in missing.stderr and "prodsec org set --vdp-url" in missing.stderr
    assert run("org", "set", "--security-contact", "security@example.com", "--vdp-url",
               "https://example.com/vdp", "--security-txt-url",
               "https://example.com/.well-known/security.txt", "--languages", "en").returncode == 0
    out = tmp_path / "security.txt"
    made = run("document", "security-txt", "--output", str(out))
    assert made.returncode == 0, made.stderr
    assert out.read_text().startswith("# security.txt")
    listed = run("document", "list", "--format", "json")
    (record,) = json.loads(listed.stdout)
    assert record["kind"] == "security-txt" and record["stale"] is False
