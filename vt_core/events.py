"""The JSON-lines protocol between a worker and its parent.

The worker writes one JSON object per line on its protocol stream (its original
standard output; library chatter is redirected to standard error). Every object
has an `event` key:

- `{"event": "phase", "phase": "load"}`: the worker entered a phase of `records.PHASES`.
- `{"event": "progress", "phase": "measure", "done": 7, "total": 20, "elapsed_s": 1.4,
  "median_s": 0.052}`: iteration progress; `total` is the minimum iteration count,
  so `done` may pass it while the minimum time has not elapsed. `median_s` is the
  running median of the timed samples (measure phase only).
- `{"event": "log", "level": "info", "message": "..."}`: a line for the log pane.
- `{"event": "result", "result": {...}}`: the final `JobResult`, sent once, last.
"""

from __future__ import annotations

import json
from typing import Any

PHASE = "phase"
PROGRESS = "progress"
LOG = "log"
RESULT = "result"


def encode(event: str, **fields: Any) -> str:
    """Return one protocol line (with its newline) for `event`."""
    return json.dumps({"event": event, **fields}, separators=(",", ":"), default=str) + "\n"


def decode(line: str) -> dict[str, Any] | None:
    """Parse one protocol line; return None for a line that is not a protocol event."""
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or "event" not in data:
        return None
    return data
