"""JSON Schemas: the product profile (a committed file) and the knowledge-file formats
(generated from the pydantic models; committed copies are kept equal by a test)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prodsec.errors import NotFoundError

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"
KNOWLEDGE_KINDS = ("regulation", "standard", "mappings", "vocabulary")


def profile_schema_path() -> Path:
    return SCHEMA_DIR / "profile-v1.schema.json"


def knowledge_schema(kind: str) -> dict[str, Any]:
    from pydantic import BaseModel

    from prodsec.knowledge import schema

    models: dict[str, type[BaseModel]] = {
        "regulation": schema.Regulation, "standard": schema.Standard,
        "mappings": schema.MappingSet, "vocabulary": schema.Vocabulary}
    model = models[kind]
    return model.model_json_schema(by_alias=True)


def text(what: str) -> str:
    if what == "profile":
        return profile_schema_path().read_text(encoding="utf-8").rstrip("\n")
    if what not in KNOWLEDGE_KINDS:
        raise NotFoundError("schema", what, ("profile", *KNOWLEDGE_KINDS))
    return json.dumps(knowledge_schema(what), indent=2, ensure_ascii=False)


def write_knowledge_schemas() -> list[Path]:
    """Regenerate the committed knowledge-file schemas (run after changing knowledge/schema.py)."""
    written = []
    for kind in KNOWLEDGE_KINDS:
        path = SCHEMA_DIR / f"knowledge-{kind}.schema.json"
        path.write_text(text(kind) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for p in write_knowledge_schemas():
        print(p)
