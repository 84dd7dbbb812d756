"""What a job costs, in seconds on the reference machine: one model for the studio's estimates
(src/impasto/web/estimate.py, which scales it by this server's measured speed) and a clip's live ETA
(src/impasto/nst/clip_eta.py).

An evaluation costs a part that grows with the picture (the network: seconds per megapixel), the
style loss's matrix work, which grows with each style layer's channels or positions, whichever are
fewer (at 256 px two fifths of an evaluation, at 512 px a sixth), and the calls around them, which
are half of a 96 px evaluation and most of a small crop's. Counting only megapixels made small
pictures and every clip look several times quicker than they were. The figures are the phase
benchmark's (bench/phases.py, bench/clip_phases.py; docs/benchmark.md) on a 2-core CPU with
bfloat16.
"""

from __future__ import annotations

import math

from impasto.nst.options import Options
from impasto.nst.vgg import layer_channels, layer_hw

# Seconds per evaluation whatever the size, by style loss: the network's and the losses' calls (a
# 72×16 crop's evaluation takes ~0.017 s), the float64 copies for the optimiser.
PER_EVALUATION = {"wasserstein": 0.015, "gram": 0.01}
# The Wasserstein term's matrix work per style layer and evaluation: an eigenproblem (and the products
# around it) as large as the layer's channels, or its positions where those are fewer
# (src/impasto/nst/losses.py): MATRIX_SECONDS at 512, falling as the side cubed (with the figures
# beside it, fitted to seconds per evaluation measured on an idle machine: a 72×16 crop 0.017,
# 96 px 0.038, 256 px 0.166, 512 px 0.44; docs/benchmark.md).
MATRIX_SECONDS = 0.06
MATRIX_EXPONENT = 3.0
PER_MEGAPIXEL = 1.85  # seconds per evaluation per megapixel: the network's share, bfloat16
FLOAT32_FACTOR = 1.9  # the network in float32 against bfloat16 on the benchmark's CPU
# Evaluations of a scale beyond one per iteration (the engine's own L-BFGS: a shorter step now and
# then, the clipped picture evaluated for the polish): 96 px 101-102 for 100 iterations, the
# default 512 px job 86 for 85 at 256 px and 16 for 15 at 512 px.
EXTRA_EVALUATIONS = 2
# Seconds of the optimiser's own vector work per evaluation per megapixel (the default 512 px job:
# 0.70 s for 86 evaluations of 0.049 megapixels, 0.43 s for 16 of 0.197).
OPTIMIZER_PER_EVALUATION = 0.15
# What scipy's L-BFGS-B adds per bounded run and megapixel with pixel_bounds: it converts each
# value's bounds in a Python loop (1.7 s for a 512 px picture's 590k values).
SCIPY_BOUNDS_PER_MEGAPIXEL = 8.6
# A new shape's set-up and tracing beyond its first evaluation, per scale, a part and a part growing
# with the scale's size (bench/phases.py without AutoGraph: 0.75 s at 256 px, 0.9-1.0 at 512); the
# shapes a runner has kept pay none.
TRACE_SECONDS = 0.4
TRACE_SECONDS_AT_512 = 0.5
# A later clip frame's new-ground crops come in shapes of their own, each traced anew with its first
# call's graph optimisation (bench/clip_phases.py and a studio's first clip at 128 px: 0.13 s in the
# trace phase and ~0.1 s more in the crops' evaluations, per frame).
CROP_TRACE_SECONDS = 0.25
# Seconds a later clip frame pays around its evaluations: flow, the frame's and its crops' set-ups,
# their tracing spread over the frames, the optimiser (bench/clip_phases.py at 96 px: 0.30 s).
PER_FRAME = 0.3
# Share of a later frame that video's new_ground 'paint' paints again as a picture, on crops around
# what the previous frame cannot give (bench/video.py at 128 px: a pan of 3 % a frame 12 %, an
# object a third of the height moving 8 % a frame 52 %): a guess between the two.
NEW_GROUND_CROP_SHARE = 0.25


def evaluation_seconds(options: Options, megapixels: float, aspect: float) -> float:
    """One evaluation of a picture of ``megapixels`` and this aspect (short side over long)."""
    network = PER_MEGAPIXEL * (FLOAT32_FACTOR if options.precision == "float32" else 1.0)
    fixed = PER_EVALUATION.get(options.style_loss, PER_EVALUATION["wasserstein"])
    return fixed + style_matrix_seconds(options, megapixels, aspect) + network * megapixels


def style_matrix_seconds(options: Options, megapixels: float, aspect: float) -> float:
    """The Wasserstein term's eigenproblems of one evaluation (none for a Gram term)."""
    if options.style_loss != "wasserstein":
        return 0.0
    longest = math.sqrt(megapixels * 1e6 / aspect)
    height, width = int(longest * aspect), int(longest)
    seconds = 0.0
    for name in options.style_layers:
        rows, columns = layer_hw(name, (height, width))
        side = min(rows * columns, layer_channels(name))
        seconds += MATRIX_SECONDS * (side / 512) ** MATRIX_EXPONENT
    return seconds


def step_seconds(options: Options, megapixels: float, aspect: float) -> float:
    """One evaluation and the optimiser's own vector work around it."""
    return evaluation_seconds(options, megapixels, aspect) + OPTIMIZER_PER_EVALUATION * megapixels


def scale_seconds(options: Options, iterations: int, megapixels: float, aspect: float) -> float:
    """One scale's (or a crop's) L-BFGS: its evaluations and the optimiser's own work, not its tracing."""
    # with round_evals an "iteration" is a round of exactly that many evaluations
    evaluations = iterations * options.round_evals if options.round_evals else iterations + EXTRA_EVALUATIONS
    bounds = SCIPY_BOUNDS_PER_MEGAPIXEL * megapixels if options.pixel_bounds else 0.0
    return evaluations * step_seconds(options, megapixels, aspect) + bounds


def picture_seconds(options: Options, aspect: float) -> float:
    """A picture (a clip's first frame): each scale's iterations at its size, for a photo of this
    aspect (short side over long); tracing apart (``trace_seconds``)."""
    return sum(scale_seconds(options, iterations, size * size * aspect / 1e6, aspect)
               for size, iterations in zip(options.scale_sizes(), options.scale_iterations()))


def trace_seconds(options: Options) -> float:
    """Tracing every scale's loss anew: what a job with shapes the runner has not kept pays once."""
    return sum(scale_trace_seconds(size) for size in options.scale_sizes())


def clip_trace_seconds(options: Options, frames: int) -> float:
    """What a clip of ``frames`` frames traces beyond its first frame's scales: the later frames'
    program (with the temporal term) and each later frame's new-ground crops; with temporal_weight 0
    its frames are pictures, which the first frame's programs serve."""
    if frames <= 1 or options.temporal_weight == 0:
        return 0.0
    crops = (frames - 1) * CROP_TRACE_SECONDS if options.new_ground == "paint" else 0.0
    return scale_trace_seconds(options.size) + crops


def scale_trace_seconds(longest: int) -> float:
    """Setting up and tracing one scale of this longest side anew."""
    return TRACE_SECONDS + TRACE_SECONDS_AT_512 * longest / 512


def later_frame_seconds(options: Options, aspect: float) -> float:
    """A clip's frame after the first: frame_iterations at full size, the crops around its new
    ground with as many, and the work around them; with temporal_weight 0,
    a picture of its own."""
    if options.temporal_weight == 0:
        return picture_seconds(options, aspect)
    megapixels = options.size * options.size * aspect / 1e6
    seconds = PER_FRAME + scale_seconds(options, options.frame_iterations, megapixels, aspect)
    if options.new_ground == "paint":
        seconds += scale_seconds(options, options.frame_iterations, megapixels * NEW_GROUND_CROP_SHARE, aspect)
    return seconds


def job_seconds(options: Options, aspect: float, frames: int = 1) -> float:
    """A picture's, or a clip's of ``frames`` frames, evaluations and per-frame work."""
    return picture_seconds(options, aspect) + (frames - 1) * later_frame_seconds(options, aspect)
