"""``workspace.csaf_tree.check_tree`` on a tree of real advisories: a swapped key file (the
signature made with a key other than the one provider-metadata.json lists) is refused, and a
document that is not valid CSAF is named with the failed rule."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from prodsec.errors import CsafTreeError
from prodsec.formats import csaf_tree, openpgp
from prodsec.workspace.csaf_tree import check_tree
from tests.formats.test_csaf_tree import BASE, NOW, PUBLISHER, _docs, generate_key


def _write(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)


def _signed(root: Path, key: bytes) -> str:
    with openpgp.signer(key, None, "test") as signer:
        _write(root, csaf_tree.build(_docs(), PUBLISHER, BASE, NOW, signer.sign,
                                     csaf_tree.Key(signer.fingerprint, signer.public_key)))
        return signer.fingerprint


def test_a_good_tree_has_no_problems(tmp_path: Path) -> None:
    _signed(tmp_path, generate_key())
    report = check_tree(tmp_path)
    assert (report["problems"], report["documents"], report["signed"]) == ([], 3, 3)


def test_a_swapped_key_file_is_not_trusted(tmp_path: Path) -> None:
    listed = _signed(tmp_path, generate_key())
    other = generate_key()
    csaf = tmp_path / ".well-known" / "csaf"
    with openpgp.signer(other, None, "other") as signer:
        (csaf / "openpgp" / f"{listed}.asc").write_text(signer.public_key)
        for doc in csaf.glob("white/*/*.json"):
            doc.with_name(doc.name + ".asc").write_bytes(signer.sign(doc.read_bytes()))
        intruder = signer.fingerprint
    problems = check_tree(tmp_path)["problems"]
    assert len(problems) == 3
    assert all(f"bad signature (signed by {intruder}, not by a key the provider names)" in p
               for p in problems)


def test_an_invalid_document_is_named_with_its_rule(tmp_path: Path) -> None:
    _write(tmp_path, csaf_tree.build(_docs()[:1], PUBLISHER, BASE, NOW))
    [path] = (tmp_path / ".well-known" / "csaf").glob("white/*/*.json")
    doc = json.loads(path.read_bytes())
    del doc["document"]["title"]
    data = json.dumps(doc).encode()
    path.write_bytes(data)
    for algo in csaf_tree.HASHES:
        path.with_name(f"{path.name}.{algo}").write_text(hashlib.new(algo, data).hexdigest())
    problems = check_tree(tmp_path)["problems"]
    assert len(problems) == 1 and "schema /document: 'title' is a required property" in problems[0]


def test_the_builder_refuses_what_it_cannot_place() -> None:
    doc = json.loads(_docs()[0])
    del doc["document"]["tracking"]["id"]
    with pytest.raises(CsafTreeError, match="document 1: not a publishable CSAF document"):
        csaf_tree.build([json.dumps(doc).encode()], PUBLISHER, BASE, NOW)


def test_the_check_names_an_advisory_missing_from_its_feed(tmp_path: Path) -> None:
    """``check_tree`` runs the ROLIE feed checks (``formats.csaf_rolie``): a feed that lost an
    entry is the one problem, named with the advisory and the feed."""
    _write(tmp_path, csaf_tree.build(_docs(), PUBLISHER, BASE, NOW))
    feed_file = tmp_path / ".well-known" / "csaf" / "white" / "csaf-feed-tlp-white.json"
    feed = json.loads(feed_file.read_text())
    gone = feed["feed"]["entry"].pop()
    feed_file.write_text(json.dumps(feed))
    rel = gone["content"]["src"].removeprefix(BASE + "/")
    assert check_tree(tmp_path)["problems"] == [
        f"{rel}: not in the ROLIE feed white/csaf-feed-tlp-white.json (CSAF 2.0 7.1.15: every "
        "document of a TLP label is in its feed)"]
