"""Impasto's engine against the design article's algorithm, measured in one process run.

    python bench/benchmark.py            # 256 and 512 px, time to a default result, memory at 512 px
    python bench/benchmark.py --quick    # 128 and 256 px, few evaluations: checks that everything runs
    python bench/benchmark.py --full     # also the article's whole 10×20 run at 512 px (15-30 minutes on
                                         # 2 cores), both pictures on the same objectives, side-by-side
                                         # PNG, memory at 1024 px
    python bench/benchmark.py --memory   # add the 1024 px memory measurement without --full

The machine may be shared, so absolute seconds are noisy: compare the ratios of one run. Each
timing is the median, after a warm-up, of seconds per loss evaluation inside the optimisation loop
(network, loss, gradient and scipy's own work), in wall time and in this process's CPU time; the
CPU-time ratios are the ones that other work on the machine hardly disturbs. Peak memory is
measured in one subprocess per case. Results: a markdown table on stdout, JSON in
bench/results/latest.json (and <mode>.json); --quick writes to bench/results/quick/ instead.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # harness and blog_reference, when run from elsewhere

import harness  # noqa: E402
from harness import DEFAULT_CONTENT, DEFAULT_STYLE, RESULTS, ROOT, log  # noqa: E402

SEED = 0
CHILD_ITERATIONS = 3  # L-BFGS iterations a memory probe runs: enough to reach the peak

# VGG16's 3×3 convolutions (name, input channels, output channels) and where a 2×2 pool follows.
VGG16_CONVS = (
    ("block1_conv1", 3, 64), ("block1_conv2", 64, 64),
    ("block2_conv1", 64, 128), ("block2_conv2", 128, 128),
    ("block3_conv1", 128, 256), ("block3_conv2", 256, 256), ("block3_conv3", 256, 256),
    ("block4_conv1", 256, 512), ("block4_conv2", 512, 512), ("block4_conv3", 512, 512),
    ("block5_conv1", 512, 512), ("block5_conv2", 512, 512), ("block5_conv3", 512, 512),
)
POOL_AFTER = {"block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"}
REFERENCE_DEEPEST = "block5_conv3"
REFERENCE_BATCH = 3

FLOP_NOTE = (
    "FLOPs counted: 2·H·W·Cin·Cout·9 per 3×3 convolution, up to the deepest layer each run uses, at "
    "that layer's resolution (bias, ReLU, pooling, Gram matrices and losses are not counted). One "
    "evaluation = forward + backward to the image = 2 × forward for every image in the batch: only the "
    "gradient with respect to the input is computed (its convolutions cost what the forward ones cost; "
    "no weight gradients). The reference pushes 3 images (content, style, result) through VGG16 to "
    "block5_conv3; Impasto pushes 1 (the result) to its deepest layer. 'forward alone' is one forward "
    "pass in the same setting, and its share of an evaluation's CPU time.")


TIMING_NOTE = (
    "s / eval: median wall seconds per loss evaluation inside the L-BFGS loop after a warm-up (network, loss, "
    "gradient and scipy's own work). CPU s / eval: the same in this process's CPU time (both threads); other "
    "work on the machine inflates wall time but hardly CPU time, so the CPU columns are the steadier ones. "
    "% of fp32 matmul compares GFLOP per CPU-second with the big float32 matmul's.")


# -- plan ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    mode: str
    sizes: tuple[int, ...]
    warmup: int  # evaluations (reference) or L-BFGS iterations (Impasto) left out: tracing, first runs
    measured: int  # evaluations (reference) or iterations (Impasto, ≈ 1 evaluation each) timed after it
    matmul_n: int
    result_size: int  # size of the end-to-end default result (and of the --full comparison)
    result_iterations: int | None  # None: the default
    memory_sizes: tuple[int, ...]
    full: bool
    full_rounds: int
    full_maxfun: int
    out_dir: Path


def make_plan(args: argparse.Namespace) -> Plan:
    quick = args.quick
    sizes = tuple(int(s) for s in args.sizes.split(",")) if args.sizes else ((128, 256) if quick else (256, 512))
    result_size = sizes[0] if quick else 512
    memory = [result_size] + ([2 * result_size] if args.full or args.memory else [])
    return Plan(
        mode="quick" if quick else "full" if args.full else "normal",
        sizes=sizes, warmup=2, measured=args.evals or (3 if quick else 8),
        matmul_n=2048 if quick else 4096, result_size=result_size,
        result_iterations=20 if quick else None, memory_sizes=tuple(memory), full=args.full,
        full_rounds=2 if quick else 10, full_maxfun=5 if quick else 20,
        out_dir=Path(args.out_dir) if getattr(args, "out_dir", None) else RESULTS / "quick" if quick else RESULTS,
    )


# -- counting and clocks ------------------------------------------------------------------------


def forward_flops(height: int, width: int, deepest: str) -> float:
    """FLOPs of one image's VGG16 convolutions up to and including ``deepest``."""
    total = 0.0
    for name, c_in, c_out in VGG16_CONVS:
        total += 2.0 * height * width * c_in * c_out * 9
        if name == deepest:
            return total
        if name in POOL_AFTER:
            height, width = height // 2, width // 2
    raise ValueError(f"unknown layer {deepest}")


def evaluation_flops(height: int, width: int, deepest: str, images: int) -> float:
    return 2.0 * images * forward_flops(height, width, deepest)


@dataclass
class Timing:
    seconds_per_eval: float  # wall
    cpu_seconds_per_eval: float  # this process's CPU time (all threads): what sharing the cores does not inflate
    evaluations: int
    cores_busy: float  # CPU seconds / wall seconds over the timed window (2.0 = both cores, all the time)


class Clock:
    """Wall and CPU time at marks (ends of L-BFGS iterations, or starts of evaluations), with the
    number of evaluations made so far."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float, int]] = []

    def mark(self, evaluations: int) -> None:
        self.marks.append((time.perf_counter(), time.process_time(), evaluations))

    def timing(self, first_mark: int) -> Timing:
        """Median seconds per evaluation between consecutive marks from ``first_mark`` (0-based) on."""
        window = self.marks[first_mark:]
        pairs = [(b[0] - a[0], b[1] - a[1], b[2] - a[2]) for a, b in zip(window, window[1:]) if b[2] > a[2]]
        if not pairs:
            raise RuntimeError("no L-BFGS iterations after the warm-up to time")
        wall = sum(p[0] for p in pairs)
        return Timing(
            seconds_per_eval=statistics.median(p[0] / p[2] for p in pairs),
            cpu_seconds_per_eval=statistics.median(p[1] / p[2] for p in pairs),
            evaluations=sum(p[2] for p in pairs), cores_busy=sum(p[1] for p in pairs) / wall)


def median_cpu_seconds(fn: Callable[[], Any], repeats: int) -> float:
    """Median CPU time of this process (all threads) for ``fn``, after one untimed call (tracing)."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return statistics.median(times)


# -- machine ------------------------------------------------------------------------------------


@dataclass
class Matmul:
    n: int
    dtype: str
    gflops: float  # best of the repeats, wall clock: the least disturbed by other work on the machine
    gflop_per_cpu_second: float  # median FLOPs per CPU-second of this process


def measure_matmul(n: int, dtype: str, repeats: int = 5) -> Matmul:
    """An n×n by n×n tf.matmul (2·n³ FLOPs)."""
    import tensorflow as tf

    rng = np.random.default_rng(SEED)
    a = tf.cast(tf.constant(rng.standard_normal((n, n), dtype=np.float32)), dtype)
    b = tf.cast(tf.constant(rng.standard_normal((n, n), dtype=np.float32)), dtype)
    tf.matmul(a, b)[0, 0].numpy()  # warm-up
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        tf.matmul(a, b)[0, 0].numpy()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    flops = 2.0 * n**3
    return Matmul(n, dtype, flops / min(walls) / 1e9, flops / statistics.median(cpus) / 1e9)


# -- per-evaluation timings ---------------------------------------------------------------------


@dataclass
class EvalRow:
    run: str
    precision: str
    size: int
    width: int
    height: int
    deepest: str
    images: int
    seconds_per_eval: float
    cpu_seconds_per_eval: float
    evaluations_timed: int
    cores_busy: float
    forward_cpu_seconds: float  # one forward pass alone
    gflop_per_eval: float
    gflops: float  # per wall second
    gflop_per_cpu_second: float
    pct_of_fp32_matmul: float = 0.0  # GFLOP per CPU-second against the fp32 matmul's (robust to sharing)
    speedup_vs_reference: float = 1.0  # wall
    cpu_speedup_vs_reference: float = 1.0
    loss: float = float("nan")
    objective: str = ""


def make_row(run: str, precision: str, size: int, hw: tuple[int, int], deepest: str, images: int,
             timing: Timing, forward_cpu_seconds: float, loss: float, objective: str) -> EvalRow:
    height, width = hw
    flops = evaluation_flops(height, width, deepest, images)
    return EvalRow(
        run=run, precision=precision, size=size, width=width, height=height, deepest=deepest, images=images,
        seconds_per_eval=timing.seconds_per_eval, cpu_seconds_per_eval=timing.cpu_seconds_per_eval,
        evaluations_timed=timing.evaluations, cores_busy=timing.cores_busy,
        forward_cpu_seconds=forward_cpu_seconds,
        gflop_per_eval=flops / 1e9, gflops=flops / timing.seconds_per_eval / 1e9,
        gflop_per_cpu_second=flops / timing.cpu_seconds_per_eval / 1e9, loss=loss, objective=objective)


def time_reference(content: np.ndarray, style: np.ndarray, size: int, plan: Plan, weights: str) -> EvalRow:
    from blog_reference import BlogStyleTransfer, initial_image

    transfer = BlogStyleTransfer(content, style, size, weights)
    clock = Clock()
    transfer.on_evaluation = clock.mark  # marks the start of every evaluation
    # From noise, one L-BFGS iteration can take many evaluations: stop by evaluations, not iterations.
    result = transfer.run(rounds=1, maxfun=plan.warmup + plan.measured + 1, seed=SEED)
    transfer.on_evaluation = None
    x0 = initial_image(transfer.height, transfer.width, SEED)
    forward = median_cpu_seconds(lambda: transfer.features(x0)[REFERENCE_DEEPEST].numpy(), 3)
    timing = clock.timing(first_mark=plan.warmup)  # the start of evaluation warmup + 1
    return make_row("reference (article)", "float32", size, (transfer.height, transfer.width), REFERENCE_DEEPEST,
                    REFERENCE_BATCH, timing, forward, result.loss, "article, noise start")


def time_impasto(content: np.ndarray, style: np.ndarray, size: int, precision: str, plan: Plan,
                 weights: str) -> EvalRow:
    from impasto.nst.engine import stylize
    from impasto.nst.options import DEFAULTS

    options = DEFAULTS.replace(size=size, scales=1, iterations=plan.warmup + plan.measured, seed=SEED,
                               precision=precision)
    clock = Clock()  # marks the end of every L-BFGS iteration (the engine's public progress hook)
    result = stylize(content, style, options=options, weights=weights,
                     on_progress=lambda progress: clock.mark(progress.evaluations))
    forward = impasto_forward_cpu_seconds(content, size, options.deepest_layer, result.precision, weights)
    label = f"Impasto default ({precision} → {result.precision})" if precision == "auto" else "Impasto"
    height, width = result.image.shape[:2]
    return make_row(label, result.precision, size, (height, width), options.deepest_layer, 1,
                    clock.timing(first_mark=plan.warmup - 1), forward, result.losses["total"],
                    "Impasto default, content start")


def impasto_forward_cpu_seconds(content: np.ndarray, size: int, deepest: str, precision: str, weights: str) -> float:
    import tensorflow as tf

    from impasto.nst.images import resize_longest
    from impasto.nst.vgg import build_feature_fn, load_weights, rgb_to_caffe

    features = tf.function(build_feature_fn(load_weights(weights), deepest, precision))
    x = tf.constant(rgb_to_caffe(resize_longest(content, size)))
    return median_cpu_seconds(lambda: features(x)[deepest].numpy(), 3)


def precisions_to_time() -> list[str]:
    """'auto' (the default), plus float32 and bfloat16 where they differ from it and are available."""
    from impasto.nst import hardware

    auto = hardware.choose_precision("auto")
    chosen = ["auto"]
    if auto != "float32":
        chosen.append("float32")
    if auto != "bfloat16" and hardware.cpu_has_fast_bf16():
        chosen.append("bfloat16")
    return chosen


def time_evaluations(content: np.ndarray, style: np.ndarray, plan: Plan, weights: str,
                     fp32: Matmul) -> list[EvalRow]:
    rows: list[EvalRow] = []
    for size in plan.sizes:
        log(f"{size} px: reference (batch of 3, full VGG16)")
        reference = time_reference(content, style, size, plan, weights)
        rows.append(reference)
        for precision in precisions_to_time():
            log(f"{size} px: Impasto, precision {precision}")
            row = time_impasto(content, style, size, precision, plan, weights)
            row.speedup_vs_reference = reference.seconds_per_eval / row.seconds_per_eval
            row.cpu_speedup_vs_reference = reference.cpu_seconds_per_eval / row.cpu_seconds_per_eval
            rows.append(row)
    for row in rows:
        row.pct_of_fp32_matmul = 100.0 * row.gflop_per_cpu_second / fp32.gflop_per_cpu_second
    return rows


# -- end to end ---------------------------------------------------------------------------------


def default_result(content: np.ndarray, style: np.ndarray, plan: Plan, weights: str) -> tuple[dict, np.ndarray]:
    """Impasto with its default options at ``plan.result_size``, end to end (style targets included)."""
    from impasto.nst import targets
    from impasto.nst.engine import stylize
    from impasto.nst.options import DEFAULTS

    options = DEFAULTS.replace(size=plan.result_size, seed=SEED)
    if plan.result_iterations:
        options = options.replace(iterations=plan.result_iterations)
    targets.clear_cache()  # earlier phases cached this style's targets: count them again
    marks: list[tuple[float, int, int, float | None]] = []  # (time, iteration, total, ETA said)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = stylize(content, style, options=options, weights=weights,
                     on_progress=lambda p: marks.append((time.perf_counter(), p.iteration, p.total, p.eta)))
    finished = time.perf_counter()
    wall, cpu = finished - started, time.process_time() - cpu_started
    height, width = result.image.shape[:2]
    facts = {"run": "Impasto default", "size": plan.result_size, "width": width, "height": height,
             "precision": result.precision, "seconds": wall, "cpu_seconds": cpu, "iterations": result.iterations,
             "evaluations": result.evaluations, "scales": options.scale_sizes(), "loss": result.losses["total"],
             "objective": "Impasto default", "estimated": False,
             "eta": {f"{share:.0%}": eta_check(marks, finished, share) for share in (0.25, 0.5, 0.75)}}
    return facts, result.image


def eta_check(marks: list[tuple[float, int, int, float | None]], finished: float, share: float) -> dict:
    """What the progress ETA said at the first report past ``share`` of the iterations, against what was left."""
    for when, iteration, total, eta in marks:
        if iteration >= share * total and eta is not None:
            left = finished - when
            return {"iteration": iteration, "total": total, "said_s": eta, "took_s": left,
                    "error_pct": 100 * (eta - left) / left}
    return {}


def weights_load_seconds(weights: str) -> float:
    from impasto.nst.vgg import load_weights

    started = time.perf_counter()
    load_weights(weights)
    return time.perf_counter() - started


# -- memory (one subprocess per measurement) ----------------------------------------------------


def rss_bytes(field_name: str) -> float:
    with open("/proc/self/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith(field_name + ":"):
                return float(line.split()[1]) * 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def memory_probes(plan: Plan) -> list[tuple[str, int]]:
    from impasto.nst import hardware

    probes = [("reference", plan.result_size), ("impasto", plan.result_size)]
    if hardware.choose_precision("auto") != "float32":
        probes.append(("impasto-float32", plan.result_size))
    probes += [("impasto", size) for size in plan.memory_sizes if size != plan.result_size]
    return probes


def measure_memory(plan: Plan, args: argparse.Namespace) -> list[dict]:
    results = []
    for kind, size in memory_probes(plan):
        log(f"memory: {kind} at {size} px (subprocess)")
        command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--child-size", str(size),
                   "--weights", args.weights, "--content", args.content, "--style", args.style]
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
        lines = done.stdout.strip().splitlines()
        if done.returncode != 0 or not lines:
            results.append({"run": kind, "size": size, "error": done.stderr.strip().splitlines()[-3:]})
            continue
        results.append(json.loads(lines[-1]))
    return results


def child_main(args: argparse.Namespace) -> None:
    """One memory probe: set up, run a few iterations, print peak RSS as one JSON line."""
    from impasto.nst import hardware
    from impasto.nst.engine import stylize
    from impasto.nst.images import load_image
    from impasto.nst.options import DEFAULTS
    from impasto.nst.vgg import load_weights

    content, style = load_image(args.content), load_image(args.style)
    size, kind = args.child_size, args.child
    if kind == "reference":
        from blog_reference import BlogStyleTransfer

        transfer = BlogStyleTransfer(content, style, size, args.weights)
        setup = rss_bytes("VmRSS")
        transfer.run(rounds=1, maxfun=10**6, maxiter=CHILD_ITERATIONS, seed=SEED)
        precision, hw, estimate = "float32", (transfer.height, transfer.width), None
    else:
        precision = "float32" if kind == "impasto-float32" else "auto"
        options = DEFAULTS.replace(size=size, scales=1, iterations=CHILD_ITERATIONS, seed=SEED, precision=precision)
        load_weights(args.weights)
        setup = rss_bytes("VmRSS")
        result = stylize(content, style, options=options, weights=args.weights)
        precision, hw = result.precision, result.image.shape[:2]
        estimate = hardware.estimate_peak_bytes(hw[0], hw[1], options.deepest_layer) / 1e9
    print(json.dumps({"run": kind, "size": size, "width": hw[1], "height": hw[0], "precision": precision,
                      "peak_rss_gb": rss_bytes("VmHWM") / 1e9, "setup_rss_gb": setup / 1e9,
                      "engine_estimate_gb": estimate, "gpu_peak_gb": gpu_peak_gb()}))


def gpu_peak_gb() -> float | None:
    """Peak memory TensorFlow allocated on the first GPU (None without one): RSS does not see it."""
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 1e9


# -- --full: the article's whole run and the quality comparison ---------------------------------


def full_reference_run(content: np.ndarray, style: np.ndarray, plan: Plan, weights: str):
    from blog_reference import BlogStyleTransfer

    transfer = BlogStyleTransfer(content, style, plan.result_size, weights)
    started = time.perf_counter()

    def report(iteration: int, evaluations: int) -> None:
        if iteration % 10 == 0:
            log(f"reference: iteration {iteration}, {evaluations} evaluations, {time.perf_counter() - started:.0f} s")

    cpu_started = time.process_time()
    result = transfer.run(plan.full_rounds, plan.full_maxfun, seed=SEED, on_iteration=report)
    cpu = time.process_time() - cpu_started
    facts = {"run": f"reference (article), {plan.full_rounds}×maxfun={plan.full_maxfun}", "size": plan.result_size,
             "width": transfer.width, "height": transfer.height, "precision": "float32",
             "seconds": result.seconds, "cpu_seconds": cpu, "iterations": result.iterations,
             "evaluations": result.evaluations,
             "loss": result.loss, "objective": "article", "estimated": False, "round_losses": result.history}
    return facts, result.image, transfer


def engine_objective(content: np.ndarray, style: np.ndarray, options, size: int,
                     weights: str) -> Callable[[np.ndarray], float]:
    """The engine's exact loss for ``options`` at ``size``, in float32, as a function of an RGB picture."""
    from impasto.nst.engine import objective

    return objective(content, style, options=options.replace(size=size, scales=1), precision="float32",
                     weights=weights)


def compare_quality(content: np.ndarray, style: np.ndarray, pictures: dict[str, np.ndarray], transfer,
                    size: int, weights: str) -> dict[str, dict[str, float]]:
    """Every picture on every objective (lower is better; compare within a column only)."""
    from blog_reference import preprocess

    from impasto.nst.options import DEFAULTS, Options

    objectives = {
        "article (bench/blog_reference.py)": lambda rgb: transfer.loss_terms(preprocess(rgb))["total"],
        "seed preset (engine)": engine_objective(content, style, Options.from_mapping({"preset": "seed"}), size,
                                                 weights),
        "Impasto default (engine)": engine_objective(content, style, DEFAULTS, size, weights),
    }
    return {name: {objective: float(fn(rgb)) for objective, fn in objectives.items()}
            for name, rgb in pictures.items()}


def side_by_side(pictures: dict[str, np.ndarray], path: Path) -> None:
    from PIL import Image, ImageDraw, ImageFont

    gap = 8
    height = max(p.shape[0] for p in pictures.values())
    panel = min(p.shape[1] for p in pictures.values())
    font_size = max(8, min(18, panel // 24))
    caption = 2 * font_size
    width = sum(p.shape[1] for p in pictures.values()) + gap * (len(pictures) - 1)
    canvas = Image.new("RGB", (width, height + caption), "white")
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", font_size)
    except OSError:
        font = ImageFont.load_default(size=font_size)
    left = 0
    for name, rgb in pictures.items():
        canvas.paste(Image.fromarray(rgb), (left, 0))
        draw.text((left + 4, height + font_size // 2), name, fill="black", font=font)
        left += rgb.shape[1] + gap
    canvas.save(path)


def save_png(rgb: np.ndarray, path: Path) -> None:
    from PIL import Image

    Image.fromarray(rgb).save(path)


# -- report -------------------------------------------------------------------------------------


@dataclass
class Report:
    plan: Plan
    started: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S"))
    machine: dict[str, Any] = field(default_factory=dict)
    matmul: list[Matmul] = field(default_factory=list)
    weights_load_seconds: float = float("nan")
    evaluations: list[EvalRow] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)
    memory: list[dict] = field(default_factory=list)
    quality: dict[str, dict[str, float]] = field(default_factory=dict)
    pictures: list[str] = field(default_factory=list)

    def save(self) -> None:
        self.plan.out_dir.mkdir(parents=True, exist_ok=True)
        data = asdict(self)
        data["plan"]["out_dir"] = harness.relative_to_repo(self.plan.out_dir)
        data["notes"] = {"flops": FLOP_NOTE, "timing": TIMING_NOTE}
        text = json.dumps(without_nan(data), indent=2, allow_nan=False)
        for name in ("latest.json", f"{self.plan.mode}.json"):
            (self.plan.out_dir / name).write_text(text + "\n", encoding="utf-8")


def without_nan(value: Any) -> Any:
    """JSON has no NaN: write null instead (tuples become lists)."""
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: without_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [without_nan(v) for v in value]
    return value


def fmt_loss(value: float) -> str:
    return "—" if not np.isfinite(value) else f"{value:.4g}"


def markdown(report: Report) -> str:
    m = report.machine
    matmuls = "; ".join(f"{x.dtype} {x.gflops:.0f} GFLOP/s (best), {x.gflop_per_cpu_second:.0f} GFLOP per CPU-s"
                        for x in report.matmul)
    lines = [
        f"CPU: {m['cpu']} ({m['cores']} cores; bf16 flags: {', '.join(m['bf16_flags']) or 'none'}); "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}; precision 'auto' → {m['auto_precision']}. "
        f"tf.matmul {report.plan.matmul_n}²: {matmuls}. Load average at start: {m['load_average'][0]:.2f}.",
        "",
        "| run | precision | size | s / eval | CPU s / eval | speed-up vs reference (CPU) | GFLOP / eval "
        "| GFLOP/s | GFLOP per CPU-s | % of fp32 matmul | forward alone, CPU s (share) | loss after the timed run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.evaluations:
        lines.append(
            f"| {r.run} | {r.precision} | {r.width}×{r.height} | {r.seconds_per_eval:.3f} "
            f"| {r.cpu_seconds_per_eval:.3f} "
            f"| {r.speedup_vs_reference:.2f}× ({r.cpu_speedup_vs_reference:.2f}×) | {r.gflop_per_eval:.1f} "
            f"| {r.gflops:.0f} | {r.gflop_per_cpu_second:.0f} | {r.pct_of_fp32_matmul:.0f} % "
            f"| {r.forward_cpu_seconds:.3f} ({100 * r.forward_cpu_seconds / r.cpu_seconds_per_eval:.0f} %) "
            f"| {r.loss:.4g} ({r.objective}) |")
    lines += ["", FLOP_NOTE + " " + TIMING_NOTE, ""]
    lines += ["| to a finished result | size | precision | seconds | CPU seconds | iterations | evaluations "
              "| final loss |", "|---|---|---|---|---|---|---|---|"]
    for r in report.results:
        about = "≈ " if r.get("estimated") else ""
        seconds = f"{about}{r['seconds']:.0f} | {about}{r['cpu_seconds']:.0f}"
        if r.get("estimated"):
            seconds += " (estimated from s / eval)"
        lines.append(f"| {r['run']} | {r['width']}×{r['height']} | {r['precision']} | {seconds} | "
                     f"{r['iterations']} | {r['evaluations']} | {fmt_loss(r['loss'])} ({r['objective']}) |")
    for r in report.results:
        checks = [f"{share} (iteration {c['iteration']}/{c['total']}): said {c['said_s']:.0f} s, "
                  f"took {c['took_s']:.0f} s ({c['error_pct']:+.0f} %)" for share, c in r.get("eta", {}).items() if c]
        if checks:
            lines.append(f"\nETA of {r['run']} at " + "; ".join(checks) + ".")
    lines.append(f"\nVGG16 weights load (once per process, not in the times above): "
                 f"{report.weights_load_seconds:.1f} s.")
    if report.memory:
        lines += ["", "| peak memory (own process) | size | precision | peak RSS GB | after set-up GB "
                  "| engine's estimate GB |", "|---|---|---|---|---|---|"]
        for r in report.memory:
            if "error" in r:
                lines.append(f"| {r['run']} | {r['size']} | failed: {' / '.join(r['error'])} | | | |")
                continue
            estimate = "" if r["engine_estimate_gb"] is None else f"{r['engine_estimate_gb']:.2f}"
            gpu = "" if r.get("gpu_peak_gb") is None else f" (GPU peak {r['gpu_peak_gb']:.2f})"
            lines.append(f"| {r['run']} | {r['width']}×{r['height']} | {r['precision']} | {r['peak_rss_gb']:.2f}{gpu} "
                         f"| {r['setup_rss_gb']:.2f} | {estimate} |")
    if report.quality:
        objectives = list(next(iter(report.quality.values())))
        lines += ["", "| picture (uint8) | " + " | ".join(objectives) + " |", "|---" * (len(objectives) + 1) + "|"]
        for name, values in report.quality.items():
            lines.append(f"| {name} | " + " | ".join(f"{values[o]:.4g}" for o in objectives) + " |")
        lines.append("\nLower is better; compare within a column. Pictures: " + ", ".join(report.pictures))
    return "\n".join(lines)


# -- main ---------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Impasto vs the design article's algorithm, in one run.")
    parser.add_argument("--quick", action="store_true", help="small sizes, few evaluations (a smoke test)")
    parser.add_argument("--full", action="store_true",
                        help="also the article's whole 10×20 run at 512 px, quality comparison, 1024 px memory")
    parser.add_argument("--memory", action="store_true", help="also measure peak memory at 1024 px")
    parser.add_argument("--sizes", help="comma-separated sizes for the per-evaluation timings")
    parser.add_argument("--evals", type=int, help="L-BFGS iterations timed after the warm-up")
    harness.add_weights(parser)
    parser.add_argument("--out-dir", help="where the JSON and pictures go (default bench/results, --quick: "
                        "bench/results/quick)")
    parser.add_argument("--content", default=str(DEFAULT_CONTENT))
    parser.add_argument("--style", default=str(DEFAULT_STYLE))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--child-size", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_benchmark(args: argparse.Namespace) -> Report:
    from impasto.nst.images import load_image

    plan = make_plan(args)
    report = Report(plan)
    content, style = load_image(args.content), load_image(args.style)
    report.machine = harness.machine_facts()
    report.weights_load_seconds = weights_load_seconds(args.weights)
    log(f"matmul {plan.matmul_n}²")
    report.matmul = [measure_matmul(plan.matmul_n, dtype) for dtype in ("float32", "bfloat16")]
    report.save()
    report.evaluations = time_evaluations(content, style, plan, args.weights, report.matmul[0])
    report.save()
    log(f"default result at {plan.result_size} px, end to end")
    ours, ours_image = default_result(content, style, plan, args.weights)
    report.results.append(ours)
    save_png(ours_image, plan.out_dir / f"impasto_default_{plan.result_size}.png")
    if plan.full:
        log(f"the article's whole run at {plan.result_size} px")
        reference, reference_image, transfer = full_reference_run(content, style, plan, args.weights)
        pictures = {f"article ({plan.full_rounds} x maxfun={plan.full_maxfun})": reference_image,
                    "Impasto default": ours_image}
        report.quality = compare_quality(content, style, pictures, transfer, plan.result_size, args.weights)
        report.results.insert(0, reference)
        save_png(reference_image, plan.out_dir / f"reference_{plan.result_size}.png")
        side = plan.out_dir / f"side_by_side_{plan.result_size}.png"
        side_by_side(pictures, side)
        report.pictures = [str(side.relative_to(ROOT))]
    else:
        report.results.insert(0, estimated_reference(report, plan))
    report.save()
    report.memory = measure_memory(plan, args)
    report.save()
    return report


def estimated_reference(report: Report, plan: Plan) -> dict:
    """The article's 10 rounds × 21 evaluations, from its measured seconds per evaluation at this size."""
    rows = [r for r in report.evaluations if r.run.startswith("reference") and r.size == plan.result_size]
    evaluations = plan.full_rounds * (plan.full_maxfun + 1)
    seconds = rows[0].seconds_per_eval * evaluations if rows else float("nan")
    cpu_seconds = rows[0].cpu_seconds_per_eval * evaluations if rows else float("nan")
    width, height = (rows[0].width, rows[0].height) if rows else (plan.result_size, 0)
    return {"run": f"reference (article), {plan.full_rounds}×maxfun={plan.full_maxfun}", "size": plan.result_size,
            "width": width, "height": height, "precision": "float32", "seconds": seconds, "cpu_seconds": cpu_seconds,
            "iterations": "—", "evaluations": evaluations, "loss": float("nan"), "objective": "not run; use --full",
            "estimated": True}


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.child:
        child_main(args)
        return
    report = run_benchmark(args)
    print(markdown(report))
    log(f"wrote {report.plan.out_dir / 'latest.json'}")


if __name__ == "__main__":
    main()
