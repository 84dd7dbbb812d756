"""How long a picture will take on this server, before it is submitted, and how long the queue is.

A job's work is the cost model's seconds (src/impasto/nst/cost.py: per evaluation, a part that grows
with the picture and a part that does not; a clip's every frame, the first apart), scaled by this
server's speed: the median, over the recent finished jobs, of their own start-to-end time over the
model's; while there are none, this process's warm-up measurement (src/impasto/jobs/warmup.py), else
the model as it is (its figures were measured on a 2-core CPU). The one-off costs (tracing new
shapes, a clip's crops, a fresh runner's start) come on top and are kept out of the speed learned.
The engine's live ETA takes over once a job runs, counted down between its reports (``eta_now``).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Iterable

from impasto.jobs import warmup
from impasto.jobs.store import DONE, QUEUED, RUNNING, Job
from impasto.nst import cost
from impasto.nst.errors import OptionError
from impasto.nst.options import Options
from impasto.web.option_fields import planned_iterations
from impasto.web.submission import Limits

DEFAULT_SPEED = 1.0  # the cost model's own machine, until this server has finished a job
FIXED_SECONDS = 0.3  # a job outside the engine: the queue, decoding, saving (bench/phases.py: 0.18-0.24 s at 512 px)
# A fresh runner's first job without a warm-up, outside the engine's own timings: TensorFlow's import
# (a first 96 px job on the 2-core benchmark machine: 1.76-1.83 s outside the engine, 0.2 s of it the
# fixed part; 4.5-4.9 s before ml-dtypes 0.7.0 was left out and the weights were read without Keras).
START_SECONDS = 1.6
LOADED_WEIGHTS = 0.005  # seconds: a job's weights phase above this read the file (a kept copy takes microseconds)
DEFAULT_ASPECT = 0.75  # shorter side over longer side when the photo is not known yet (4:3)
LEARN_FROM = 30  # finished jobs the speed is learned from, at most
RECENT = LEARN_FROM + 50  # recent jobs looked at: the queue (20 at most by default) and running ones too


def work(options: Options, aspect: float = DEFAULT_ASPECT, frames: int = 1) -> float:
    """The cost model's seconds for a job with these options, for a photo of this aspect (short/long);
    for a clip of ``frames`` frames, the first frame's plus each later one's."""
    return cost.job_seconds(options, aspect, frames)


def job_frames(job: Job) -> int:
    """How many frames a job paints: a clip's frame count, 1 for a picture."""
    return int((job.meta.get("clip") or {}).get("frames") or 1)


@dataclass(frozen=True)
class Speed:
    """This server's seconds per model second, by the precision a job asked for, learned from finished jobs."""

    by_precision: dict[str, float]
    jobs: int  # how many finished jobs the numbers come from (0: the warm-up's speed, else the built-in default)
    warm: warmup.Measured | None = None  # this process's warm-up: its speed until jobs have finished

    def seconds_per_unit(self, precision: str) -> float:
        if precision in self.by_precision:
            return self.by_precision[precision]
        first_guess = self.warm.speed if self.warm is not None else DEFAULT_SPEED
        return self.by_precision.get("auto", first_guess)  # the model has float32's own cost

    def seconds(self, options: Options, aspect: float = DEFAULT_ASPECT, frames: int = 1) -> float:
        """The whole run of one job (of a clip of ``frames`` frames), from its start to its result:
        tracing its shapes as new (the one-off costs are not learned: see ``_job_rate``)."""
        started = self.jobs > 0 or self.warm is not None  # a runner here has paid TensorFlow's start
        one_off = (cost.trace_seconds(options) + cost.clip_trace_seconds(options, frames)
                   + (0.0 if started else START_SECONDS))
        return FIXED_SECONDS + one_off + work(options, aspect, frames) * self.seconds_per_unit(options.precision)


def learn(jobs: Iterable[Job]) -> Speed:
    """This server's speed from its finished jobs (each job's own start-to-finish time), with this
    process's warm-up for a first guess."""
    samples: dict[str, list[float]] = {}
    for job in [job for job in jobs if job.state == DONE][:LEARN_FROM]:
        rate = _job_rate(job)
        if rate is not None:
            samples.setdefault(str(job.options.get("precision", "auto")), []).append(rate)
    rates = {precision: statistics.median(values) for precision, values in samples.items()}
    return Speed(rates, sum(map(len, samples.values())), warmup.measured())


def _job_rate(job: Job) -> float | None:
    summary = job.summary or {}
    if job.state != DONE or not job.started or not job.finished or not summary.get("width"):
        return None
    try:
        options = Options.from_mapping(job.options)
    except OptionError:  # options this engine version does not know
        return None
    aspect = min(summary["width"], summary["height"]) / max(summary["width"], summary["height"])
    units = work(options, aspect, job_frames(job))
    seconds = job.finished - job.started - FIXED_SECONDS - _one_off_seconds(summary, job_frames(job))
    return seconds / units if units > 0.5 and seconds > 0 else None


def _one_off_seconds(summary: dict, frames: int) -> float:
    """What a job's own timings say it paid once, not per evaluation: loading the weights and
    tracing; a job that loaded the weights (not a cached 0 s) was its runner's first and paid the
    start too (a fresh server's first job pays all three, a warm one's often none)."""
    def once(phases: dict) -> float:
        paid = sum(_seconds(value) for name, value in phases.items() if name.endswith(("weights", "trace")))
        started = any(name.endswith("weights") and _seconds(value) > LOADED_WEIGHTS for name, value in phases.items())
        return paid + (START_SECONDS if started else 0.0)

    if "timings" in summary:  # a picture's engine timings
        return once(summary["timings"])
    phases = summary.get("phases") or {}  # a clip's: its first frame, and an average later one
    return once(phases.get("first frame", {})) + (frames - 1) * once(phases.get("later frame", {}))


def _seconds(value: object) -> float:
    return float(value["seconds"] if isinstance(value, dict) else value)  # type: ignore[index]


@dataclass(frozen=True)
class Queue:
    """What is ahead of a new job: jobs waiting and running, and about how long until it starts."""

    jobs_ahead: int
    wait_seconds: float


def queue_ahead(recent: list[Job], speed: Speed, runners: int, before: Job | None = None) -> Queue:
    """The wait for a new job (or for ``before``, a queued one): the time left of the running jobs
    plus the estimated time of the queued jobs ahead of it, shared by ``runners`` at once. ``recent``:
    the store's recent jobs (RECENT of them), which hold every waiting and running one."""
    running = [job for job in recent if job.state == RUNNING]
    queued = sorted((job for job in recent if job.state == QUEUED), key=lambda job: job.created)
    if before is not None:
        queued = [job for job in queued if job.created < before.created and job.id != before.id]
    left = sum(_time_left(job, speed) for job in running) + sum(_job_seconds(job, speed) for job in queued)
    return Queue(len(running) + len(queued), left / max(1, runners))


def _job_seconds(job: Job, speed: Speed) -> float:
    try:
        options = Options.from_mapping(job.options)
    except OptionError:
        return FIXED_SECONDS
    return speed.seconds(options, frames=job_frames(job))


def _time_left(job: Job, speed: Speed) -> float:
    eta = eta_now(job.progress or {}, time.time())
    if eta is not None:
        return eta
    return max(0.0, _job_seconds(job, speed) - (job.elapsed() or 0.0))


def eta_now(progress: dict, now: float) -> float | None:
    """The engine's ETA as of ``now``: what it said at its latest report (``eta_at``), less the time
    since. A scale's set-up and tracing, or a clip frame's crops, go seconds without a report, and a
    page polled meanwhile read the ETA of before them (a 512 px picture's read +33-63 % long then)."""
    eta = progress.get("eta")
    if eta is None:
        return None
    since = max(0.0, now - float(progress.get("eta_at") or now))
    return max(0.0, float(eta) - since)


def estimate_line(run: str, measured: int, ahead: int, wait: str, warm: bool = False) -> str:
    """'Takes about 1 min on this server (measured on 3 finished pictures). No queue: it starts at once.'
    ``warm``: with no finished picture, the guess comes from this server's warm-up."""
    basis = (f"measured on {measured} finished picture{'s' if measured != 1 else ''}" if measured
             else "a first guess from this server's measured speed" if warm
             else "a first guess: no picture has finished here yet")
    queue = ("No queue: it starts at once." if not ahead else
             f"{ahead} job{'s' if ahead != 1 else ''} ahead: it starts in {wait}.")
    return f"Takes {run} on this server ({basis}). {queue}"


def too_much_work(options: Options, limits: Limits) -> str | None:
    """Said before submitting when the settings ask for a larger picture, or plan more iterations in
    all, than this server allows (every scale gets at least one; a look with evaluations per round
    multiplies them)."""
    if options.size > limits.max_size:
        return f"Too large for this server: it paints at most {limits.max_size} px on the longest side."
    if planned_iterations(options) <= limits.max_iterations:
        return None
    fitting = [n for n in range(1, options.iterations) if planned_iterations(options.replace(iterations=n))
               <= limits.max_iterations]
    most = f"at most {fitting[-1]} iterations with these settings" if fitting else "a simpler look"
    return (f"Too long for this server: these settings plan {planned_iterations(options)} iterations in all, "
            f"and it allows {limits.max_iterations}. Choose {most}.")
