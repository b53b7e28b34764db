"""The ROLIE feeds of a CSAF provider tree, checked item by item (CSAF 2.0 7.1.15, RFC 8322).

``csaf_tree.read`` follows the feeds to find the documents; this module checks the feeds
themselves, each problem named with the feed's file, the JSON pointer and the requirement:

- the feed's shape: ``feed.id``, ``feed.title``, a ``self`` link naming the URL
  provider-metadata.json gives it, the ``csaf`` information-type category (RFC 8322 6.1.2) and
  an ``entry`` array;
- each entry: ``id``, ``title``, a ``self`` link and ``content.src`` naming the advisory,
  ``content.type`` ``application/json``, ``format`` CSAF 2.0 (schema URL and version ``2.0``),
  a ``hash`` link for every hash file beside the advisory (7.1.18) and a ``signature`` link
  when there is a signature (7.1.19), each link naming a file that exists, and the advisory's
  TLP label the feed's (7.1.15: one feed per TLP label);
- every advisory in the year folders beside the feed is in it, and every entry names an
  advisory that is in the tree;
- every feed in the tree (a ``*.json`` file with a ``feed`` object beside the year folders, or
  a collection of ``service.json``) is listed in provider-metadata.json ``distributions``
  (7.1.7), else consumers never find it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prodsec.errors import FormatError
from prodsec.formats._io import read_bytes
from prodsec.formats.csaf_tree import (
    HASHES,
    METADATA,
    ROLIE_CATEGORY,
    SCHEMA_URL,
    TLP_FOLDER,
    Tree,
    local_path,
    tlp_of,
)

YEAR = re.compile(r"^[0-9]{4}$")
SIGNATURE = "asc"


def feed_problems(tree: Tree) -> list[str]:
    """Every problem of the feeds provider-metadata.json lists, and feeds it does not list.
    Metadata without a ``canonical_url`` (schema errors, named by ``csaf_tree.read``) gives no
    base to resolve feed URLs against: nothing more is said."""
    canonical = tree.metadata.get("canonical_url")
    if not isinstance(canonical, str) or "/" not in canonical:
        return []
    base = canonical.rsplit("/", 1)[0]
    listed = listed_feeds(tree.metadata)
    problems: list[str] = []
    for url, label in listed.items():
        local = local_path(tree.folder, base, url)
        if local is not None and local.is_file():  # a missing feed: csaf_tree.read names it
            problems += _feed_file_problems(tree, base, local, url, label)
    return problems + _unlisted(tree, base, set(listed))


def listed_feeds(meta: dict[str, Any]) -> dict[str, str]:
    """Feed URL → the TLP label provider-metadata.json gives it."""
    return {str(feed.get("url")): str(feed.get("tlp_label"))
            for dist in meta.get("distributions", []) if isinstance(dist, dict)
            for feed in (dist.get("rolie") or {}).get("feeds", []) if isinstance(feed, dict)}


def _feed_file_problems(tree: Tree, base: str, local: Path, url: str, label: str) -> list[str]:
    name = local.relative_to(tree.folder).as_posix()
    try:
        feed = _json(local)["feed"]
    except (FormatError, ValueError, KeyError, TypeError):
        return []  # not JSON or no feed object: csaf_tree.read names it ("not a ROLIE feed")
    if not isinstance(feed, dict):
        return []
    problems = [f"{name} /feed: {p}" for p in _shape(feed, url)]
    entries = feed["entry"] if isinstance(feed.get("entry"), list) else []
    named: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where = f"{name} /feed/entry/{i}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: not an object")
            continue
        problems += [f"{where}: {p}" for p in _entry(tree, base, entry, label, named, i)]
    return problems + _coverage(tree, local, name, named)


def _shape(feed: dict[str, Any], url: str) -> list[str]:
    """The feed-level members a consumer needs (RFC 8322 6.1, CSAF 2.0 7.1.15's example)."""
    problems = [f"no {key} (RFC 8322 6.1)" for key in ("id", "title")
                if not isinstance(feed.get(key), str) or not feed[key].strip()]
    if url not in _hrefs(feed.get("link"), "self"):
        problems.append(f"no link rel=self with href {url}, the URL {METADATA} lists "
                        "(RFC 8322 6.1)")
    categories = feed.get("category")
    if not isinstance(categories, list) or ROLIE_CATEGORY not in categories:
        problems.append("no category scheme urn:ietf:params:rolie:category:information-type "
                        "term csaf (RFC 8322 6.1.2, CSAF 2.0 7.1.15)")
    if not isinstance(feed.get("entry"), list):
        problems.append("no entry array (CSAF 2.0 7.1.15)")
    return problems


def _hrefs(links: Any, rel: str) -> list[str]:
    return [str(link.get("href")) for link in links if isinstance(link, dict)
            and link.get("rel") == rel] if isinstance(links, list) else []


def _entry(tree: Tree, base: str, entry: dict[str, Any], label: str, named: dict[str, int],
           i: int) -> list[str]:
    """One entry: its members, its links against the files beside the advisory, its TLP."""
    problems = [f"no {key} (RFC 8322 6.2)" for key in ("id", "title")
                if not isinstance(entry.get(key), str) or not entry[key].strip()]
    content, form = _member(entry, "content"), _member(entry, "format")
    src = str(content.get("src", ""))
    if content.get("type") != "application/json":
        problems.append("content.type is not application/json (CSAF 2.0 7.1.15)")
    if (form.get("schema"), form.get("version")) != (SCHEMA_URL, "2.0"):
        problems.append(f"format is not schema {SCHEMA_URL} version 2.0 (CSAF 2.0 7.1.15)")
    links = entry.get("link")
    if _hrefs(links, "self") != [src] or not src:
        problems.append(f"no link rel=self with the advisory's URL {src or '(no content.src)'} "
                        "(CSAF 2.0 7.1.15)")
        return problems
    local = local_path(tree.folder, base, src)
    if local is None or not local.is_file():
        return [*problems, f"names {src}, which is not in the tree"]
    rel = local.relative_to(tree.folder).as_posix()
    if rel in named:
        problems.append(f"lists {rel} again (first in entry {named[rel]})")
    named.setdefault(rel, i)
    return problems + _link_problems(local, src, links) + _tlp_problems(tree, rel, label)


def _member(entry: dict[str, Any], key: str) -> dict[str, Any]:
    value = entry.get(key)
    return value if isinstance(value, dict) else {}


def _link_problems(local: Path, src: str, links: Any) -> list[str]:
    """A ``hash`` link per hash file and a ``signature`` link per signature beside the advisory
    (requirements 15, 18, 19), and no link to a file that is not there."""
    problems = []
    for rel, suffixes, rule in (("hash", HASHES, "7.1.18"), ("signature", (SIGNATURE,), "7.1.19")):
        hrefs = set(_hrefs(links, rel))
        for suffix in suffixes:
            exists = local.with_name(f"{local.name}.{suffix}").is_file()
            if exists and f"{src}.{suffix}" not in hrefs:
                problems.append(f"no link rel={rel} to {src}.{suffix} (CSAF 2.0 7.1.15, {rule})")
            if not exists and f"{src}.{suffix}" in hrefs:
                problems.append(f"link rel={rel} to {src}.{suffix}, which is not in the tree")
    return problems


def _tlp_problems(tree: Tree, rel: str, label: str) -> list[str]:
    data = next((d.data for d in tree.documents if d.path == rel and d.data is not None), None)
    try:
        doc_label = tlp_of(json.loads(data)) if data is not None else label
    except ValueError:
        return []
    found = "UNLABELED" if doc_label is None else doc_label
    if found != label and doc_label in TLP_FOLDER:
        return [f"{rel} is TLP:{found}, the feed's label is {label} (one feed per TLP label, "
                "CSAF 2.0 7.1.15)"]
    return []


def _coverage(tree: Tree, feed_file: Path, name: str, named: dict[str, int]) -> list[str]:
    """Every advisory in the year folders beside the feed is one of its entries."""
    return [f"{doc.relative_to(tree.folder).as_posix()}: not in the ROLIE feed {name} "
            "(CSAF 2.0 7.1.15: every document of a TLP label is in its feed)"
            for doc in sorted(feed_file.parent.glob("*/*.json"))
            if YEAR.match(doc.parent.name) and doc.relative_to(tree.folder).as_posix() not in named]


def _unlisted(tree: Tree, base: str, listed: set[str]) -> list[str]:
    """Feeds in the tree (by content, or named by service.json) that provider-metadata.json
    does not list in ``distributions``."""
    found = {f"{base}/{p.relative_to(tree.folder).as_posix()}" for p in _feed_files(tree.folder)}
    found |= _service_hrefs(tree.folder)
    return [f"{url.removeprefix(base + '/')}: a ROLIE feed {METADATA} does not list in "
            "distributions (CSAF 2.0 7.1.7, 7.1.15)" for url in sorted(found - listed)]


def _feed_files(folder: Path) -> list[Path]:
    candidates = [*folder.glob("*.json"), *(p for p in folder.glob("*/*.json")
                                            if not YEAR.match(p.parent.name))]
    feeds = []
    for path in candidates:
        if path.name in (METADATA, "service.json") or not path.is_file():
            continue
        try:
            if isinstance(_json(path).get("feed"), dict):
                feeds.append(path)
        except (FormatError, ValueError, AttributeError):
            continue
    return feeds


def _service_hrefs(folder: Path) -> set[str]:
    if not (folder / "service.json").is_file():
        return set()
    try:
        service = _json(folder / "service.json")["service"]
        return {str(c["href"]) for w in service["workspace"] for c in w["collection"]}
    except (FormatError, ValueError, KeyError, TypeError):
        return set()


def _json(path: Path) -> Any:
    """A JSON file of the (untrusted) tree, size-limited like every file ``csaf_tree`` reads."""
    return json.loads(read_bytes(path))
