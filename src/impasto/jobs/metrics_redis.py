"""Job metrics in scale-out mode: kept in the Redis job store, so Celery workers on any machine count.

A worker has no port of its own to be scraped and may run on another machine than the web, so it
writes its numbers where it writes the job's state: the store's Redis. ``<prefix>:metrics`` is a
hash of running totals (a field per series: ``impasto_jobs_total|state=done``; a histogram's
buckets cumulative, as Prometheus reads them), each change one MULTI transaction.
``<prefix>:metrics:workers`` is a sorted set of `impasto worker` processes by the Redis server's
time of their latest reaper round. The web's /metrics reads both (``collectors``): every web
container tells the same totals, which survive restarts with Redis itself.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterator

from impasto.jobs.metrics import SPECS, JobMetrics, Spec
from impasto.jobs.metrics_files import WORKERS_ALIVE


def field(series: str, labels: dict[str, str]) -> str:
    """The hash field of one series: name|label=value,... (label values come from fixed sets)."""
    return series + "|" + ",".join(f"{name}={value}" for name, value in sorted(labels.items()))


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(float(bound))


class RedisMetrics(JobMetrics):
    """JobMetrics as running totals in the job store's Redis."""

    enabled = True

    def __init__(self, redis: Any, prefix: str, now: Callable[[], float], alive_within: float) -> None:
        super().__init__()
        self.redis, self.now, self.alive_within = redis, now, alive_within
        self.key, self.workers_key = f"{prefix}:metrics", f"{prefix}:metrics:workers"

    @classmethod
    def of(cls, store: Any, alive_within: float) -> RedisMetrics:
        """For a RedisJobStore: its client, its prefix and its clock (the Redis server's)."""
        return cls(store.redis, store.prefix, store.now, alive_within)

    def count(self, spec: Spec, labels: dict[str, str], amount: float = 1.0) -> None:
        self.redis.hincrbyfloat(self.key, field(spec.name + "_total", labels), amount)

    def observe(self, spec: Spec, labels: dict[str, str], value: float) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            for bound in (*spec.buckets, math.inf):
                if value <= bound:
                    pipe.hincrbyfloat(self.key, field(spec.name + "_bucket", {**labels, "le": _le(bound)}), 1)
            pipe.hincrbyfloat(self.key, field(spec.name + "_count", labels), 1)
            pipe.hincrbyfloat(self.key, field(spec.name + "_sum", labels), value)
            pipe.execute()

    def runner_alive(self, name: str = "") -> None:
        now = self.now()
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.workers_key, {name: now})
            pipe.zremrangebyscore(self.workers_key, "-inf", now - 10 * self.alive_within)  # long gone
            pipe.execute()

    def workers_alive(self) -> int:
        return int(self.redis.zcount(self.workers_key, self.now() - self.alive_within, "+inf"))

    def collectors(self) -> list[Any]:
        return [_Collector(self)]


class _Collector:
    """The totals as metric families, every fixed label value included (0 until counted)."""

    def __init__(self, metrics: RedisMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        raw = self.metrics.redis.hgetall(self.metrics.key)
        totals = {key.decode(): float(value) for key, value in raw.items()}
        for spec in SPECS:
            yield _family(spec, totals)
        yield GaugeMetricFamily(*WORKERS_ALIVE, value=self.metrics.workers_alive())


def _combos(spec: Spec) -> list[dict[str, str]]:
    combos: list[dict[str, str]] = [{}]
    for name, choices in spec.labels:
        combos = [{**combo, name: value} for combo in combos for value in choices]
    return combos


def _family(spec: Spec, totals: dict[str, float]) -> Any:
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    names = [name for name, _ in spec.labels]
    if spec.kind == "counter":
        family = CounterMetricFamily(spec.name, spec.help, labels=names)
        for labels in _combos(spec):
            family.add_metric([labels[n] for n in names], totals.get(field(spec.name + "_total", labels), 0.0))
        return family
    family = HistogramMetricFamily(spec.name, spec.help, labels=names)
    for labels in _combos(spec):
        buckets = [(_le(bound), totals.get(field(spec.name + "_bucket", {**labels, "le": _le(bound)}), 0.0))
                   for bound in (*spec.buckets, math.inf)]
        family.add_metric([labels[n] for n in names], buckets, totals.get(field(spec.name + "_sum", labels), 0.0))
    return family
