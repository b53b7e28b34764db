"""CSAF 2.0 validation: the JSON schema (CVSS schemas resolved to bundled copies, never fetched)
and the section 6 tests.

The 6.1/6.2/6.3 tests come from the maintained ``csaf`` package (it implements all of them for
CSAF 2.0 and gets the OASIS conformance files right); writing our own would duplicate ~60 rules.
We run it per test so that one test crashing on a malformed document cannot hide the others,
and we run the tests even when the schema fails: test 6.1.8 (invalid CVSS) is *about* documents
that break the CVSS schema. 6.3.6/6.3.7 need the network and are skipped; 6.3.8 (spell check)
is not implemented by the package.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from prodsec.core.csaf import CsafReport, TestFailure
from prodsec.errors import CsafFormatError, UnsupportedCsafVersion
from prodsec.formats._io import expect_object, load_json, pointer

CVSS_URLS = {
    "https://www.first.org/cvss/cvss-v2.0.json": "cvss-v2.0.json",
    "https://www.first.org/cvss/cvss-v3.0.json": "cvss-v3.0.json",
    "https://www.first.org/cvss/cvss-v3.1.json": "cvss-v3.1.json",
}
OFFLINE_SKIPS = {
    "6.3.6": "needs network access to resolve URLs",
    "6.3.7": "needs network access to resolve URLs",
    "6.3.8": "spell check is not implemented",
}
TESTS = (
    [f"6.1.{n}" for n in range(1, 34)]
    + [f"6.2.{n}" for n in range(1, 21)]
    + [f"6.3.{n}" for n in range(1, 12)]
)
GROUPS = {"6.1": "mandatory", "6.2": "optional", "6.3": "informative"}
MAX_SCHEMA_ERRORS = 200


def validate(data: bytes, source: str, tests: tuple[str, ...] = tuple(TESTS)) -> CsafReport:
    """Validate a CSAF 2.0 document: the schema, then each requested section 6 test."""
    doc = document(data, source)
    failures = list(schema_failures(doc))
    skipped: list[tuple[str, str]] = []
    for test in tests:
        if test in OFFLINE_SKIPS:
            skipped.append((test, OFFLINE_SKIPS[test]))
            continue
        failures.extend(_run_test(test, doc))
    return CsafReport(source, tuple(failures), tuple(skipped))


def document(data: bytes, source: str) -> dict[str, Any]:
    """The parsed document, refused unless it is a JSON object declaring CSAF 2.0."""
    doc = expect_object(load_json(data, source, error=CsafFormatError), source, "a CSAF document",
                        error=CsafFormatError)
    meta = doc.get("document")
    version = meta.get("csaf_version") if isinstance(meta, dict) else None
    if version is None:
        raise CsafFormatError(f"{source}: /document/csaf_version: missing; expected \"2.0\" (is this a CSAF document?)")
    if version != "2.0":
        raise UnsupportedCsafVersion(f"{source}: /document/csaf_version: {version!r} is not supported; expected \"2.0\"")
    return doc


def schema_failures(doc: dict[str, Any]) -> list[TestFailure]:
    """Every JSON schema error, with the JSON pointer of the offending value."""
    failures: list[TestFailure] = []
    for error in _schema_validator().iter_errors(doc):
        failures.append(TestFailure("schema", "schema", pointer(error.absolute_path), error.message[:500]))
        if len(failures) >= MAX_SCHEMA_ERRORS:
            break
    return failures


@lru_cache(maxsize=1)
def _schema_validator() -> Any:
    """Draft 2020-12 validator over the bundled CSAF schema; CVSS ``$ref``s resolve locally."""
    from jsonschema import Draft202012Validator, FormatChecker  # type: ignore[import-untyped]

    registry = schema_registry()
    schema = registry.contents(CSAF_SCHEMA_URL)
    return Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())


CSAF_SCHEMA_URL = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"


@lru_cache(maxsize=1)
def schema_registry() -> Any:
    """The bundled CSAF 2.0 and FIRST CVSS schemas by their URLs, for ``$ref``s that name them
    (the CSAF schema's CVSS scores, the provider schema's ``publisher``): never fetched."""
    import json

    from referencing import Registry, Resource

    folder = resources.files("prodsec") / "schemas"
    registry: Registry[Any] = Registry()
    for url, name in {**CVSS_URLS, CSAF_SCHEMA_URL: "csaf-2.0.schema.json"}.items():
        contents = json.loads((folder / name).read_text(encoding="utf-8"))
        registry = registry.with_resource(url, Resource.from_contents(contents))
    return registry


def _run_test(test: str, doc: dict[str, Any]) -> list[TestFailure]:
    group = GROUPS[test[:3]]
    override = _OVERRIDES.get(test)
    try:
        errors = override(doc) if override else _csaf_rule(test, doc)
    except ImportError:
        raise  # the csaf package is missing: an extra to install, not a verdict on the document
    except Exception as exc:
        return [TestFailure(test, group, "/", f"test could not evaluate this document: {type(exc).__name__}")]
    return [TestFailure(test, group, path or "/", message) for path, message in errors]


@lru_cache(maxsize=1)
def _csaf_rules() -> dict[str, Any]:
    """The csaf package's CSAF 2.0 rule functions by test number (its validator's registry).

    Called directly rather than through ``csaf...validate(only_rules=...)``, which re-runs the
    whole schema validation for every single rule.
    """
    import csaf.csaf.v20._validator  # type: ignore[import-untyped]  # noqa: F401 - registers the rules
    from csaf.csaf.v20.rules._registry import all_rules  # type: ignore[import-untyped]

    return dict(all_rules())


def _csaf_rule(test: str, doc: dict[str, Any]) -> list[tuple[str, str]]:
    rule = _csaf_rules().get(test)
    if rule is None:
        return []
    errors = [(e.instance_path, e.message) for e in rule(doc)]
    if test == "6.1.27":
        errors = [e for e in errors if not _is_extra_vex_status(e)]
        errors.extend(_vex_product_status(doc))
    return errors


VEX_STATUSES = ("fixed", "known_affected", "known_not_affected", "under_investigation")


def _is_extra_vex_status(error: tuple[str, str]) -> bool:
    """The csaf package also forbids other statuses (e.g. ``recommended``) in a CSAF VEX: that is
    stricter than CSAF 2.0 6.1.27.7, which only requires one of the four VEX statuses, and it
    rejects the OASIS example 2022-evd-uc-08-001. We keep the 2.0 rule (``_vex_product_status``)."""
    path, message = error
    return "/product_status/" in path and "not allowed" in message


def _vex_product_status(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """CSAF 2.0 6.1.27.7: in a csaf_vex, each vulnerability names at least one VEX status."""
    meta = doc.get("document")
    if not isinstance(meta, dict) or meta.get("category") != "csaf_vex":
        return []
    found: list[tuple[str, str]] = []
    vulns = doc.get("vulnerabilities")
    for i, vuln in enumerate(vulns if isinstance(vulns, list) else ()):
        status = vuln.get("product_status") if isinstance(vuln, dict) else None
        if isinstance(status, dict) and not any(k in status for k in VEX_STATUSES):
            found.append((f"/vulnerabilities/{i}/product_status",
                          f"6.1.27.7: none of {', '.join(VEX_STATUSES)} is present"))
    return found


_OVERRIDES: dict[str, Any] = {}
