"""A worker that also knows ``tests.oom``, a job that SIGKILLs its worker every time (as the
kernel's OOM killer would on a huge SBOM): ``python tests/jobs/oom_worker.py URL``."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from prodsec import jobs
from prodsec.db.engine import Database, open_database


@jobs.task("tests.oom", max_attempts=2)
def oom(db: Database, **kwargs: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    jobs.TASK_MODULES.append("tests.jobs.oom_worker")
    jobs.run_worker(open_database(sys.argv[1]))
