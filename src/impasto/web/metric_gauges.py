"""The gauges a scrape reads at that moment: queue length, jobs running, stored bytes, the storage
cap with the usage it counts, and the retention.

Each gauge is one entry of ``GAUGES``: (name, help, function of the job store and the app's
settings). A new one is one more entry: a setting the operator should see beside what it limits
(a storage cap beside ``impasto_storage_bytes``, say) is ``lambda store, config:
config["IMPASTO_..."]``. The store answers for every process, so these need no multiprocess
bookkeeping. A gauge that cannot be read is left out of that scrape (and logged), rather than
failing the whole scrape.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterator, Mapping

from impasto.jobs.store import QUEUED, RUNNING

log = logging.getLogger(__name__)

Gauge = tuple[str, str, Callable[[Any, Mapping[str, Any]], float]]


def queue_length(store: Any, config: Mapping[str, Any]) -> float:
    return store.counts().get(QUEUED, 0)


def jobs_running(store: Any, config: Mapping[str, Any]) -> float:
    return store.counts().get(RUNNING, 0)


def storage_bytes(store: Any, config: Mapping[str, Any]) -> float:
    """The jobs' stored files: a stat per file under the data dir's jobs/ (Redis: the hash fields' lengths)."""
    return store.stored_bytes()


GAUGES: list[Gauge] = [
    ("impasto_queue_length", "Jobs waiting to run.", queue_length),
    ("impasto_jobs_running", "Jobs running now.", jobs_running),
    ("impasto_storage_bytes", "Bytes of the jobs' stored files (uploads, previews, results).", storage_bytes),
]


def storage_gauges(storage: Any) -> list[Gauge]:
    """The storage cap, the usage it counts and the retention (an impasto.storage.Storage), 0 where off."""
    return [
        ("impasto_storage_used_bytes", "Bytes the storage cap counts: the data folder's files (scale-out: "
         "the memory Redis uses).", lambda store, config: storage.used_bytes()),
        ("impasto_storage_limit_bytes", "IMPASTO_STORAGE_LIMIT_MB in bytes; 0: no cap.",
         lambda store, config: storage.limit_bytes or 0),
        ("impasto_retention_days", "IMPASTO_RETENTION_DAYS: finished jobs older are deleted; 0: kept.",
         lambda store, config: storage.retention_days or 0),
    ]


class StoreGauges:
    """A prometheus_client collector of ``gauges`` (default GAUGES) and ``extra``, read at each scrape."""

    def __init__(self, store: Any, config: Mapping[str, Any], gauges: list[Gauge] | None = None,
                 extra: list[Gauge] | None = None) -> None:
        self.store, self.config = store, config
        self.gauges = (GAUGES if gauges is None else gauges) + (extra or [])

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        for name, help_text, read in self.gauges:
            try:
                value = float(read(self.store, self.config))
            except Exception:  # noqa: BLE001 - one unreadable gauge must not hide the others
                log.warning("metrics: gauge %s could not be read", name, exc_info=True)
                continue
            yield GaugeMetricFamily(name, help_text, value=value)
