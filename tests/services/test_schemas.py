"""The committed JSON Schemas are the ones the code would generate (regenerate with
``python -m prodsec.services.schemas`` after changing knowledge/schema.py)."""

from __future__ import annotations

import json

import pytest

from prodsec.services import schemas


@pytest.mark.parametrize("kind", schemas.KNOWLEDGE_KINDS)
def test_committed_knowledge_schema_is_current(kind: str) -> None:
    committed = json.loads((schemas.SCHEMA_DIR / f"knowledge-{kind}.schema.json").read_text())
    assert committed == schemas.knowledge_schema(kind)


def test_every_shipped_profile_example_validates_against_the_profile_schema() -> None:
    import jsonschema
    import yaml

    from tests.conftest import EXAMPLES

    schema = json.loads(schemas.profile_schema_path().read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(EXAMPLES.glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, (path.name, [e.message for e in errors])
