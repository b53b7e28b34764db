"""The CSAF 2.0 trusted-provider directory tree (CSAF 2.0 section 7.1): written from documents,
and read back — checked file by file — from a copy on disk.

Layout (the one the OASIS ``csaf_provider`` serves; every path under ``.well-known/csaf/``,
requirement 9)::

    provider-metadata.json            requirement 7, valid against provider_json_schema.json
    service.json                      ROLIE service document (requirement 16)
    openpgp/<FINGERPRINT>.asc         the public signing key (requirement 20)
    <tlp>/index.txt                   requirement 12
    <tlp>/changes.csv                 requirement 13, newest first
    <tlp>/csaf-feed-tlp-<tlp>.json    ROLIE feed, one per TLP label (requirement 15)
    <tlp>/<yyyy>/<name>.json          requirement 11 (year of initial_release_date), name per 5.1
    <tlp>/<yyyy>/<name>.json.sha256   requirement 18
    <tlp>/<yyyy>/<name>.json.sha512
    <tlp>/<yyyy>/<name>.json.asc      requirement 19

``<tlp>`` is ``white`` or ``unlabeled`` in the public tree. TLP:AMBER and TLP:RED documents
must be access protected, under a different path than the public ones (requirement 5), and
TLP:GREEN ones may not go "via publicly accessible channels" (FIRST TLP 1.0,
https://www.first.org/tlp/v1/, the definition CSAF 2.0 3.2.1.5.2 points to): ``build`` writes
them, each label in its own folder (``green``, ``amber``, ``red``), only when asked to
(``access_protected``), for a server that puts those folders behind access control. Every document's URL is ``document_url``: the same function
gives the advisory's ``self`` reference when it is authored (CSAF 2.0 6.2.11), so the reference
names the place the tree serves it from.
``build`` is pure (the clock and the signer are inputs), so the same documents and time give
the same bytes; ``read`` and ``check`` name each problem with its file.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from prodsec.errors import CsafTreeError, FormatError
from prodsec.formats._io import load_json, pointer, read_bytes

WELL_KNOWN = ".well-known/csaf"
METADATA = "provider-metadata.json"
TLP_FOLDER = {"WHITE": "white", None: "unlabeled", "GREEN": "green", "AMBER": "amber",
              "RED": "red"}
PUBLIC_TLP = frozenset({"WHITE", None})
ACCESS_PROTECTED_TLP = ("GREEN", "AMBER", "RED")
ROLIE_CATEGORY = {"scheme": "urn:ietf:params:rolie:category:information-type", "term": "csaf"}
HASHES = ("sha256", "sha512")
MAX_DOCUMENTS = 5000
SCHEMA_URL = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"


def file_name(tracking_id: str) -> str:
    """CSAF 2.0 5.1: lower case, every run outside ``+-a-z0-9`` one ``_``, then ``.json``."""
    return re.sub(r"[^+\-a-z0-9]+", "_", tracking_id.lower()) + ".json"


def tlp_of(doc: dict[str, Any]) -> str | None:
    """The document's TLP label (None: unlabeled)."""
    label = doc.get("document", {}).get("distribution", {}).get("tlp", {}).get("label")
    return label if isinstance(label, str) else None


def _dump(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class Key:
    """The signing key as the tree names it: fingerprint and armored public part."""

    fingerprint: str
    public: str


AGGREGATORS = {"none": (False, False), "list": (True, False), "mirror": (True, True)}
"""What the provider lets CSAF aggregators do (``list_on_CSAF_aggregators``,
``mirror_on_CSAF_aggregators``). ``list`` is the default because it is what CSAF 2.0 7.1.7 has
an aggregator assume when a publisher says nothing: listed, not mirrored."""


def base_url(namespace: str) -> str:
    """Where the tree is served: ``<namespace>/.well-known/csaf`` (requirement 9)."""
    return f"{namespace.rstrip('/')}/{WELL_KNOWN}"


def document_path(label: str | None, initial_release_date: str, tracking_id: str) -> str:
    """``<tlp folder>/<yyyy>/<file name>``: the document's place in the tree, by its TLP label,
    the year of its ``initial_release_date`` (requirement 11) and its tracking id (5.1)."""
    return f"{TLP_FOLDER[label]}/{initial_release_date[:4]}/{file_name(tracking_id)}"


def document_url(base: str, label: str | None, initial_release_date: str,
                 tracking_id: str) -> str:
    """The URL the tree serves a document at under ``base`` (``base_url``): the one URL its
    ``self`` reference names (CSAF 2.0 6.2.11: ``self``, under the publisher's namespace, ending
    in the 5.1 file name), so a consumer following the reference finds the file."""
    return f"{base}/{document_path(label, initial_release_date, tracking_id)}"


def build(documents: list[bytes], publisher: dict[str, Any], base: str, now: str,
          sign: Callable[[bytes], bytes] | None = None, key: Key | None = None, *,
          access_protected: bool = False, aggregators: str = "list") -> dict[str, bytes]:
    """Every file of the tree, by path relative to the web root. ``documents`` are the exact
    published bytes; ``now`` stamps ``last_updated`` and the feeds. Without ``sign`` the tree
    is a ``csaf_provider``'s (no signatures); with it a ``csaf_trusted_provider``'s. A TLP:GREEN,
    AMBER or RED document is refused unless ``access_protected`` (then it goes in its label's
    own folder, which the server must put behind access control)."""
    files: dict[str, bytes] = {}
    folders: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for n, data in enumerate(documents):
        doc = _published(data, n)
        tracking = doc["document"]["tracking"]
        label = _placeable_label(doc, access_protected)
        path = document_path(label, tracking["initial_release_date"], tracking["id"])
        folder, rel = path.split("/", 1)
        if f"{WELL_KNOWN}/{path}" in files:
            raise CsafTreeError(f"{tracking['id']}: two documents share the file name {rel}")
        files.update(_document_files(f"{WELL_KNOWN}/{path}", data, sign))
        folders.setdefault(folder, []).append((rel, doc))
    for folder, docs in sorted(folders.items()):
        files.update(_folder(folder, docs, publisher, base, now, sign is not None))
    if key is not None:
        files[f"{WELL_KNOWN}/openpgp/{key.fingerprint}.asc"] = key.public.encode()
    files[f"{WELL_KNOWN}/service.json"] = _dump(_service(sorted(folders), publisher, base))
    files[f"{WELL_KNOWN}/{METADATA}"] = _dump(
        provider_metadata(sorted(folders), publisher, base, now, key, aggregators))
    return dict(sorted(files.items()))


def _placeable_label(doc: dict[str, Any], access_protected: bool) -> str | None:
    """The document's TLP label when the tree may hold it: one of CSAF 2.0's labels, and a
    public one unless access-protected folders were asked for."""
    label, tracking_id = tlp_of(doc), doc["document"]["tracking"]["id"]
    if label not in TLP_FOLDER:
        raise CsafTreeError(f"{tracking_id}: TLP label {label!r} is not one of CSAF 2.0's "
                            "(WHITE, GREEN, AMBER, RED)")
    if label not in PUBLIC_TLP and not access_protected:
        raise CsafTreeError(f"{tracking_id}: TLP:{label} documents must be access protected "
                            "(CSAF 2.0 7.1.5; TLP:GREEN: not via publicly accessible channels), "
                            "not in a public tree")
    return label


def _document_files(path: str, data: bytes,
                    sign: Callable[[bytes], bytes] | None) -> dict[str, bytes]:
    """The document, a hash file per algorithm (requirement 18: hash, two spaces, file name)
    and, when signing, its detached signature (requirement 19)."""
    name = path.rsplit("/", 1)[1]
    files = {path: data}
    for algo in HASHES:
        files[f"{path}.{algo}"] = f"{hashlib.new(algo, data).hexdigest()}  {name}\n".encode()
    if sign is not None:
        files[f"{path}.asc"] = sign(data)
    return files


def _published(data: bytes, n: int) -> dict[str, Any]:
    """A document the tree can place: JSON with a tracking id, dates and a title (the
    publishing workflow validated the rest)."""
    try:
        doc = json.loads(data)
        meta = doc["document"]
        tracking = meta["tracking"]
        if not all(isinstance(v, str) for v in (meta["title"], tracking["id"],
                                                tracking["initial_release_date"],
                                                tracking["current_release_date"])):
            raise TypeError("title, tracking id and dates must be strings")
    except (ValueError, KeyError, TypeError) as exc:
        raise CsafTreeError(f"document {n + 1}: not a publishable CSAF document ({exc})") from None
    return doc  # type: ignore[no-any-return]


def _feed_url(base: str, folder: str) -> str:
    return f"{base}/{folder}/csaf-feed-tlp-{folder}.json"


def _label(folder: str) -> str:
    return "UNLABELED" if folder == "unlabeled" else folder.upper()


def provider_metadata(folders: list[str], publisher: dict[str, Any], base: str, now: str,
                      key: Key | None, aggregators: str = "list") -> dict[str, Any]:
    """provider-metadata.json (requirement 7): the publisher as in the documents, a ROLIE feed
    per TLP folder, the signing key, the role the tree qualifies for (7.2.2/7.2.3) and what
    aggregators may do, as the provider said (``AGGREGATORS``), never more."""
    if aggregators not in AGGREGATORS:
        raise CsafTreeError(f"aggregators {aggregators!r}: expected one of "
                            f"{', '.join(AGGREGATORS)}")
    listed, mirrored = AGGREGATORS[aggregators]
    meta: dict[str, Any] = {
        "canonical_url": f"{base}/{METADATA}",
        "distributions": [{"rolie": {"feeds": [
            {"summary": _feed_summary(f, publisher), "tlp_label": _label(f),
             "url": _feed_url(base, f)} for f in folders]}}]
        if folders else [],
        "last_updated": now, "list_on_CSAF_aggregators": listed, "metadata_version": "2.0",
        "mirror_on_CSAF_aggregators": mirrored, "publisher": publisher,
        "role": "csaf_trusted_provider" if key else "csaf_provider",
    }
    if not folders:
        del meta["distributions"]
    if key is not None:
        meta["public_openpgp_keys"] = [{"fingerprint": key.fingerprint,
                                        "url": f"{base}/openpgp/{key.fingerprint}.asc"}]
    return meta


def _feed_summary(folder: str, publisher: dict[str, Any]) -> str:
    protected = " Access protected: only for the recipients the label allows." if folder in {
        TLP_FOLDER[t] for t in ACCESS_PROTECTED_TLP} else ""
    return f"{_label(folder)} advisories of {publisher['name']}.{protected}"


def _service(folders: list[str], publisher: dict[str, Any], base: str) -> dict[str, Any]:
    return {"service": {"workspace": [{"title": f"CSAF advisories of {publisher['name']}",
                                       "collection": [{
                                           "title": f"{publisher['name']} CSAF feed (TLP:{_label(f)})",
                                           "href": _feed_url(base, f),
                                           "categories": {"category": [ROLIE_CATEGORY]}}
                                           for f in folders]}]}}


def _folder(folder: str, docs: list[tuple[str, dict[str, Any]]], publisher: dict[str, Any],
            base: str, now: str, signed: bool) -> dict[str, bytes]:
    """index.txt, changes.csv (newest ``current_release_date`` first, then by name) and the
    ROLIE feed of one TLP folder."""
    prefix = f"{WELL_KNOWN}/{folder}"
    ordered = sorted(docs, key=lambda d: d[0])
    newest = sorted(ordered, key=lambda d: when(d[1]["document"]["tracking"]["current_release_date"]),
                    reverse=True)
    changes = "".join(f'"{rel}","{doc["document"]["tracking"]["current_release_date"]}"\n'
                      for rel, doc in newest)
    feed = {"feed": {
        "id": f"{_slug(publisher['name'])}-csaf-feed-tlp-{folder}",
        "title": f"{publisher['name']} CSAF feed (TLP:{_label(folder)})",
        "link": [{"rel": "self", "href": _feed_url(base, folder)}],
        "category": [ROLIE_CATEGORY], "updated": now,
        "entry": [_entry(f"{base}/{folder}/{rel}", doc, signed) for rel, doc in newest],
    }}
    return {f"{prefix}/index.txt": "".join(f"{rel}\n" for rel, _ in ordered).encode(),
            f"{prefix}/changes.csv": changes.encode(),
            f"{prefix}/csaf-feed-tlp-{folder}.json": _dump(feed)}


def when(stamp: str) -> datetime:
    """A CSAF date-time as an instant (the documents mix ``.000Z``, ``.000000Z`` and offsets:
    their text does not sort in time order); an unreadable one sorts first."""
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "provider"


def _entry(url: str, doc: dict[str, Any], signed: bool) -> dict[str, Any]:
    meta = doc["document"]
    tracking = meta["tracking"]
    summary = next((n["text"] for n in meta.get("notes", []) if n.get("category") == "summary"),
                   meta["title"])
    links = [{"rel": "self", "href": url}] + [{"rel": "hash", "href": f"{url}.{a}"} for a in HASHES]
    if signed:
        links.append({"rel": "signature", "href": f"{url}.asc"})
    return {"id": tracking["id"], "title": meta["title"], "link": links,
            "published": tracking["initial_release_date"],
            "updated": tracking["current_release_date"], "summary": {"content": summary},
            "content": {"type": "application/json", "src": url},
            "format": {"schema": SCHEMA_URL, "version": "2.0"}}


# ---- reading a tree --------------------------------------------------------------------------


@dataclass
class TreeDocument:
    """One document the tree lists: its path under the CSAF folder, its bytes (None when it
    cannot be read) and what is wrong with it (hash, signature, name, place)."""

    path: str
    data: bytes | None = None
    problems: list[str] = field(default_factory=list)
    signed_by: str | None = None


@dataclass
class Tree:
    """A tree read from disk: its metadata, documents and tree-level problems."""

    folder: Path
    metadata: dict[str, Any]
    documents: list[TreeDocument]
    problems: list[str]


def find_metadata(root: Path) -> Path | None:
    """``provider-metadata.json`` at ``root/.well-known/csaf/`` or directly in ``root``."""
    for candidate in (root / WELL_KNOWN / METADATA, root / METADATA):
        if candidate.is_file():
            return candidate
    return None


def metadata_problems(meta: Any) -> list[str]:
    """Every provider_json_schema error of provider-metadata.json, with its JSON pointer."""
    return [f"{METADATA} {pointer(e.absolute_path) or '/'}: {e.message[:300]}"
            for e in _provider_validator().iter_errors(meta)][:50]


@lru_cache(maxsize=1)
def _provider_validator() -> Any:
    from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

    from prodsec.formats.csaf import schema_registry

    text = (resources.files("prodsec") / "schemas" / "csaf-2.0-provider.schema.json").read_text(
        encoding="utf-8")
    return Draft202012Validator(json.loads(text), registry=schema_registry(),
                                format_checker=FormatChecker())


def read(root: Path, verify: Callable[[bytes, bytes], str] | None,
         keys_out: list[bytes] | None = None) -> Tree:
    """Read the tree under ``root``: the metadata (schema-checked), every document its feeds and
    ``index.txt`` files list, each with its hash files and signature checked. ``verify(data,
    signature)`` returns the signer's fingerprint or ``error: …``; ``keys_out`` collects the
    public keys the metadata names (read before any signature is checked, see ``public_keys``)."""
    found = find_metadata(root)
    if found is None:
        raise CsafTreeError(f"{root}: no {WELL_KNOWN}/{METADATA} and no {METADATA}: not a CSAF "
                            "provider tree")
    folder = found.parent
    meta = load_json(read_bytes(found, error=CsafTreeError), str(found), error=CsafTreeError)
    problems = metadata_problems(meta)
    if problems or not isinstance(meta, dict):
        return Tree(folder, meta if isinstance(meta, dict) else {}, [], problems or [
            f"{METADATA}: expected a JSON object"])
    base = str(meta["canonical_url"]).rsplit("/", 1)[0]
    listed: dict[str, dict[str, str]] = {}
    for url in _feed_urls(meta):
        _from_feed(folder, base, url, listed, problems)
    for index in sorted(folder.glob("*/index.txt")):
        for n, line in enumerate(index.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            rel = line.strip()
            if rel and _inside(rel):
                listed.setdefault(f"{index.parent.name}/{rel}", {})
            elif rel:
                problems.append(f"{index.parent.name}/index.txt line {n}: {rel[:200]!r} is not a "
                                "path inside the tree")
    if len(listed) > MAX_DOCUMENTS:
        raise CsafTreeError(f"{root}: {len(listed)} documents listed, more than {MAX_DOCUMENTS} "
                            "(read it in parts)")
    trusted = meta.get("role") == "csaf_trusted_provider"
    documents = [_document(folder, path, links, verify, trusted)
                 for path, links in sorted(listed.items())]
    if not documents:
        problems.append(f"{METADATA}: no document is listed by a ROLIE feed or an index.txt")
    return Tree(folder, meta, documents, problems)


def listed_fingerprints(tree_root: Path) -> set[str]:
    """The fingerprints ``public_openpgp_keys`` lists (upper case)."""
    found = find_metadata(tree_root)
    try:
        meta = json.loads(found.read_bytes()) if found else {}
        return {str(k["fingerprint"]).upper() for k in meta.get("public_openpgp_keys") or []}
    except (ValueError, KeyError, TypeError, AttributeError):
        return set()


def public_keys(tree_root: Path) -> tuple[list[bytes], list[str]]:
    """The public keys ``public_openpgp_keys`` names that are inside the tree (7.1.20), and a
    problem for each one missing there (a consumer offline cannot fetch it)."""
    found = find_metadata(tree_root)
    if found is None:
        return [], []
    folder = found.parent
    try:
        meta = json.loads(found.read_bytes())
        base = str(meta["canonical_url"]).rsplit("/", 1)[0]
        entries = list(meta.get("public_openpgp_keys") or [])
    except (ValueError, KeyError, TypeError, AttributeError):
        return [], []
    keys, problems = [], []
    for entry in entries:
        local = local_path(folder, base, str(entry.get("url", "")))
        if local is None or not local.is_file():
            problems.append(f"{METADATA}: public key {entry.get('fingerprint')} is not in the "
                            f"tree ({entry.get('url')}); give it with --key")
        else:
            keys.append(local.read_bytes())
    return keys, problems


def _feed_urls(meta: dict[str, Any]) -> list[str]:
    return [str(feed["url"]) for dist in meta.get("distributions", [])
            for feed in dist.get("rolie", {}).get("feeds", [])]


def local_path(folder: Path, base: str, url: str) -> Path | None:
    """The file a URL under the metadata's base names, kept inside the tree (no ``..``)."""
    if not url.startswith(base + "/"):
        return None
    rel = url[len(base) + 1:]
    return folder / rel if _inside(rel) else None


def _inside(rel: str) -> bool:
    """A relative path that cannot leave the tree (no ``..``, no absolute path, no empty
    part): an offline copy of someone else's tree is untrusted input."""
    return bool(rel) and "\\" not in rel and not any(
        part in ("", ".", "..") for part in rel.split("/"))


def _from_feed(folder: Path, base: str, url: str, listed: dict[str, dict[str, str]],
               problems: list[str]) -> None:
    local = local_path(folder, base, url)
    if local is None or not local.is_file():
        problems.append(f"{METADATA}: ROLIE feed {url} is not in the tree")
        return
    try:
        feed = load_json(read_bytes(local, error=CsafTreeError), str(local), error=CsafTreeError)
        entries = feed["feed"].get("entry", [])
    except (FormatError, KeyError, TypeError, AttributeError) as exc:
        problems.append(f"{local.relative_to(folder)}: not a ROLIE feed ({exc})")
        return
    for i, entry in enumerate(entries if isinstance(entries, list) else []):
        src = local_path(folder, base, str(entry.get("content", {}).get("src", "")))
        if src is None:
            problems.append(f"{local.relative_to(folder)} /feed/entry/{i}/content/src: not a file "
                            "of this tree")
            continue
        links = {str(link.get("rel")): str(link.get("href")) for link in entry.get("link", [])
                 if link.get("rel") in ("signature",)}
        listed[src.relative_to(folder).as_posix()] = links


def _document(folder: Path, path: str, links: dict[str, str],
              verify: Callable[[bytes, bytes], str] | None, trusted: bool) -> TreeDocument:
    item = TreeDocument(path)
    file = folder / path
    if not file.is_file():
        item.problems.append(f"{path}: listed but missing")
        return item
    if not file.resolve().is_relative_to(folder.resolve()):
        item.problems.append(f"{path}: a link to a file outside the tree")
        return item
    item.data = read_bytes(file, error=CsafTreeError)
    item.problems += hash_problems(file, path, item.data)
    item.problems += _place_problems(path, item.data)
    signature = file.with_name(file.name + ".asc")
    if signature.is_file():
        if verify is None:
            item.problems.append(f"{path}.asc: no public key to check the signature with")
        else:
            result = verify(item.data, signature.read_bytes())
            if result.startswith("error: "):
                item.problems.append(f"{path}.asc: bad signature ({result[7:]})")
            else:
                item.signed_by = result
    elif trusted or links.get("signature"):
        item.problems.append(f"{path}.asc: missing (a trusted provider signs every document, "
                             "CSAF 2.0 7.1.19)")
    return item


def hash_problems(file: Path, path: str, data: bytes) -> list[str]:
    """The document's hash files (7.1.18) against its bytes: none at all is a problem too."""
    present = [a for a in (*HASHES, "sha3-512") if file.with_name(f"{file.name}.{a}").is_file()]
    if not present:
        return [f"{path}: no hash file (.sha256 or .sha512, CSAF 2.0 7.1.18)"]
    problems = []
    for algo in present:
        text = file.with_name(f"{file.name}.{algo}").read_text(encoding="ascii", errors="replace")
        given = (text.split() or [""])[0].lower()
        if given != hashlib.new(algo.replace("-", "_"), data).hexdigest():
            problems.append(f"{path}.{algo}: hash does not match the document")
    return problems


def _place_problems(path: str, data: bytes) -> list[str]:
    """File name (5.1, 7.1.2) and year folder (7.1.11) as the document's tracking says."""
    try:
        tracking = json.loads(data)["document"]["tracking"]
        name, year = file_name(str(tracking["id"])), str(tracking["initial_release_date"])[:4]
    except (ValueError, KeyError, TypeError):
        return [f"{path}: not a CSAF document (no /document/tracking)"]
    parts = path.split("/")
    problems = []
    if parts[-1] != name:
        problems.append(f"{path}: file name should be {name} (CSAF 2.0 5.1)")
    if len(parts) < 2 or parts[-2] != year:
        problems.append(f"{path}: should be in the folder {year} (initial_release_date, 7.1.11)")
    return problems + _label_folder_problems(path, data)


def _label_folder_problems(path: str, data: bytes) -> list[str]:
    """A document in a TLP folder (``white/``, ``amber/``, ...) that carries another label: a
    consumer trusting the folder would treat an AMBER document as WHITE (review h18r M6; the
    feed's label must be the document's, CSAF 2.0 7.1.15)."""
    folder = path.split("/")[0]
    if folder not in TLP_FOLDER.values():
        return []
    label = tlp_of(json.loads(data))
    if TLP_FOLDER.get(label) == folder:
        return []
    return [f"{path} is TLP:{label or 'UNLABELED'} but sits in the folder {folder}/ "
            "(one folder and feed per TLP label, CSAF 2.0 7.1.15)"]


def listing_problems(tree: Tree) -> list[str]:
    """index.txt and changes.csv of each TLP folder against the documents in its year folders."""
    problems = []
    for folder in sorted({d.path.split("/")[0] for d in tree.documents}):
        docs = {d.path.split("/", 1)[1]: d for d in tree.documents if d.path.startswith(folder + "/")}
        index = tree.folder / folder / "index.txt"
        lines = index.read_text(encoding="utf-8").splitlines() if index.is_file() else None
        if lines is None:
            problems.append(f"{folder}/index.txt: missing (CSAF 2.0 7.1.12)")
        elif sorted(filter(None, lines)) != sorted(docs):
            problems.append(f"{folder}/index.txt: does not list exactly the documents of {folder}/")
        problems += _changes_problems(tree.folder / folder / "changes.csv", folder, docs)
    return problems


def _changes_problems(file: Path, folder: str, docs: dict[str, TreeDocument]) -> list[str]:
    if not file.is_file():
        return [f"{folder}/changes.csv: missing (CSAF 2.0 7.1.13)"]
    rows = []
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
        cells = [c.strip().strip('"') for c in line.split(",")]
        if len(cells) != 2:
            return [f"{folder}/changes.csv line {n}: expected \"file\",\"current_release_date\""]
        rows.append((cells[0], cells[1]))
    problems = []
    if [when(r[1]) for r in rows] != sorted((when(r[1]) for r in rows), reverse=True):
        problems.append(f"{folder}/changes.csv: not sorted newest first (CSAF 2.0 7.1.13)")
    for rel, doc in docs.items():
        want = _current(doc.data)
        if want is not None and (rel, want) not in rows:
            problems.append(f"{folder}/changes.csv: no line \"{rel}\",\"{want}\"")
    return problems


def _current(data: bytes | None) -> str | None:
    try:
        return str(json.loads(data or b"")["document"]["tracking"]["current_release_date"])
    except (ValueError, KeyError, TypeError):
        return None
