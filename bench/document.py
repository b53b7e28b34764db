"""Time the technical file (CRA Annex VII) of a product with ~100 requirements, to PDF.

The example camera has 60 CRA requirements; its assessment is padded with copies of its own
rows (ids suffixed) to 100 so the conformity table has the size of a larger product. Target:
at most 2 s per PDF (WeasyPrint's first call also loads fonts; the median of warm runs is
reported with the first run).

    .venv/bin/python bench/document.py
"""

from __future__ import annotations

import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.documents.workspace_setup import TODAY, build_workspace  # noqa: E402

from prodsec.db.engine import open_database  # noqa: E402
from prodsec.documents.gather import gather  # noqa: E402
from prodsec.documents.render import build  # noqa: E402
from prodsec.services.knowledge import knowledge_base  # noqa: E402
from prodsec.workspace.context import Actor  # noqa: E402
from prodsec.workspace.users import get_or_create_org  # noqa: E402

ROWS = 100


def main() -> None:
    kb = knowledge_base()
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(str(Path(tmp) / "bench.db"))
        with db.transaction() as session:
            org = get_or_create_org(session, "Bench")
            actor = Actor("bench", "bench@example.com", org.id, "admin")
        (name,) = build_workspace(db, actor, kb, ("camera.yaml",))
        with db.transaction() as session:
            inputs = gather(session, actor, kb, name, None, TODAY)
        cra = inputs.assessments["eu-cra"]
        rows = list(cra.rows)
        while len(rows) < ROWS:
            base = cra.rows[len(rows) % len(cra.rows)]
            rows.append(dataclasses.replace(base, id=f"{base.id}:copy-{len(rows)}"))
        cra.rows = rows
        times, cpu = [], []
        for _ in range(4):
            start, start_cpu = time.perf_counter(), time.process_time()
            pdf = build("technical-file", kb, inputs, "pdf", draft=False)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        db.dispose()
    print(f"technical file, {len(rows)} requirements, {len(pdf)} bytes of PDF: "
          f"first {times[0]:.2f} s, median of warm runs {statistics.median(times[1:]):.2f} s "
          f"(CPU {statistics.median(cpu[1:]):.2f} s; target <= 2 s)")


if __name__ == "__main__":
    main()
