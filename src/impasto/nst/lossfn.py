"""Traced loss programs kept between problems of the same shape and settings.

Tracing a loss ``tf.function`` and TensorFlow's graph optimisation at its first call cost 2-3 s
each time, whatever the picture's size: for a clip's later frames (a few dozen iterations each)
that was a third of a frame at 64-256 px. A program (src/impasto/nst/program.py ``Program``) holds its
photo's content targets, its paintings' style targets and a video frame's temporal target in
variables, so the next problem with the same shape and loss settings (the clip's next frame, or the
next job, with any painting) aims the kept program at its own pictures instead of tracing a new
one. Programs are kept per thread: jobs running in other threads never see each other's variables.
"""

from __future__ import annotations

import gc
import threading
from collections import OrderedDict
from typing import Any, Callable

from impasto.nst.options import Options

KEPT_PER_THREAD = 4  # a two-scale job and a clip's first and later frames fit
_local = threading.local()


def program_key(vgg, options: Options, precision: str, image_hw: tuple[int, int], temporal: bool) -> tuple:
    """What a traced program bakes in: the weights, the precision, the shape, the loss settings."""
    return (vgg.source, precision, *shape_key(options, image_hw, temporal))


def shape_key(options: Options, image_hw: tuple[int, int], temporal: bool) -> tuple:
    """A program's key less the weights and the precision, which stay the same through a job."""
    settings = (options.content_weight, options.style_weight, options.tv_weight, options.temporal_weight,
                options.content_layers, options.style_layers, options.layer_weights(), options.style_loss,
                options.normalization, options.tv_exponent, options.flat_smoothing, options.stroke_flow,
                options.shadow_content)
    return tuple(int(side) for side in image_hw), settings, temporal


def kept_shapes() -> list[tuple]:
    """This thread's kept programs as ``shape_key`` gives them, the least recently used first."""
    return [key[2:] for key in _programs()]


def kept(key: tuple, targets: Any, build: Callable[[], Any]) -> tuple[Any, bool]:
    """(program, fresh): this thread's program for ``key``, aimed at these style ``targets`` (the
    targets cache hands out one object per painting and size, so the same object needs no new
    aim), else a new one from ``build``."""
    programs = _programs()
    entry = programs.get(key)
    if entry is not None:
        aimed, program = entry
        if aimed is not targets:
            program.set_style(targets)
        programs[key] = (targets, program)
        programs.move_to_end(key)
        return program, False
    program = build()
    programs[key] = (targets, program)  # the targets are held, so their identity stays theirs
    if len(programs) > KEPT_PER_THREAD:
        while len(programs) > KEPT_PER_THREAD:
            programs.popitem(last=False)
        # A program's traced graph sits in reference cycles: only the cycle collector frees it, and
        # it seldom runs on its own (few Python objects, much native memory): 10 new shapes grew a
        # runner by ~350 MB. Collected here, when a new shape was traced anyway (~0.15 s beside ~1 s).
        gc.collect()
    return program, True


def _programs() -> OrderedDict:
    if not hasattr(_local, "programs"):
        _local.programs = OrderedDict()
    return _local.programs


def clear() -> None:
    """Forget this thread's programs (tests that patch a loss term)."""
    _programs().clear()
