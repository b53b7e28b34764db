"""Validate knowledge files: YAML syntax, the pydantic schema, then references across files.

Only imported when the cache misses (or by ``prodsec knowledge validate``): it is the one place
that pays for PyYAML and pydantic.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from prodsec.errors import KnowledgeBaseError, KnowledgeError
from prodsec.knowledge import schema

MAX_FILE_BYTES = 4 * 1024 * 1024  # the largest file (eu-cra.yaml) is 78 kB
PROFILE_FACTS = {
    "name", "manufacturer", "markets", "software_only", "data_connection", "internet", "radio",
    "consumer", "personal_data", "money_transfer", "commercial", "open_source",
    "remote_service_only", "functions", "sector_law", "vehicle.category", "vehicle.ecus",
    "vehicle.software_updates", "vehicle.automated_driving_level", "vehicle.designed_to_pedal",
    "vehicle",
    "role", "enterprise_software", "identical_spare_part",
}

MODEL_OF_SECTION: dict[str, type[BaseModel]] = {
    "regulations": schema.Regulation,
    "standards": schema.Standard,
    "mappings": schema.MappingSet,
}


def _loc(loc: tuple[Any, ...]) -> str:
    """pydantic's location tuple → ``requirements[12].citation``, dropping union-branch names."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part[:1].isupper():
            continue  # the name of a union member (All, Fact...), not a key in the file
        elif isinstance(part, str) and part.startswith("function-"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(err: dict[str, Any]) -> str:
    if err["type"] == "missing":
        return "missing"
    if err["type"] == "extra_forbidden":
        return "unknown field"
    return str(err["msg"]).removeprefix("Value error, ")


def read_yaml(path: Path, rel: str) -> tuple[Any, list[KnowledgeError]]:
    """A knowledge file through ``prodsec.untrusted`` (bounded). Aliases stay allowed, within
    its budget: the shipped mappings use them to repeat a citation."""
    from prodsec import untrusted
    from prodsec.errors import FormatError

    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [KnowledgeError(rel, "", f"cannot read: {exc}")]
    try:
        return untrusted.load_yaml(data, rel, aliases=True, max_bytes=MAX_FILE_BYTES,
                                   what="a knowledge file"), []
    except FormatError as exc:
        where = f"line {exc.line}, column {exc.column}" if exc.line else ""
        return None, [KnowledgeError(rel, where, exc.problem)]


def _dedupe(errors: list[KnowledgeError]) -> list[KnowledgeError]:
    """A bad rule node fails every union branch; keep one message per path."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in errors:
        if (e.file, e.path) not in seen:
            seen.add((e.file, e.path))
            out.append(e)
    return out


def validate_model(model: type[BaseModel], raw: Any, rel: str) -> tuple[Any, list[KnowledgeError]]:
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        errors = [KnowledgeError(rel, _loc(e["loc"]), _message(dict(e))) for e in exc.errors()]
        return None, _dedupe(errors)


def validate_files(files: list[Path], data_dir: Path) -> dict[str, Any]:
    errors: list[KnowledgeError] = []
    vocabulary: schema.Vocabulary | None = None
    changes: schema.ChangeLog | None = None
    docs: dict[str, dict[str, tuple[str, Any]]] = {s: {} for s in MODEL_OF_SECTION}
    for path in files:
        rel = str(path.relative_to(data_dir))
        raw, errs = read_yaml(path, rel)
        errors += errs
        if errs:
            continue
        section = path.parent.name
        if rel == "vocabulary.yaml":
            vocabulary, errs = validate_model(schema.Vocabulary, raw, rel)
            errors += errs
            continue
        if rel == "changes.yaml":
            changes, errs = validate_model(schema.ChangeLog, raw, rel)
            errors += errs
            continue
        doc, errs = validate_model(MODEL_OF_SECTION[section], raw, rel)
        errors += errs
        if doc is None:
            continue
        if doc.id != path.stem:
            errors.append(KnowledgeError(rel, "id", f"must equal the file name {path.stem!r}"))
        docs[section][doc.id] = (rel, doc)
    if vocabulary is None and not any(e.file == "vocabulary.yaml" for e in errors):
        errors.append(KnowledgeError("vocabulary.yaml", "", "missing"))
    if changes is None and not any(e.file == "changes.yaml" for e in errors):
        errors.append(KnowledgeError("changes.yaml", "", "missing"))
    if not errors and vocabulary is not None:
        errors += check_references(vocabulary, docs)
        if changes is not None:
            errors += _check_changes(changes, docs, vocabulary)
    if errors:
        raise KnowledgeBaseError(errors)
    assert vocabulary is not None
    assert changes is not None
    return {
        "vocabulary": vocabulary.model_dump(mode="json", by_alias=True),
        "changes": changes.model_dump(mode="json", by_alias=True),
        **{
            section: {
                doc_id: doc.model_dump(mode="json", by_alias=True)
                for doc_id, (_, doc) in sorted(found.items())
            }
            for section, found in docs.items()
        },
    }


def _check_changes(
    log: schema.ChangeLog, docs: dict[str, dict[str, tuple[str, Any]]],
    vocabulary: schema.Vocabulary,
) -> list[KnowledgeError]:
    """Each change names known documents, profile facts and functions; ids are unique."""
    errors: list[KnowledgeError] = []
    known_docs = {d for found in docs.values() for d in found}
    functions = {f.id for f in vocabulary.functions} | set(vocabulary.retired_functions)
    seen: set[str] = set()
    for i, change in enumerate(log.changes):
        where = f"changes[{i}]"
        if change.id in seen:
            errors.append(KnowledgeError("changes.yaml", f"{where}.id", f"duplicate id {change.id!r}"))
        seen.add(change.id)
        errors += [KnowledgeError("changes.yaml", f"{where}.instruments", f"unknown document {d!r}")
                   for d in change.instruments if d not in known_docs]
        errors += [KnowledgeError("changes.yaml", f"{where}.facts", f"unknown profile fact {f!r}")
                   for f in change.facts if f not in PROFILE_FACTS]
        errors += [KnowledgeError("changes.yaml", f"{where}.functions", f"unknown function {f!r}")
                   for f in change.functions if f not in functions]
        if change.encoded > log.law_as_of:
            errors.append(KnowledgeError("changes.yaml", f"{where}.encoded",
                                         "encoded after the law_as_of date"))
    return errors


def check_references(
    vocabulary: schema.Vocabulary, docs: dict[str, dict[str, tuple[str, Any]]]
) -> list[KnowledgeError]:
    """Cross-file rules: unique ids, ids under their document, every reference resolves."""
    errors: list[KnowledgeError] = []
    ids: dict[str, str] = {}
    list_items: dict[str, set[str]] = {}
    functions = {f.id for f in vocabulary.functions} | {f.id for f in vocabulary.sector_law}
    all_ids: Counter[str] = Counter()
    for section in ("regulations", "standards"):
        for doc_id, (rel, doc) in docs[section].items():
            for i, req in enumerate(doc.requirements):
                all_ids[req.id] += 1
                ids.setdefault(req.id, rel)
                _check_prefix(errors, rel, f"requirements[{i}].id", req.id, doc_id)
            for i, lst in enumerate(doc.lists):
                all_ids[lst.id] += 1
                _check_prefix(errors, rel, f"lists[{i}].id", lst.id, doc_id)
                list_items[lst.id] = set()
                for j, item in enumerate(lst.items):
                    all_ids[item.id] += 1
                    _check_prefix(errors, rel, f"lists[{i}].items[{j}].id", item.id, doc_id)
                    for fn in item.functions:
                        if fn not in functions:
                            errors.append(KnowledgeError(
                                rel, f"lists[{i}].items[{j}].functions",
                                f"unknown function {fn!r}"))
    for dup, n in all_ids.items():
        if n > 1:
            errors.append(KnowledgeError(ids.get(dup, "?"), "", f"duplicate id {dup!r} ({n}×)"))
    std_ids = set(docs["standards"])
    for rel, doc in docs["regulations"].values():
        errors += _check_regulation(rel, doc, ids, list_items, std_ids, vocabulary)
    reg_ids = set(docs["regulations"])
    for rel, doc in docs["standards"].values():
        errors += _check_oj_listings(rel, doc, ids, reg_ids, list_items, vocabulary)
    for rel, doc in docs["mappings"].values():
        for i, m in enumerate(doc.mappings):
            for end in ("source", "target"):
                if getattr(m, end) not in ids:
                    errors.append(KnowledgeError(
                        rel, f"mappings[{i}].{end}", f"unknown requirement id {getattr(m, end)!r}"))
    return errors


def _check_prefix(errors: list[KnowledgeError], rel: str, path: str, id_: str, doc_id: str) -> None:
    if not id_.startswith(doc_id + ":"):
        errors.append(KnowledgeError(rel, path, f"id {id_!r} must start with '{doc_id}:'"))


def _check_oj_listings(
    rel: str, doc: schema.Standard, ids: dict[str, str], reg_ids: set[str],
    lists: dict[str, set[str]], vocabulary: schema.Vocabulary,
) -> list[KnowledgeError]:
    """An OJ listing names a known act, that act's requirements, and this standard's own
    requirements; a restriction's ``applies_when`` is a valid profile rule."""
    errors: list[KnowledgeError] = []
    for i, listing in enumerate(doc.oj_listings):
        where = f"oj_listings[{i}]"
        if listing.act not in reg_ids:
            errors.append(KnowledgeError(rel, f"{where}.act", f"unknown act {listing.act!r}"))
        ers = [(f"{where}.essential_requirements", listing.essential_requirements)]
        ers += [(f"{where}.restrictions[{j}].essential_requirements", r.essential_requirements)
                for j, r in enumerate(listing.restrictions)]
        for path, rids in ers:
            errors += [KnowledgeError(rel, path, f"{rid!r} is not a requirement of {listing.act!r}")
                       for rid in rids
                       if rid not in ids or not rid.startswith(listing.act + ":")]
        for j, restriction in enumerate(listing.restrictions):
            path = f"{where}.restrictions[{j}]"
            errors += [KnowledgeError(rel, f"{path}.requirements",
                                      f"{rid!r} is not a requirement of {doc.id!r}")
                       for rid in restriction.requirements
                       if rid not in ids or not rid.startswith(doc.id + ":")]
            if restriction.applies_when is not None:
                errors += _check_rule(rel, f"{path}.applies_when", restriction.applies_when,
                                      lists, vocabulary)
    return errors


def _check_territory(
    rel: str, territory: schema.Territory | None, vocabulary: schema.Vocabulary
) -> list[KnowledgeError]:
    """Every market a territory names is a known code (an unquoted NO is caught by the schema)."""
    if territory is None:
        return []
    known = set(vocabulary.countries) | set(vocabulary.market_groups) | set(vocabulary.subdivisions)
    named = [("applies", territory.applies), ("outside", territory.outside)]
    named += [(f"undetermined[{i}].markets", e.markets) for i, e in enumerate(territory.undetermined)]
    return [KnowledgeError(rel, f"applicability.territory.{where}", f"unknown market {code!r}")
            for where, codes in named for code in codes if code not in known]


def _check_regulation(
    rel: str, doc: schema.Regulation, ids: dict[str, str], lists: dict[str, set[str]],
    std_ids: set[str], vocabulary: schema.Vocabulary,
) -> list[KnowledgeError]:
    errors: list[KnowledgeError] = []
    for i, ref in enumerate(doc.standards):
        if ref.standard not in std_ids:
            errors.append(KnowledgeError(rel, f"standards[{i}].standard",
                                         f"unknown standard {ref.standard!r}"))
    for i, req in enumerate(doc.requirements):
        if req.parent and req.parent not in ids:
            errors.append(KnowledgeError(rel, f"requirements[{i}].parent",
                                         f"unknown requirement id {req.parent!r}"))
        if req.when is not None:
            errors += _check_rule(rel, f"requirements[{i}].when", req.when, lists, vocabulary)
    app = doc.applicability
    if app is None:
        return errors
    errors += _check_rule(rel, "applicability.scope", app.scope, lists, vocabulary)
    errors += _check_territory(rel, app.territory, vocabulary)
    for i, exc in enumerate(app.exclusions):
        errors += _check_rule(rel, f"applicability.exclusions[{i}].when", exc.when, lists, vocabulary)
    if app.mandatory_when is not None:
        errors += _check_rule(rel, "applicability.mandatory_when", app.mandatory_when, lists,
                              vocabulary)
    for i, cls in enumerate(app.classes):
        if cls.when is not None:
            errors += _check_rule(rel, f"applicability.classes[{i}].when", cls.when, lists,
                                  vocabulary)
    if app.classes and app.classes[-1].when is not None:
        errors.append(KnowledgeError(rel, "applicability.classes",
                                     "the last class must be the default (no 'when')"))
    if not app.classes and app.assessment is None:
        errors.append(KnowledgeError(rel, "applicability.assessment",
                                     "missing (needed when there are no classes)"))
    for i, ob in enumerate(app.obligations):
        for j, rid in enumerate(ob.requirements):
            if rid not in ids:
                errors.append(KnowledgeError(rel, f"applicability.obligations[{i}].requirements[{j}]",
                                             f"unknown requirement id {rid!r}"))
        for j, prefix in enumerate(ob.requirement_prefixes):
            if not any(r == prefix or r.startswith(prefix + ":") for r in ids):
                errors.append(KnowledgeError(
                    rel, f"applicability.obligations[{i}].requirement_prefixes[{j}]",
                    f"no requirement id starts with {prefix!r}"))
        if ob.when is not None:
            errors += _check_rule(rel, f"applicability.obligations[{i}].when", ob.when, lists,
                                  vocabulary)
    return errors


def _check_rule(
    rel: str, path: str, rule: Any, lists: dict[str, set[str]], vocabulary: schema.Vocabulary
) -> list[KnowledgeError]:
    """Facts must be profile fields; values must come from the vocabularies; lists must exist."""
    errors: list[KnowledgeError] = []
    if isinstance(rule, schema.All):
        for i, sub in enumerate(rule.all):
            errors += _check_rule(rel, f"{path}.all[{i}]", sub, lists, vocabulary)
    elif isinstance(rule, schema.AnyOf):
        for i, sub in enumerate(rule.any):
            errors += _check_rule(rel, f"{path}.any[{i}]", sub, lists, vocabulary)
    elif isinstance(rule, schema.Not):
        errors += _check_rule(rel, f"{path}.not", rule.not_, lists, vocabulary)
    elif isinstance(rule, schema.InList):
        if rule.list not in lists:
            errors.append(KnowledgeError(rel, f"{path}.list", f"unknown list {rule.list!r}"))
    elif isinstance(rule, schema.Fact):
        if rule.fact not in PROFILE_FACTS:
            errors.append(KnowledgeError(rel, f"{path}.fact", f"unknown profile fact {rule.fact!r}"))
        vocab = {
            "functions": {f.id for f in vocabulary.functions},
            "sector_law": {f.id for f in vocabulary.sector_law},
            "radio": set(vocabulary.radio),
            "vehicle.category": set(vocabulary.vehicle_categories),
            "markets": set(vocabulary.countries) | set(vocabulary.market_groups)
            | set(vocabulary.subdivisions),
        }.get(rule.fact)
        values = rule.value if isinstance(rule.value, list) else [rule.value]
        if vocab is not None and rule.op in ("is", "in", "contains_any", "contains_all"):
            for v in values:
                if v not in vocab:
                    errors.append(KnowledgeError(rel, f"{path}.value",
                                                 f"{v!r} is not a known {rule.fact} value"))
    return errors
