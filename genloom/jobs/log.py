"""One log line per job transition, on the ``genloom.jobs`` logger.

The text line reads ``jobs.<transition> job_id=… kind=… status=… [k=v…]``; the same values travel as fields of
the record (``extra``), so the JSON log format keeps them as keys a log store can filter on.
"""

from __future__ import annotations

import json
import logging
from typing import Any

jobs_log = logging.getLogger("genloom.jobs")
#: LogRecord attributes a field must not overwrite
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def log_job_transition(transition: str, *, job_id: str, kind: str, status: str, level: int = logging.INFO,
                       **fields: Any) -> None:
    if not jobs_log.isEnabledFor(level):
        return
    text = "".join(f" {key}={_value(val)}" for key, val in fields.items())
    extra = {"transition": transition, "job_id": job_id, "kind": kind, "status": status}
    extra.update({key: val for key, val in fields.items() if key not in _RESERVED})
    jobs_log.log(level, "jobs.%s job_id=%s kind=%s status=%s%s", transition, job_id, kind, status, text, extra=extra)


def _value(value: Any) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (" " in text or not text) else text
