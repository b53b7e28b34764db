"""``python -m prodsec.knowledge``: validate every knowledge file and list all errors."""

from __future__ import annotations

import sys

from prodsec.knowledge.loader import DATA_DIR, KnowledgeBaseError, build, knowledge_files


def main() -> int:
    try:
        data = build(knowledge_files(DATA_DIR), DATA_DIR)
    except KnowledgeBaseError as exc:
        print(exc, file=sys.stderr)
        return 3
    counts = {s: len(data[s]) for s in ("regulations", "standards", "mappings")}
    reqs = sum(len(d["requirements"]) for s in ("regulations", "standards") for d in data[s].values())
    maps = sum(len(m["mappings"]) for m in data["mappings"].values())
    print(f"ok: {counts}, {reqs} requirements, {maps} mappings")
    return 0


if __name__ == "__main__":
    sys.exit(main())
