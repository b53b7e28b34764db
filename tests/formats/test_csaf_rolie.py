"""The ROLIE feed checks of ``csaf tree --check`` (CSAF 2.0 7.1.15, RFC 8322) on a signed tree
of real advisories (CISA, OASIS): a good tree has no problem; each broken feed member, a
missing or extra entry, a missing hash or signature link, an advisory of another TLP label and
a feed provider-metadata.json does not list are each named with the feed file, the JSON
pointer and the rule. Also the tree's TLP folders (7.1.5) and aggregator flags (7.1.7)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodsec.errors import CsafTreeError
from prodsec.formats import csaf_rolie, csaf_tree, openpgp
from tests.formats.test_csaf_tree import BASE, NOW, PUBLISHER, REAL, _docs, generate_key

FEED = "white/csaf-feed-tlp-white.json"
FEED_URL = f"{BASE}/{FEED}"


@pytest.fixture(scope="module")
def secret_key() -> bytes:
    return generate_key()


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root / ".well-known" / "csaf"


@pytest.fixture
def csaf(tmp_path: Path, secret_key: bytes) -> Path:
    """The CSAF folder of a signed tree of the three real advisories."""
    with openpgp.signer(secret_key, None, "test key") as signer:
        return _write(tmp_path, csaf_tree.build(_docs(), PUBLISHER, BASE, NOW, signer.sign,
                                                csaf_tree.Key(signer.fingerprint,
                                                              signer.public_key)))


def _problems(csaf: Path) -> list[str]:
    return csaf_rolie.feed_problems(csaf_tree.read(csaf.parent.parent, None))


def _edit(path: Path, change: Callable[[Any], None]) -> None:
    value = json.loads(path.read_text())
    change(value)
    path.write_text(json.dumps(value))


def _entry_of(feed: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in feed["feed"]["entry"] if e["content"]["src"].endswith(name))


def test_a_good_tree_has_no_feed_problem(csaf: Path) -> None:
    assert _problems(csaf) == []


def test_feed_members_missing_are_named(csaf: Path) -> None:
    def strip(feed: dict[str, Any]) -> None:
        del feed["feed"]["id"]
        feed["feed"]["link"] = [{"rel": "self", "href": f"{BASE}/elsewhere.json"}]
        feed["feed"]["category"] = []
    _edit(csaf / FEED, strip)
    assert _problems(csaf) == [
        f"{FEED} /feed: no id (RFC 8322 6.1)",
        f"{FEED} /feed: no link rel=self with href {FEED_URL}, the URL provider-metadata.json "
        "lists (RFC 8322 6.1)",
        f"{FEED} /feed: no category scheme urn:ietf:params:rolie:category:information-type term "
        "csaf (RFC 8322 6.1.2, CSAF 2.0 7.1.15)"]


def test_an_entry_missing_from_the_feed_and_one_naming_no_file(csaf: Path) -> None:
    """Every advisory of the folder is in the feed, and the feed names only advisories that
    are there (the entry's index in the pointer, the file in the message)."""
    feed = json.loads((csaf / FEED).read_text())
    gone = _entry_of(feed, "icsa-24-289-01.json")
    year = gone["content"]["src"].split("/")[-2]
    ghost = json.loads(json.dumps(gone))
    ghost["content"]["src"] = f"{BASE}/white/{year}/ghost.json"
    for link in ghost["link"]:
        link["href"] = link["href"].replace("icsa-24-289-01", "ghost")
    feed["feed"]["entry"] = [e if e is not gone else ghost for e in feed["feed"]["entry"]]
    (csaf / FEED).write_text(json.dumps(feed))
    at = feed["feed"]["entry"].index(ghost)
    assert _problems(csaf) == [
        f"{FEED} /feed/entry/{at}: names {BASE}/white/{year}/ghost.json, which is not in the tree",
        f"white/{year}/icsa-24-289-01.json: not in the ROLIE feed {FEED} (CSAF 2.0 7.1.15: every "
        "document of a TLP label is in its feed)"]


def test_entry_members_and_links_are_checked(csaf: Path) -> None:
    def damage(feed: dict[str, Any]) -> None:
        entry = _entry_of(feed, "bsi-2022-0001.json")
        entry["content"]["type"] = "text/plain"
        entry["format"]["version"] = "2.1"
        entry["link"] = [link for link in entry["link"]
                         if not link["href"].endswith((".sha512", ".asc"))]
        del entry["title"]
    _edit(csaf / FEED, damage)
    feed = json.loads((csaf / FEED).read_text())
    entry = _entry_of(feed, "bsi-2022-0001.json")
    at, src = feed["feed"]["entry"].index(entry), entry["content"]["src"]
    where = f"{FEED} /feed/entry/{at}"
    assert _problems(csaf) == [
        f"{where}: no title (RFC 8322 6.2)",
        f"{where}: content.type is not application/json (CSAF 2.0 7.1.15)",
        f"{where}: format is not schema {csaf_tree.SCHEMA_URL} version 2.0 (CSAF 2.0 7.1.15)",
        f"{where}: no link rel=hash to {src}.sha512 (CSAF 2.0 7.1.15, 7.1.18)",
        f"{where}: no link rel=signature to {src}.asc (CSAF 2.0 7.1.15, 7.1.19)"]


def test_a_link_to_a_missing_hash_file_and_a_self_link_elsewhere(csaf: Path) -> None:
    [doc] = csaf.glob("white/*/va-24-254-01.json")
    doc.with_name(doc.name + ".sha256").unlink()
    _edit(csaf / FEED, lambda feed: _entry_of(feed, "bsi-2022-0001.json")["link"][0].update(
        href=f"{BASE}/white/other.json"))
    feed = json.loads((csaf / FEED).read_text())
    va, bsi = (feed["feed"]["entry"].index(_entry_of(feed, n))
               for n in ("va-24-254-01.json", "bsi-2022-0001.json"))
    src = _entry_of(feed, "va-24-254-01.json")["content"]["src"]
    bsi_src = _entry_of(feed, "bsi-2022-0001.json")["content"]["src"]
    assert sorted(_problems(csaf)) == sorted([
        f"{FEED} /feed/entry/{va}: link rel=hash to {src}.sha256, which is not in the tree",
        f"{FEED} /feed/entry/{bsi}: no link rel=self with the advisory's URL {bsi_src} "
        "(CSAF 2.0 7.1.15)",
        f"white/{bsi_src.split('/')[-2]}/bsi-2022-0001.json: not in the ROLIE feed {FEED} "
        "(CSAF 2.0 7.1.15: every document of a TLP label is in its feed)"])


def test_an_advisory_of_another_label_in_the_feed(csaf: Path) -> None:
    [doc] = csaf.glob("white/*/icsa-24-289-01.json")
    _edit(doc, lambda d: d["document"]["distribution"]["tlp"].update(label="GREEN"))
    rel = doc.relative_to(csaf).as_posix()
    assert [p for p in _problems(csaf) if "TLP:" in p] == [
        f"{FEED} /feed/entry/{_index(csaf, doc.name)}: {rel} is TLP:GREEN, the feed's label is "
        "WHITE (one feed per TLP label, CSAF 2.0 7.1.15)"]


def _index(csaf: Path, name: str) -> int:
    feed = json.loads((csaf / FEED).read_text())
    return int(feed["feed"]["entry"].index(_entry_of(feed, name)))


def test_a_feed_provider_metadata_does_not_list(csaf: Path) -> None:
    """A feed in the tree (and in service.json) that the metadata's distributions omit."""
    extra = json.loads((csaf / FEED).read_text())
    extra["feed"]["entry"] = []
    extra["feed"]["link"][0]["href"] = f"{BASE}/extra-feed.json"
    (csaf / "extra-feed.json").write_text(json.dumps(extra))
    _edit(csaf / "provider-metadata.json", lambda m: m.pop("distributions"))
    assert _problems(csaf) == [
        "extra-feed.json: a ROLIE feed provider-metadata.json does not list in distributions "
        "(CSAF 2.0 7.1.7, 7.1.15)",
        f"{FEED}: a ROLIE feed provider-metadata.json does not list in distributions "
        "(CSAF 2.0 7.1.7, 7.1.15)"]


def test_a_feed_that_is_not_json_is_named_once(csaf: Path) -> None:
    """The reader names it; the feed checks do not repeat it."""
    (csaf / FEED).write_text("{not json")
    tree = csaf_tree.read(csaf.parent.parent, None)
    assert [p for p in tree.problems if "not a ROLIE feed" in p] == [
        p for p in tree.problems if p.startswith(f"{FEED}: not a ROLIE feed (")]
    assert len([p for p in tree.problems if "not a ROLIE feed" in p]) == 1
    assert csaf_rolie.feed_problems(tree) == []


def test_metadata_without_a_canonical_url_says_nothing_more(csaf: Path) -> None:
    _edit(csaf / "provider-metadata.json", lambda m: m.pop("canonical_url"))
    tree = csaf_tree.read(csaf.parent.parent, None)
    assert any("canonical_url" in p for p in tree.problems)
    assert csaf_rolie.feed_problems(tree) == []


# ---- what the tree holds: TLP folders, aggregator flags, hash files ------------------------


def _labelled(label: str) -> bytes:
    doc = json.loads(REAL[0].read_bytes())
    doc["document"]["distribution"]["tlp"]["label"] = label
    return json.dumps(doc).encode()


@pytest.mark.parametrize("label", ["GREEN", "AMBER", "RED"])
def test_restricted_labels_need_access_protected_folders(label: str) -> None:
    """By default a GREEN, AMBER or RED advisory is refused; asked for, it goes in its label's
    own folder, never the public white one, and its feed carries the label."""
    with pytest.raises(CsafTreeError, match=f"TLP:{label} documents must be access protected"):
        csaf_tree.build([_labelled(label)], PUBLISHER, BASE, NOW)
    files = csaf_tree.build([_labelled(label), _docs()[1]], PUBLISHER, BASE, NOW,
                            access_protected=True)
    folder = label.lower()
    placed = [p for p in files if p.endswith("/icsa-24-289-01.json")]
    assert [p.split("/")[2] for p in placed] == [folder]
    assert not any("icsa-24-289-01" in p for p in files if p.startswith(".well-known/csaf/white/"))
    meta = json.loads(files[".well-known/csaf/provider-metadata.json"])
    feeds = {f["tlp_label"]: f for f in meta["distributions"][0]["rolie"]["feeds"]}
    assert set(feeds) == {label, "WHITE"}
    assert "Access protected" in feeds[label]["summary"]
    assert "Access protected" not in feeds["WHITE"]["summary"]
    assert csaf_tree.metadata_problems(meta) == []


def test_an_unknown_label_is_refused() -> None:
    with pytest.raises(CsafTreeError, match=r"TLP label 'CLEAR' is not one of CSAF 2\.0's"):
        csaf_tree.build([_labelled("CLEAR")], PUBLISHER, BASE, NOW, access_protected=True)


@pytest.mark.parametrize(("choice", "flags"), [("none", (False, False)), ("list", (True, False)),
                                               ("mirror", (True, True))])
def test_aggregator_flags_say_what_was_chosen(choice: str, flags: tuple[bool, bool]) -> None:
    meta = json.loads(csaf_tree.build(_docs(), PUBLISHER, BASE, NOW, aggregators=choice)[
        ".well-known/csaf/provider-metadata.json"])
    assert (meta["list_on_CSAF_aggregators"], meta["mirror_on_CSAF_aggregators"]) == flags
    with pytest.raises(CsafTreeError, match="aggregators 'all': expected one of none, list"):
        csaf_tree.build(_docs(), PUBLISHER, BASE, NOW, aggregators="all")


def test_document_url_is_the_place_in_the_tree() -> None:
    files = csaf_tree.build(_docs(), PUBLISHER, BASE, NOW)
    for data in _docs():
        tracking = json.loads(data)["document"]["tracking"]
        url = csaf_tree.document_url(BASE, "WHITE", tracking["initial_release_date"], tracking["id"])
        assert files[".well-known/csaf/" + url.removeprefix(BASE + "/")] == data
        for algo in ("sha256", "sha512"):
            assert ".well-known/csaf/" + url.removeprefix(BASE + "/") + f".{algo}" in files
    assert csaf_tree.base_url("https://psirt.acme.example/") == BASE
