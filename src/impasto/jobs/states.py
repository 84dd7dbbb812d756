"""One vocabulary for job states and the messages the stores write into jobs.

Both stores use it: the shared store core (src/impasto/jobs/store_core.py) and the SQLite store
through these constants, the Redis store's Lua scripts through ``lua_table()``, a table generated
from the same names and prepended to every script (the scripts never spell a state themselves).
The web passes it to the templates and, through a data attribute, to the job page's script.

States: queued → running → done | failed | cancelled (queued → cancelled too).
"""

from __future__ import annotations

import json
from typing import Iterable

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
STATES = (QUEUED, RUNNING, DONE, FAILED, CANCELLED)
FINISHED_STATES = (DONE, FAILED, CANCELLED)
ACTIVE_STATES = (QUEUED, RUNNING)  # what the per-client limit counts

# The job page's heading for each state.
TITLES = {QUEUED: "Waiting for its turn", RUNNING: "Painting…", DONE: "Finished",
          FAILED: "Something went wrong", CANCELLED: "Cancelled"}

# The errors run_job writes for a failure of the server's, not of the job's input (it hands the
# metrics their reason beside them: src/impasto/jobs/metrics.py).
WEIGHTS_FAILED = ("the server could not load its VGG16 weights; the server log says why "
                  "(its operator should check IMPASTO_VGG_WEIGHTS)")
OUT_OF_MEMORY = "the server ran out of memory; try a smaller size"
TAKEN_OVER = "the job was taken over by another runner"
INTERNAL_ERROR = "internal error"


def internal_error(exc: BaseException) -> str:
    """The error of a job that raised something unforeseen: its type only (the log has the rest)."""
    return f"{INTERNAL_ERROR} ({type(exc).__name__}); see the server log"


def gave_up(attempts: int) -> str:
    """The error of a job failed after ``attempts`` runs that each died."""
    runs = "1 attempt" if attempts == 1 else f"{attempts} attempts"
    return f"the server stopped while this job was running ({runs}); giving up"


def lua_table(progress_keys: Iterable[str], output_files: Iterable[str]) -> str:
    """Lua locals for the Redis scripts: S (state names), FINISHED, PROGRESS_KEYS (the job hash's
    progress fields) and OUTPUT_FILES (what a run writes)."""
    states = ", ".join(f"{name}={_lua(name)}" for name in STATES)
    return (f"local S = {{{states}}}\n"
            f"local FINISHED = {_lua_list(FINISHED_STATES)}\n"
            f"local PROGRESS_KEYS = {_lua_list(progress_keys)}\n"
            f"local OUTPUT_FILES = {_lua_list(output_files)}\n")


def _lua(text: str) -> str:
    """A Lua string literal: JSON's quoting is Lua's for printable ASCII (Redis runs Lua 5.1,
    which has no \\u escapes, hence ASCII only)."""
    if not text.isascii() or not text.isprintable():
        raise ValueError(f"not printable ASCII, cannot go into a Lua script: {text!r}")
    return json.dumps(text)


def _lua_list(items: Iterable[str]) -> str:
    return "{" + ", ".join(_lua(item) for item in items) + "}"
