"""Fuzz targets: one per parser, each with its seeds (real files), the function that reads an
input, and the only exception types allowed to escape it. Shared by ``tests/fuzz`` (hypothesis,
bounded for CI) and ``scripts/fuzz.py`` (the long run).

Inputs are made two ways from the seeds: byte mutations (``mutate_bytes``: flips, inserts,
deletions, splices and format-specific hostile tokens) and structure-aware rebuilding
(``mutate_structure``: parse the seed, replace one value anywhere in it by a hostile value of
another type, serialise again).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import io
import json
import random
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent / "corpus"
PACKAGE = ROOT / "src" / "prodsec"


@dataclass(frozen=True)
class Target:
    """A parser under fuzz: ``run(data)`` may raise only ``allowed``."""

    name: str
    seeds: Callable[[], list[bytes]]
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    syntax: str  # json, yaml, xml, text, zip: which tokens and rebuilds fit
    cost: int = 1  # relative time per input (the long run gives cheap targets more inputs)


# ---- seeds --------------------------------------------------------------------------------


def _files(*patterns: str, root: Path = CORPUS) -> Callable[[], list[bytes]]:
    @functools.cache
    def load() -> list[bytes]:
        found = sorted(p for pattern in patterns for p in root.glob(pattern))
        assert found, f"no seeds for {patterns}"
        return [p.read_bytes() for p in found]

    return load


def _profiles_as_json() -> list[bytes]:
    import yaml

    return [json.dumps(yaml.safe_load(data)).encode() for data in _files(
        "examples/products/*.yaml", root=ROOT)()]


def _zipped_advisories() -> list[bytes]:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, data in enumerate(_files("osv-json/*.json")()):
            zf.writestr(f"advisories/{i}.json", data)
        for i, data in enumerate(_files("osv-yaml/*.yaml")()):
            zf.writestr(f"advisories/{i}.yaml", data)
    return [out.getvalue()]


# ---- runners --------------------------------------------------------------------------------


@functools.cache
def _kb() -> Any:
    from prodsec.core.knowledge import KnowledgeBase
    from prodsec.knowledge.loader import load_data

    return KnowledgeBase(load_data())


def run_profile(data: bytes, json_text: bool = False) -> object:
    from prodsec.core.applicability import Engine
    from prodsec.core.profile import parse_profile
    from prodsec.services.check import parse_document

    raw = parse_document(data, "fuzz.json" if json_text else "fuzz.yaml", json_text=json_text)
    profile = parse_profile(raw, _kb().vocabulary, "fuzz")
    json.dumps(profile.to_dict())
    return Engine(_kb()).check(profile, dt.date(2027, 1, 1)).to_dict()


def run_knowledge(data: bytes) -> object:
    """One mapping file through the loader's own reading and schema validation."""
    from prodsec.knowledge import validate

    path = _scratch() / "mappings" / "fuzz.yaml"
    path.write_bytes(data)
    raw, errors = validate.read_yaml(path, "mappings/fuzz.yaml")
    if errors:
        return errors
    return validate.validate_model(validate.MODEL_OF_SECTION["mappings"], raw, "mappings/fuzz.yaml")


def run_cyclonedx(data: bytes, validate: bool = False) -> object:
    from prodsec.formats import cyclonedx

    sbom = cyclonedx.parse(data, "fuzz.cdx")
    return cyclonedx.validate(data, "fuzz.cdx") if validate else sbom


def run_spdx(data: bytes) -> object:
    from prodsec.formats import spdx

    return spdx.parse(data, "fuzz.spdx")


def run_osv(data: bytes, suffix: str) -> object:
    from prodsec.formats import osv

    return osv.parse(data, f"fuzz{suffix}")


def run_osv_zip(data: bytes) -> object:
    from prodsec.formats import osv

    path = _scratch() / "osv.zip"
    path.write_bytes(data)
    osv.count_files(path)
    return osv.load(path)


def run_vex(data: bytes) -> object:
    from prodsec.formats.vex import parse_vex

    return parse_vex(data, "fuzz.vex.json")


#: the CSAF tests that read the document's structure the most (the full set is ~70 per input)
CSAF_TESTS = ("6.1.1", "6.1.2", "6.1.6", "6.1.8", "6.1.9", "6.1.13", "6.1.27", "6.2.1", "6.3.1")


def run_csaf(data: bytes) -> object:
    from prodsec.formats import csaf

    return csaf.validate(data, "fuzz.csaf.json", tests=CSAF_TESTS)


def run_export(data: bytes) -> object:
    from prodsec.workspace.transfer import validation

    path = _scratch() / ("export.zip" if data[:4] == b"PK\x03\x04" else "export.json")
    path.write_bytes(data)
    with validation.read_export(path) as export:
        return validation.validate_export(export, _tables())


def run_backup(data: bytes) -> object:
    import importlib

    from prodsec.workspace.transfer.archive import ArchiveLimits

    # the package exports a function named restore: take the module itself
    restore = importlib.import_module("prodsec.workspace.transfer.restore")

    path = _scratch() / "backup.zip"
    path.write_bytes(data)
    with restore._open_zip(path, ArchiveLimits()) as zf:
        manifest = restore.read_manifest(zf, path)
        restore.verify_archive(zf, manifest, path)
        return manifest


@functools.cache
def _scratch() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="prodsec-fuzz-"))
    (folder / "mappings").mkdir()
    return folder


@functools.cache
def _tables() -> dict[str, Any]:
    from prodsec.db.engine import open_database
    from prodsec.workspace.transfer.common import reflect

    database = open_database(str(_scratch() / "workspace.db"))
    with database.engine.connect() as conn:
        return {t.name: t for t in reflect(conn)}


# ---- the targets ----------------------------------------------------------------------------


def targets() -> list[Target]:
    from prodsec.core.profile import ProfileError
    from prodsec.errors import (
        AdvisoryFormatError,
        CsafFormatError,
        SbomFormatError,
        VexFormatError,
    )
    from prodsec.knowledge.loader import KnowledgeBaseError
    from prodsec.workspace.context import ValidationFailed
    from prodsec.workspace.transfer.common import TransferError

    knowledge = _files("knowledge/data/mappings/*.yaml", root=PACKAGE)
    return [
        Target("profile-yaml", _files("examples/products/*.yaml", root=ROOT), run_profile,
               (ProfileError,), "yaml", 2),
        Target("profile-json", functools.cache(_profiles_as_json),
               functools.partial(run_profile, json_text=True), (ProfileError,), "json"),
        Target("knowledge-file", knowledge, run_knowledge, (KnowledgeBaseError,), "yaml", 20),
        Target("cyclonedx-json", _files("cyclonedx-json/*.json"), run_cyclonedx,
               (SbomFormatError,), "json"),
        Target("cyclonedx-json-validate", _files("cyclonedx-json/hbom*.json"),
               functools.partial(run_cyclonedx, validate=True), (SbomFormatError,), "json", 10),
        Target("cyclonedx-xml", _files("cyclonedx-xml/*.xml"),
               functools.partial(run_cyclonedx, validate=True), (SbomFormatError,), "xml", 10),
        Target("spdx-json", _files("spdx-json/*.json"), run_spdx, (SbomFormatError,), "json", 2),
        Target("spdx3-jsonld", _files("spdx3/*.json"), run_spdx, (SbomFormatError,), "json", 2),
        Target("spdx-tag-value", _files("spdx-tv/*.spdx"), run_spdx, (SbomFormatError,), "text",
               5),
        Target("osv-json", _files("osv-json/*.json"), functools.partial(run_osv, suffix=".json"),
               (AdvisoryFormatError,), "json"),
        Target("osv-yaml", _files("osv-yaml/*.yaml"), functools.partial(run_osv, suffix=".yaml"),
               (AdvisoryFormatError,), "yaml", 2),
        Target("osv-zip", functools.cache(_zipped_advisories), run_osv_zip,
               (AdvisoryFormatError,), "zip", 5),
        Target("vex", _files("vex/*.json"), run_vex, (VexFormatError, ValidationFailed), "json"),
        Target("csaf", _files("csaf/*.json", "vex/csaf-*.json"), run_csaf, (CsafFormatError,),
               "json", 30),
        Target("export", _files("export/*"), run_export, (TransferError,), "json", 5),
        Target("backup-manifest", _files("backup/*.zip"), run_backup, (TransferError,), "zip", 3),
    ]


# ---- inputs -------------------------------------------------------------------------------

TOKENS = {
    "json": [b'"\\ud800"', b'"\\udfff\\ud800"', b"1" * 4400, b"-" + b"9" * 30, b"1e999999",
             b"NaN", b"-Infinity", b"[" * 300, b"{}", b"[]", b"null", b"true", b"0.0", b'""',
             b'{"a":' * 120, b"\x00", b"\xff\xfe", b'"\\u0000"'],
    "yaml": [b"&a ", b"*a", b"<<: *a\n", b"!!binary AAAA", b"!!python/object:os.system ",
             b"!!set {a, b}", b"? [a, b]\n: 1\n", b"0x" + b"f" * 40, b"1" * 4400, b".inf",
             b"2026-01-01", b"\t", b"- - - - - - - - - x\n", b"---\n", b"...\n", b'"\\ud800"',
             b"{" * 200, b"~", b"yes", b"%YAML 1.1\n"],
    "xml": [b"<!DOCTYPE bom [<!ENTITY x 'y'>]>", b"&x;", b"<component>" * 300, b"]]>",
            b'<?xml version="1.0" encoding="utf-16"?>', b'xmlns="urn:x"', b"\x00", b"&#0;",
            b"<![CDATA[", b"<!--", b'bom-ref="', b"&#xD800;"],
    "text": [b"\nSPDXVersion: SPDX-2.2\n", b"\nPackageName: ", b"\nRelationship: a DEPENDS_ON b\n",
             b"<text>", b"</text>", b"\nSPDXID: SPDXRef-", b"NOASSERTION", b"\x00", b"\xff",
             b"\nExternalRef: PACKAGE-MANAGER purl ", b"\nPackageChecksum: SHA1: ", b":" * 50],
    "zip": [b"PK\x03\x04", b"PK\x01\x02", b"PK\x05\x06", b"\x00" * 30, b"\xff" * 30,
            b"\x08\x00", b"\x01\x00", b"\x63\x00"],
}


def mutate_bytes(rng: random.Random, seed: bytes, syntax: str, others: list[bytes]) -> bytes:
    """A few random byte-level edits of a seed (AFL-style havoc, plus the format's tokens)."""
    data = bytearray(seed)
    for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
        op = rng.randrange(7)
        at = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip bits
            data[min(at, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:  # random bytes
            data[at:at] = rng.randbytes(rng.randrange(1, 9))
        elif op == 2 and data:  # delete a span
            del data[at:at + rng.randrange(1, 64)]
        elif op == 3 and data:  # duplicate a span
            start = rng.randrange(len(data))
            data[at:at] = data[start:start + rng.randrange(1, 256)]
        elif op == 4 and others:  # splice another seed in
            other = rng.choice(others)
            start = rng.randrange(len(other) + 1)
            data[at:] = other[start:start + rng.randrange(1, 2048)] + data[at:]
        elif op == 5 and data:  # truncate
            del data[at:]
        else:  # a hostile token
            data[at:at] = rng.choice(TOKENS[syntax])
    return bytes(data)


def hostile_value(rng: random.Random, depth: int = 0) -> Any:
    """A value of a random (usually wrong) type, often one a parser should refuse."""
    kind = rng.randrange(16 if depth < 3 else 11)
    simple: list[Any] = [
        None, True, 0, -1, 2 ** 63, 10 ** rng.randrange(1, 60), float("inf"), float("nan"), 1.5,
        "", "\ud800", "x" * rng.randrange(1, 5000), "é\U0001f600\u202e", "../../etc/passwd",
        "<script>", "2026-13-45", "pkg:pypi/x@1", "CVE-2018-18074", "\x00",
    ]
    if kind < 11:
        return rng.choice(simple)
    if kind == 11:
        return [hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 12:
        return {rng.choice(["", "id", "name", "\ud800", "x" * 300, "0"]):
                hostile_value(rng, depth + 1) for _ in range(rng.randrange(4))}
    if kind == 13:
        nested: Any = "deep"
        for _ in range(rng.randrange(90, 130)):
            nested = [nested] if rng.random() < 0.5 else {"a": nested}
        return nested
    if kind == 14:
        return 10 ** rng.randrange(4290, 4400)
    return [{}] * rng.randrange(1, 2000)


def _paths(value: Any, prefix: tuple[Any, ...] = (), limit: int = 4000) -> list[tuple[Any, ...]]:
    """Every path into a document (up to ``limit``), the root included."""
    found: list[tuple[Any, ...]] = [prefix]
    stack = [(value, prefix)]
    while stack and len(found) < limit:
        item, path = stack.pop()
        children = item.items() if isinstance(item, dict) else \
            enumerate(item) if isinstance(item, list) else ()
        for key, child in children:
            found.append((*path, key))
            stack.append((child, (*path, key)))
    return found


def _yaml_classes() -> tuple[Any, Any]:
    import yaml

    return (getattr(yaml, "CSafeLoader", yaml.SafeLoader),
            getattr(yaml, "CSafeDumper", yaml.SafeDumper))


_LOADER, _DUMPER = _yaml_classes()


def mutate_structure(rng: random.Random, seed: bytes, syntax: str,
                     value: Callable[[random.Random], Any] = hostile_value) -> bytes:
    """Parse a JSON/YAML seed, replace, delete or duplicate one value anywhere, serialise."""
    import yaml

    try:
        doc = json.loads(seed) if syntax == "json" else yaml.load(seed, Loader=_LOADER)
    except Exception:
        return seed
    path = rng.choice(_paths(doc))
    if not path:
        doc = value(rng)
    else:
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        op = rng.randrange(4)
        if op == 0 and isinstance(parent, dict):
            del parent[path[-1]]
        elif op == 1 and isinstance(parent, list):
            parent.append(parent[path[-1]])
        else:
            parent[path[-1]] = value(rng)
    try:
        if syntax == "yaml" and rng.random() < 0.5:
            return yaml.dump(doc, Dumper=_DUMPER, allow_unicode=rng.random() < 0.5).encode(
                "utf-8", "surrogatepass")
        return json.dumps(doc, ensure_ascii=rng.random() < 0.7, default=str).encode(
            "utf-8", "surrogatepass")
    except (ValueError, RecursionError, yaml.YAMLError):
        return seed


def rezip(rng: random.Random, seed: bytes) -> bytes:
    """A zip seed with one member's content mutated (structure-aware for archives)."""
    try:
        with zipfile.ZipFile(io.BytesIO(seed)) as zf:
            members = [(info, zf.read(info)) for info in zf.infolist()]
    except Exception:
        return seed
    out = io.BytesIO()
    victim = rng.randrange(len(members)) if members else -1
    with zipfile.ZipFile(out, "w", rng.choice((zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED))) as zf:
        for i, (info, data) in enumerate(members):
            if i == victim:
                syntax = "json" if info.filename.endswith((".json", ".jsonl")) else "yaml"
                data = mutate_structure(rng, data, syntax) if rng.random() < 0.5 else \
                    mutate_bytes(rng, data, syntax, [])
            zf.writestr(info.filename if rng.random() < 0.9 else "../" + info.filename, data)
    return out.getvalue()


def make_input(rng: random.Random, target: Target) -> bytes:
    """One input for a target: a byte mutation, a structural one, or both."""
    seeds = target.seeds()
    seed = rng.choice(seeds)
    choice = rng.random()
    if target.syntax == "zip":
        data = rezip(rng, seed) if choice < 0.6 else seed
        return mutate_bytes(rng, data, "zip", seeds) if choice > 0.4 else data
    if target.syntax in ("json", "yaml") and choice < 0.5:
        data = mutate_structure(rng, seed, target.syntax)
        return mutate_bytes(rng, data, target.syntax, seeds) if choice < 0.1 else data
    return mutate_bytes(rng, seed, target.syntax, seeds)


def check(target: Target, data: bytes) -> None:
    """Run one input; an exception outside ``target.allowed`` propagates (a finding)."""
    with contextlib.suppress(target.allowed):
        target.run(data)
