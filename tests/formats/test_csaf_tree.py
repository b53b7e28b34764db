"""The CSAF provider tree builder and reader on real advisories (OASIS examples, CISA): the
tree's metadata validates against the official provider schema, its layout follows CSAF 2.0
7.1, the same input and clock give the same bytes (golden file), and a changed byte, a bad
signature or a moved file is named by the reader."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from prodsec.errors import CsafTreeError
from prodsec.formats import csaf_tree, openpgp
from tests.realdata import DATA

CSAF = DATA / "csaf"
REAL = [CSAF / "real" / "cisa" / "icsa-24-289-01.json", CSAF / "real" / "cisa" / "va-24-254-01.json",
        CSAF / "examples" / "csaf" / "bsi-2022-0001.json"]
PUBLISHER = {"category": "vendor", "name": "Acme Devices", "namespace": "https://psirt.acme.example"}
BASE = "https://psirt.acme.example/.well-known/csaf"
NOW = "2026-12-01T10:00:00Z"
GOLDEN = Path(__file__).parent / "snapshots" / "csaf-tree.json"


def generate_key() -> bytes:
    """A throwaway Ed25519 signing key (never a real one: tests make their own)."""
    import gnupg  # type: ignore[import-untyped]

    home = tempfile.mkdtemp(prefix="prodsec-test-gpg-")
    gpg = gnupg.GPG(gnupghome=home)
    made = gpg.gen_key(gpg.gen_key_input(key_type="EDDSA", key_curve="ed25519", key_usage="sign",
                                         name_email="psirt@acme.example", no_protection=True))
    secret: str = gpg.export_keys(made.fingerprint, secret=True, expect_passphrase=False)
    os.system(f"gpgconf --homedir {home} --kill gpg-agent >/dev/null 2>&1")
    return secret.encode()


@pytest.fixture(scope="module")
def secret_key() -> bytes:
    return generate_key()


def _docs() -> list[bytes]:
    return [p.read_bytes() for p in REAL]


@pytest.fixture
def signed_tree(tmp_path: Path, secret_key: bytes) -> Iterator[Path]:
    with openpgp.signer(secret_key, None, "test key") as signer:
        files = csaf_tree.build(_docs(), PUBLISHER, BASE, NOW, signer.sign,
                                csaf_tree.Key(signer.fingerprint, signer.public_key))
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    yield tmp_path


def _read(root: Path) -> csaf_tree.Tree:
    keys, missing = csaf_tree.public_keys(root)
    assert missing == []
    with openpgp.verifier(keys) as verifier:
        return csaf_tree.read(root, verifier.verify)


def test_layout_follows_section_7(signed_tree: Path) -> None:
    csaf = signed_tree / ".well-known" / "csaf"
    meta = json.loads((csaf / "provider-metadata.json").read_text())
    assert csaf_tree.metadata_problems(meta) == []
    assert meta["role"] == "csaf_trusted_provider"
    fingerprint = meta["public_openpgp_keys"][0]["fingerprint"]
    assert (csaf / "openpgp" / f"{fingerprint}.asc").is_file()
    # CISA labels are WHITE; the year folder is initial_release_date's (7.1.11)
    doc = json.loads(REAL[0].read_bytes())
    year = doc["document"]["tracking"]["initial_release_date"][:4]
    path = csaf / "white" / year / csaf_tree.file_name(doc["document"]["tracking"]["id"])
    data = path.read_bytes()
    assert data == REAL[0].read_bytes()
    assert (path.parent / (path.name + ".sha512")).read_text().split()[0] == hashlib.sha512(data).hexdigest()
    assert (path.parent / (path.name + ".sha256")).read_text().split()[0] == hashlib.sha256(data).hexdigest()
    index = (csaf / "white" / "index.txt").read_text().splitlines()
    assert f"{year}/{path.name}" in index and len(index) == 3
    dates = [line.split(",")[1] for line in (csaf / "white" / "changes.csv").read_text().splitlines()]
    assert dates == sorted(dates, reverse=True) and len(dates) == 3
    feed = json.loads((csaf / "white" / "csaf-feed-tlp-white.json").read_text())["feed"]
    rels = {link["rel"] for link in feed["entry"][0]["link"]}
    assert rels == {"self", "hash", "signature"}
    assert meta["distributions"][0]["rolie"]["feeds"][0]["url"] == f"{BASE}/white/csaf-feed-tlp-white.json"


def test_file_name_rule_of_5_1() -> None:
    assert csaf_tree.file_name("2022_#01-A") == "2022_01-a.json"
    assert csaf_tree.file_name("Example Company - 2019-YH3234") == "example_company_-_2019-yh3234.json"


def test_same_input_and_clock_give_the_same_tree() -> None:
    """Golden file of the unsigned tree (signatures carry their own time): the text of every
    file the builder writes, the SHA-256 of the (unchanged) documents and their hash files.
    Regenerate with PRODSEC_REGEN_SNAPSHOTS=1."""
    files = csaf_tree.build(_docs(), PUBLISHER, BASE, NOW)
    digest = {p: (d.decode() if not p.endswith((".json", ".sha256", ".sha512")) or "/20" not in p
                  else "sha256:" + hashlib.sha256(d).hexdigest()) for p, d in files.items()}
    assert csaf_tree.build(_docs(), PUBLISHER, BASE, NOW) == files
    if os.environ.get("PRODSEC_REGEN_SNAPSHOTS"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(digest, indent=2, sort_keys=True) + "\n")
    assert digest == json.loads(GOLDEN.read_text())
    meta = json.loads(files[".well-known/csaf/provider-metadata.json"])
    assert meta["role"] == "csaf_provider" and "public_openpgp_keys" not in meta
    assert csaf_tree.metadata_problems(meta) == []


def test_a_good_tree_reads_without_problems(signed_tree: Path) -> None:
    tree = _read(signed_tree)
    assert tree.problems == []
    assert [d.problems for d in tree.documents] == [[], [], []]
    assert all(d.signed_by for d in tree.documents)
    assert csaf_tree.listing_problems(tree) == []


def _only_doc(root: Path) -> Path:
    return next((root / ".well-known" / "csaf" / "white").glob("*/icsa-24-289-01.json"))


def test_a_changed_byte_is_a_bad_hash_and_signature(signed_tree: Path) -> None:
    path = _only_doc(signed_tree)
    path.write_bytes(path.read_bytes().replace(b"Siemens", b"Siemenz", 1))
    problems = next(d for d in _read(signed_tree).documents if d.path.endswith(path.name)).problems
    assert any(p.endswith(".sha256: hash does not match the document") for p in problems)
    assert any(p.endswith(".sha512: hash does not match the document") for p in problems)
    assert any(".asc: bad signature" in p for p in problems)


def test_a_signature_by_another_key_is_refused(signed_tree: Path) -> None:
    path = _only_doc(signed_tree)
    with openpgp.signer(generate_key(), None, "other") as other:
        (path.parent / (path.name + ".asc")).write_bytes(other.sign(path.read_bytes()))
    problems = next(d for d in _read(signed_tree).documents if d.path.endswith(path.name)).problems
    assert problems == [f"white/{path.parent.name}/{path.name}.asc: bad signature (no public key)"]


def test_a_missing_signature_in_a_trusted_tree_is_named(signed_tree: Path) -> None:
    path = _only_doc(signed_tree)
    (path.parent / (path.name + ".asc")).unlink()
    problems = next(d for d in _read(signed_tree).documents if d.path.endswith(path.name)).problems
    assert problems == [f"white/{path.parent.name}/{path.name}.asc: missing (a trusted provider "
                        "signs every document, CSAF 2.0 7.1.19)"]


def test_a_document_in_the_wrong_year_and_an_unsorted_changes_csv(signed_tree: Path) -> None:
    csaf = signed_tree / ".well-known" / "csaf" / "white"
    changes = csaf / "changes.csv"
    changes.write_text("".join(reversed(changes.read_text().splitlines(keepends=True))))
    tree = _read(signed_tree)
    assert "white/changes.csv: not sorted newest first (CSAF 2.0 7.1.13)" in csaf_tree.listing_problems(tree)


def test_invalid_metadata_and_amber_documents_are_refused(tmp_path: Path) -> None:
    files = csaf_tree.build(_docs(), PUBLISHER, BASE, NOW)
    meta = json.loads(files[".well-known/csaf/provider-metadata.json"])
    meta["role"] = "csaf_superstar"
    assert any(p.startswith("provider-metadata.json /role:") for p in csaf_tree.metadata_problems(meta))
    amber = json.loads(REAL[0].read_bytes())
    amber["document"]["distribution"]["tlp"]["label"] = "AMBER"
    with pytest.raises(CsafTreeError, match="TLP:AMBER documents must be access protected"):
        csaf_tree.build([json.dumps(amber).encode()], PUBLISHER, BASE, NOW)
    with pytest.raises(CsafTreeError, match="not a CSAF provider tree"):
        csaf_tree.read(tmp_path, None)


def test_paths_leaving_the_tree_are_not_followed(signed_tree: Path, tmp_path_factory:
                                                 pytest.TempPathFactory) -> None:
    """An offline copy of someone else's tree is untrusted: an index.txt line with ``..`` and
    a document that is a link to a file outside are named, never read."""
    outside = tmp_path_factory.mktemp("outside") / "secret.json"
    outside.write_text("{}")
    csaf = signed_tree / ".well-known" / "csaf"
    with (csaf / "white" / "index.txt").open("a") as index:
        index.write("../../../../etc/passwd\n")
    path = _only_doc(signed_tree)
    path.unlink()
    path.symlink_to(outside)
    tree = _read(signed_tree)
    assert "white/index.txt line 4: '../../../../etc/passwd' is not a path inside the tree" in tree.problems
    item = next(d for d in tree.documents if d.path.endswith(path.name))
    assert item.problems == [f"white/{path.parent.name}/{path.name}: a link to a file outside the tree"]
    assert item.data is None
