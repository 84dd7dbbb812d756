"""Job metrics in embedded mode: prometheus_client's multiprocess mode, in ``<data dir>/metrics``.

In multiprocess mode prometheus_client writes each process's values to its own memory-mapped files
(named by kind and process id) in the folder PROMETHEUS_MULTIPROC_DIR names, and its
``MultiProcessCollector`` adds them up at a scrape: whichever gunicorn process answers /metrics,
it tells the jobs of every process. The library's rules, and how they are kept here:

- the variable is set before the server's processes start: `impasto serve` sets it to this
  folder, and empties the folder, before it starts gunicorn (``prepare``); counters then start
  from zero with the server, as the library advises. A server started otherwise (gunicorn by hand,
  tests) gets it set in each process by ``file_metrics``, before the first value is made;
- the library opens a process's files at its first value and keeps them, so a process writes to
  one folder: ``file_metrics`` hands out one ``FileMetrics`` per folder, and moving to another
  folder (a test's next app) closes the old files first;
- impasto_workers_alive is a ``livesum`` gauge (1 in each process whose runner threads run); a
  process that died is taken out at the next scrape (``sweep_dead``), as gunicorn's child_exit
  hook would with ``mark_process_dead``.
"""

from __future__ import annotations

import glob
import os
import threading
from pathlib import Path
from typing import Any

from impasto.data_dir import private_dir
from impasto.jobs.metrics import SPECS, JobMetrics, Spec

METRICS_FOLDER = "metrics"
ENV = "PROMETHEUS_MULTIPROC_DIR"
WORKERS_ALIVE = ("impasto_workers_alive", "Processes that run jobs: server processes with runner threads "
                 "(embedded mode) or `impasto worker` processes (scale-out).")

_current: dict[str, Any] = {}  # "folder": the folder this process writes to, "metrics": its FileMetrics
_lock = threading.Lock()


def metrics_dir(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / METRICS_FOLDER


def prepare(data_dir: str | os.PathLike) -> Path:
    """`impasto serve`, before gunicorn starts: the folder made and emptied, and named in the
    environment that gunicorn and its processes inherit."""
    folder = private_dir(metrics_dir(data_dir))
    for path in folder.glob("*.db"):
        path.unlink(missing_ok=True)
    os.environ[ENV] = str(folder)
    return folder


def file_metrics(data_dir: str | os.PathLike) -> FileMetrics:
    """This process's FileMetrics for the data dir's metrics folder."""
    folder = str(private_dir(metrics_dir(data_dir)))
    with _lock:
        if _current.get("folder") != folder:
            _write_to(folder)
            _current.update(folder=folder, metrics=FileMetrics(Path(folder)))
        return _current["metrics"]


def _write_to(folder: str) -> None:
    """Point prometheus_client's values at ``folder``: the variable the library reads when it opens a
    process's files, and a fresh multiprocess value class (the one chosen at its import, which
    also is the plain in-memory one when the variable was unset then)."""
    from prometheus_client import values

    os.environ[ENV] = folder
    values.close_all_multiprocess_files()
    values.ValueClass = values.MultiProcessValue()


def _make(spec: Spec) -> Any:
    from prometheus_client import Counter, Histogram

    labels = [name for name, _ in spec.labels]
    if spec.kind == "counter":
        return Counter(spec.name, spec.help, labels, registry=None)
    return Histogram(spec.name, spec.help, labels, buckets=spec.buckets, registry=None)


class FileMetrics(JobMetrics):
    """JobMetrics as prometheus_client metrics in multiprocess mode (not in any registry: a scrape
    reads the files)."""

    enabled = True

    def __init__(self, folder: Path) -> None:
        from prometheus_client import Gauge

        super().__init__()
        self.folder = folder
        self._metrics = {spec.name: _make(spec) for spec in SPECS}
        self._alive = Gauge(*WORKERS_ALIVE, multiprocess_mode="livesum", registry=None)
        self._alive.set(0)  # shown (as 0) before any runner starts
        for spec in SPECS:  # every fixed label value written at 0: each series exists before its first job
            for name, choices in spec.labels:
                for value in choices:
                    self._metrics[spec.name].labels(**{name: value})

    def count(self, spec: Spec, labels: dict[str, str], amount: float = 1.0) -> None:
        metric = self._metrics[spec.name]
        (metric.labels(**labels) if labels else metric).inc(amount)

    def observe(self, spec: Spec, labels: dict[str, str], value: float) -> None:
        metric = self._metrics[spec.name]
        (metric.labels(**labels) if labels else metric).observe(value)

    def runner_alive(self, name: str = "") -> None:
        self._alive.set(1)

    def collectors(self) -> list[Any]:
        """What a scrape adds to its registry: the files of every process, the dead ones' live gauges dropped."""
        from prometheus_client.multiprocess import MultiProcessCollector

        sweep_dead(self.folder)
        return [MultiProcessCollector(None, path=str(self.folder))]


def sweep_dead(folder: Path) -> list[int]:
    """Drop the live gauges of processes that no longer run (their pid is in the file's name); their pids."""
    from prometheus_client.multiprocess import mark_process_dead

    dead = []
    for path in glob.glob(os.path.join(folder, "gauge_live*_*.db")):
        pid = Path(path).stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            mark_process_dead(int(pid), str(folder))
            dead.append(int(pid))
    return dead


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it runs
        return True
    return True
