"""Declarations on the law's own models (issue 14): each item traced to its provision, harmonised
standards only where the OJ lists them for that act (and an OJ restriction that bites takes the
presumption away), refusals for instruments or releases not covered, and issued documents that
stop on unverified facts until someone confirms them."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from prodsec.core.knowledge import KnowledgeBase
from prodsec.db.engine import Database
from prodsec.documents import MissingInformation, models
from prodsec.documents.acknowledge import acknowledge, pending
from prodsec.documents.blocks import NotApplicable, oj_listing
from prodsec.documents.facts import UnverifiedFacts, fact_key
from prodsec.documents.info import set_product_docs
from prodsec.documents.render import list_records
from prodsec.workspace.context import Actor, ValidationFailed
from prodsec.workspace.products import add_product
from tests.documents.test_documents import CAMERA, check_golden, confirm_all, generate
from tests.documents.workspace_setup import TODAY, add_example, docs_fields, load_profile

SQLITE = pytest.mark.parametrize("database", ["sqlite"], indirect=True)
BABY = "NapWatch Video Baby Monitor"


def test_every_declaration_item_is_traced_to_its_provision(kb: KnowledgeBase) -> None:
    check_golden("declaration-fields.md", models.field_table(kb))
    red = models.items(kb, "red-declaration")
    assert [i["id"] for i in red] == [f"red:annex-vi:{n}" for n in range(1, 10)]
    assert all("Directive 2014/53/EU, Annex VI, point" in i["cite"] for i in red)
    assert len(models.items(kb, "eu-declaration")) == 8  # CRA Annex V points 1-8


@SQLITE
def test_the_red_declaration_has_every_annex_vi_item_in_order(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    db, actor = workspace
    confirm_all(db, actor, kb, "red-declaration")
    text = generate(db, actor, kb, "red-declaration", "md").decode()
    headings = re.findall(r"^## (\d)\. ", text, flags=re.M)
    assert headings == [str(n) for n in range(1, 10)]
    for must in ("Serial numbers HS2-A1-000001", "sole responsibility of the manufacturer",
                 "Directive 2014/53/EU, including the following essential requirements",
                 "Protection of the network", "Directive 2011/65/EU (RoHS)",
                 "EN 18031-1:2024", "EU-type examination certificate EX-2026-0001",
                 "Power supply PSU-5V-2A", "Signature: "):
        assert must in text, must
    harmonised, other = text.split("Other technical specifications")
    assert "ETSI EN 303 645" in other and "ETSI EN 303 645" not in harmonised
    assert "Module A" not in text  # only the route used (B+C) is printed
    assert "Relation in the knowledge base" not in text and "CRA" not in text


def test_harmonised_means_listed_in_the_oj_for_that_act(kb: KnowledgeBase) -> None:
    day = dt.date(2026, 3, 1)
    en2, etsi = kb.standards["en-18031-2"], kb.standards["etsi-en-303-645"]
    assert oj_listing(en2, "eu-red-da", day) is not None
    assert oj_listing(en2, "eu-cra", day) is None  # no CRA harmonised standard yet
    assert oj_listing(etsi, "eu-red-da", day) is None and oj_listing(etsi, "eu-cra", day) is None
    assert oj_listing(en2, "eu-red-da", dt.date(2025, 1, 29)) is None  # before publication
    withdrawn = {"oj_listings": [{"act": "eu-red-da", "status": "withdrawn",
                                  "published": dt.date(2020, 1, 1)}]}
    assert oj_listing(withdrawn, "eu-red-da", day) is None


@SQLITE
def test_an_en_18031_restriction_takes_the_presumption_away(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """EN 18031-2 'applied in full' by a baby monitor (childcare): the 2025/138 restriction on
    access control for toys and childcare equipment bites, so there is no presumption, the
    document says so, and Module A is closed (Art. 17(4))."""
    db, actor = workspace
    with db.transaction() as session:
        add_example(session, actor, kb, db.evidence_dir, "baby-monitor.yaml")
        set_product_docs(session, actor, kb, BABY, {"conformity_route": "module-a"})
    applies = {"en-18031-2:toys-childcare-parental-control": "applies"}
    with pytest.raises(MissingInformation) as exc:
        generate(db, actor, kb, "red-declaration", "md", BABY, release="1.0", answers=applies)
    assert "product.conformity_route.module-a" in [m.key for m in exc.value.missing]
    draft = generate(db, actor, kb, "red-declaration", "md", BABY, draft=True,
                     release="1.0", answers=applies).decode()
    assert "**No presumption of conformity for this product:** For toy and childcare" in draft
    # the camera applies the same standards without a restriction biting: Module A is open
    with db.transaction() as session:
        set_product_docs(session, actor, kb, CAMERA, {"conformity_route": "module-a"})
    camera = generate(db, actor, kb, "red-declaration", "md", draft=True).decode()
    assert "No presumption of conformity for this product" not in camera
    assert "internal production control (Module A, Annex II)" in camera
    assert "No notified body was involved." in camera


@SQLITE
def test_a_design_restriction_needs_the_manufacturers_answer(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """The h14 review's F4/F5: whether the user may skip the password (EN 18031-1/-2), or a
    childcare product's access control lacks parental control, is a design fact. Nobody
    entered it, so the issued declaration stops and asks; the draft says 'not answered'; an
    answer 'applies' takes the presumption away (and closes Module A), 'does-not-apply' is
    stated as the manufacturer's, and both are kept in the generation record."""
    db, actor = workspace
    keys = ["en-18031-1:password-optional", "en-18031-2:password-optional"]
    with db.transaction() as session:
        set_product_docs(session, actor, kb, CAMERA, {"conformity_route": "module-a"})
    confirm_all(db, actor, kb, "red-declaration")
    with pytest.raises(MissingInformation) as exc:
        generate(db, actor, kb, "red-declaration", "md", answers={})
    asked = [m for m in exc.value.missing if m.key.startswith("restriction.")]
    assert [m.key for m in asked] == [f"restriction.{k}" for k in keys]
    assert "lets the user choose not to set and use any password" in asked[0].label
    assert f"--restriction-answer {keys[0]}=applies|does-not-apply" == asked[0].where
    draft = generate(db, actor, kb, "red-declaration", "md", draft=True, answers={}).decode()
    assert "Restriction of the OJ listing, not answered" in draft
    assert "declared not to apply" not in draft and "states does not apply" not in draft
    no = dict.fromkeys(keys, "does-not-apply")
    issued = generate(db, actor, kb, "red-declaration", "md", answers=no).decode()
    assert issued.count("which the manufacturer states does not apply to this product") == 2
    assert "internal production control (Module A, Annex II)" in issued
    with pytest.raises(MissingInformation) as exc:
        generate(db, actor, kb, "red-declaration", "md", answers=no | {keys[0]: "applies"})
    assert "product.conformity_route.module-a" in [m.key for m in exc.value.missing]
    with db.transaction() as session:
        records = list_records(session, actor, CAMERA, kb)
    (issued_record,) = [r for r in records if not r["draft"]]
    assert issued_record["inputs"]["restriction_answers"] == no
    with pytest.raises(ValidationFailed, match="no such OJ-listing restriction"):
        generate(db, actor, kb, "red-declaration", "md", answers={"en-18031-1:nope": "applies"})
    with pytest.raises(ValidationFailed, match="expected applies or does-not-apply"):
        generate(db, actor, kb, "red-declaration", "md", answers={keys[0]: "yes"})


@SQLITE
def test_the_childcare_restriction_turns_on_its_condition(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """For a baby monitor the toys/childcare restriction is a question too (its condition is
    the access control chosen), not applied unconditionally."""
    db, actor = workspace
    with db.transaction() as session:
        add_example(session, actor, kb, db.evidence_dir, "baby-monitor.yaml")
    key = "en-18031-2:toys-childcare-parental-control"
    draft = generate(db, actor, kb, "red-declaration", "md", BABY, draft=True,
                     release="1.0").decode()
    assert "No presumption of conformity for this product" not in draft
    assert "not answered (whether the access control chosen" in draft
    ok = generate(db, actor, kb, "red-declaration", "md", BABY, draft=True, release="1.0",
                  answers={key: "does-not-apply"}).decode()
    assert "For toy and childcare" in ok and "No presumption of conformity for this" not in ok


@SQLITE
def test_a_release_the_instrument_does_not_cover_is_refused(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """Release 2.0's first units come after the RED delegated act ends: nothing to declare."""
    db, actor = workspace
    with pytest.raises(NotApplicable, match=r"does not cover release 2\.0.*first units.*"
                       r"2027-12-10") as exc:
        generate(db, actor, kb, "red-declaration", "md", release="2.0", draft=True)
    assert exc.value.exit_code == 2


@SQLITE
def test_units_are_placed_one_by_one_so_an_earlier_release_is_covered_from_the_start(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """Release 1.0 was first placed in 2026; its units placed from 2027-12-11 need the CRA
    declaration (Blue Guide 2022, 2.3), and its RED declaration covers units up to 2027-12-10."""
    db, actor = workspace
    text = generate(db, actor, kb, "eu-declaration", "md", release="1.0", draft=True).decode()
    assert "covers the units of release 1.0 placed on the market from 2027-12-11" in text
    text = generate(db, actor, kb, "red-declaration", "md", release="1.0", draft=True).decode()
    assert "placed on the market up to 2027-12-10" in text


@SQLITE
def test_a_document_of_an_instrument_that_does_not_apply_is_refused(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """A product sold only in Germany gets no PSTI statement of compliance."""
    from prodsec.workspace.products import add_release, assess

    db, actor = workspace
    profile = load_profile("camera.yaml") | {"name": "DE Cam", "markets": ["DE"]}
    with db.transaction() as session:
        product = add_product(session, actor, kb, profile)
        add_release(session, actor, product.id, "1.0", dt.date(2026, 3, 1), dt.date(2031, 3, 1),
                    "five years")
        assess(session, actor, kb, product.id, TODAY)
        set_product_docs(session, actor, kb, product.id, docs_fields("DE Cam"))
    with pytest.raises(NotApplicable, match="UK PSTI does not bind 'DE Cam'"):
        generate(db, actor, kb, "psti-statement", "md", "DE Cam", draft=True)


@SQLITE
def test_the_cra_declaration_does_not_block_on_its_own_article(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    from sqlalchemy import select

    from prodsec.db.models import RequirementStatus
    from prodsec.workspace import compliance

    db, actor = workspace
    with db.transaction() as session:
        for s in session.scalars(select(RequirementStatus).where(
                RequirementStatus.requirement_id.in_(["eu-cra:art-28:1", "eu-cra:art-13:20"]))):
            compliance.set_status(session, actor, s, "in-progress", None, None)
    confirm_all(db, actor, kb, "eu-declaration")  # "no CRA listing" is itself unverified
    text = generate(db, actor, kb, "eu-declaration", "md").decode()
    assert "No harmonised standard under Regulation (EU) 2024/2847" in text


@SQLITE
def test_other_legislation_and_specifications_are_only_what_the_user_entered(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    """The h14 review's F6: the CRA declaration said by itself that the product 'complies with
    Directive 2014/53/EU, against which it was assessed' (prodsec assesses only the RED
    delegated act's cyber requirements). Now only what the user enters is stated — the draft
    names the candidate as a prompt — and free-text specifications (EN 300 328) can be cited
    besides the knowledge base's standards."""
    db, actor = workspace
    with db.transaction() as session:
        set_product_docs(session, actor, kb, CAMERA, {"other_legislation": ""})
    confirm_all(db, actor, kb, "eu-declaration")
    issued = generate(db, actor, kb, "eu-declaration", "md").decode()
    assert "Directive 2014/53/EU" not in issued and "It also complies" not in issued
    draft = generate(db, actor, kb, "eu-declaration", "md", draft=True).decode()
    assert "Not stated unless you enter it" in draft
    assert "Directive 2014/53/EU (Radio Equipment Directive)" in draft
    with db.transaction() as session:
        set_product_docs(session, actor, kb, CAMERA, {
            "other_legislation": "Directive 2014/53/EU",
            "other_specifications": "EN 300 328 V2.2.2 (2019-07)\nEN 62368-1:2014"})
    issued = generate(db, actor, kb, "eu-declaration", "md").decode()
    assert "It also complies with the following Union harmonisation legislation:" in issued
    assert "- Directive 2014/53/EU\n" in issued
    confirm_all(db, actor, kb, "red-declaration")
    red = generate(db, actor, kb, "red-declaration", "md").decode()
    other = red.split("Other technical specifications")[1].split("## 7.")[0]
    assert "- EN 300 328 V2.2.2 (2019-07)" in other and "- EN 62368-1:2014" in other


@SQLITE
def test_issued_documents_stop_on_unverified_facts_until_confirmed(
        workspace: tuple[Database, Actor], kb: KnowledgeBase) -> None:
    from prodsec.workspace import audit

    db, actor = workspace
    with pytest.raises(UnverifiedFacts) as exc:
        generate(db, actor, kb, "red-declaration", "md")
    keys = [f.key for f in exc.value.facts]
    labels = " ".join(f.label for f in exc.value.facts)
    assert "Commission Implementing Decision (EU) 2025/138, Annex (entry for EN 18031-2:2024" in labels
    assert exc.value.exit_code == 2 and "--confirm" in str(exc.value)
    with db.transaction() as session, pytest.raises(ValidationFailed, match="not an unconfirmed"):
        acknowledge(session, actor, "red-declaration", CAMERA, ["fact-000000000000"], "x", "1.0",
                    today=TODAY, kb=kb)
    with db.transaction() as session, pytest.raises(ValidationFailed, match="reason"):
        acknowledge(session, actor, "red-declaration", CAMERA, keys[:1], "  ", "1.0",
                    today=TODAY, kb=kb)
    with db.transaction() as session:
        acknowledge(session, actor, "red-declaration", CAMERA, keys[:1], "Read the OJ annex.",
                    "1.0", today=TODAY, kb=kb)
        left = pending(session, actor, "red-declaration", CAMERA, "1.0", today=TODAY, kb=kb)
        assert [f.key for f in left] == keys[1:]
        (event,) = audit.history(session, actor, limit=1)
        assert event["action"] == "fact.acknowledge" and audit.verify(session, actor.org_id).ok
    with pytest.raises(UnverifiedFacts):
        generate(db, actor, kb, "red-declaration", "md")
    confirm_all(db, actor, kb, "red-declaration")
    assert b"[unverified]" not in generate(db, actor, kb, "red-declaration", "md")


def test_a_changed_fact_needs_a_new_confirmation() -> None:
    citation = {"ref": "Annex", "verified": False, "note": "secondary"}
    assert fact_key(citation, "X") != fact_key(citation | {"note": "read in the OJ"}, "X")
    assert fact_key(citation, "X") == fact_key(dict(citation), "X")


@SQLITE
def test_cli_confirm_then_issue(tmp_path: Path, workspace: tuple[Database, Actor]) -> None:
    """Exit 2 with the facts listed, then --confirm all --reason issues the declaration."""
    db, _actor = workspace
    env = {**os.environ, "COLUMNS": "200"}
    url = str(db.engine.url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "prodsec", "document", *args, "--db", url,
                               "--org", "Example"], capture_output=True, text=True, timeout=180,
                              env=env)

    asked = run("red-declaration", CAMERA, "--release", "1.0")
    assert asked.returncode == 2 and "Traceback" not in asked.stderr
    assert "--restriction-answer en-18031-1:password-optional=applies|does-not-apply" in \
        asked.stderr
    answers = [a for k in ("en-18031-1", "en-18031-2") for a in (
        "--restriction-answer", f"{k}:password-optional=does-not-apply")]
    refused = run("red-declaration", CAMERA, "--release", "1.0", *answers)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "not verified against the primary text" in refused.stderr
    assert run("red-declaration", CAMERA, "--release", "1.0", "--confirm", "all").returncode == 2
    issued = run("red-declaration", CAMERA, "--release", "1.0", *answers, "--confirm", "all",
                 "--reason", "Checked against OJ L, 2025/138.")
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.startswith("# EU declaration of conformity")
    assert "fact(s) confirmed" in issued.stderr
    again = run("red-declaration", CAMERA, "--release", "1.0", *answers)  # confirmations kept
    assert again.returncode == 0 and again.stdout == issued.stdout
    listed = run("list", CAMERA, "--format", "json")
    assert [r["kind"] for r in json.loads(listed.stdout)] == ["red-declaration"] * 2
