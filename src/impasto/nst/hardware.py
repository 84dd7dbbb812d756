"""What the machine can do: precision, memory, device name."""

from __future__ import annotations

import functools
import logging
import os
import platform

from impasto.nst.options import VGG_LAYERS

log = logging.getLogger(__name__)

# Measured peak memory of one job (see bench/ and README): a fixed part for TensorFlow and the
# weights, plus bytes per result pixel for the activations kept for the gradient at full depth.
BASE_BYTES = 0.8e9
BYTES_PER_PIXEL_FULL_DEPTH = 3.6e3
# A style image only goes forward once (no gradient), keeping just the Gram layers' outputs.
BYTES_PER_STYLE_PIXEL = 1.5e3


@functools.lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        names.append(details.get("device_name", gpu.name))
    return tuple(names)


def device_name() -> str:
    gpus = gpu_names()
    return f"GPU: {gpus[0]}" if gpus else f"CPU: {cpu_model()} ({os.cpu_count()} cores)"


@functools.lru_cache(maxsize=1)
def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def cpu_model() -> str:
    return _cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_flags() -> frozenset[str]:
    return frozenset(_cpuinfo().get("flags", "").split())


def cpu_has_fast_bf16() -> bool:
    """AMX or AVX512-BF16: TensorFlow's oneDNN runs bfloat16 convolutions much faster there."""
    return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())


def choose_precision(requested: str = "auto", machine: str = "auto") -> str:
    """float32, bfloat16 or float16 for the network's convolutions.

    ``requested`` is the job's choice; where it is 'auto', ``machine`` (the server's
    IMPASTO_PRECISION) is. Left 'auto': on a GPU bfloat16 where supported (compute capability
    8.0+), else float32; on a CPU bfloat16 only with AMX/AVX512-BF16.
    """
    if requested == "auto":
        requested = machine
    if requested != "auto":
        return requested
    if gpu_names():
        return "bfloat16" if _gpu_supports_bf16() else "float32"
    return "bfloat16" if cpu_has_fast_bf16() else "float32"


def _gpu_supports_bf16() -> bool:
    import tensorflow as tf

    gpu = tf.config.list_physical_devices("GPU")[0]
    capability = tf.config.experimental.get_device_details(gpu).get("compute_capability", (0, 0))
    return tuple(capability) >= (8, 0)


def estimate_peak_bytes(height: int, width: int, deepest: str = "block5_conv1") -> float:
    """Peak memory of one job at this result size (activations scale with pixels)."""
    # Deeper layers hold few activations (each pool divides them by 4), so depth matters little;
    # stopping at block1-2 needs about half.
    depth_factor = 0.5 if VGG_LAYERS.index(deepest) < 4 else 1.0
    return BASE_BYTES + BYTES_PER_PIXEL_FULL_DEPTH * height * width * depth_factor


def available_bytes(memory_gb: float | None = None) -> float:
    """``memory_gb`` (the server's IMPASTO_MAX_MEMORY_GB) when given, else what the OS reports."""
    if memory_gb is not None:
        return memory_gb * 1e9
    if gpu_names():
        return float("inf")  # TensorFlow reports GPU out-of-memory itself; host memory is not the limit
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")
