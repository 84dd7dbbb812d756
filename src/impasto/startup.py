"""What `impasto serve` and `impasto worker` say in their first log lines: where the data is kept
and whether the VGG16 weights are at hand.

With IMPASTO_VGG_WEIGHTS unset and Keras's cache empty, the ImageNet weights are fetched now, once,
before the studio takes work (as the Docker image does at build time): a job should never be the
first to find that the network cannot be had. Offline that fails at once; the studio then starts
all the same, says what is missing, shows a banner and answers submissions 503 until weights are
in place (src/impasto/nst/vgg.py, ``missing_weights``).
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping

from impasto.config import Settings, variable
from impasto.data_dir import start_lines
from impasto.nst.errors import WeightsError
from impasto.nst.vgg import MissingWeights, imagenet_cache, load_weights, missing_weights

log = logging.getLogger(__name__)


def fetch_imagenet() -> None:
    """Download the ImageNet VGG16 weights into Keras's cache (58 MB); WeightsError if it cannot."""
    load_weights(None)


SERVER = "until then the studio takes no job: its pages show a banner and submissions get 503 naming the weights"
WORKER = "until then every job this worker takes fails"


def report(settings: Settings, environ: Mapping[str, str], *, data_dir: bool = True, meaning: str = SERVER,
           fetch: Callable[[], None] | None = None) -> MissingWeights | None:
    """Log where the data is (``data_dir``: the embedded store's folder; a scale-out worker has
    none) and the weights' state, fetching the ImageNet weights first when they are the ones
    wanted and not cached. Returns what is still missing (None: the weights are at hand)."""
    if data_dir:
        chosen = bool(str(environ.get(variable("data_dir")) or "").strip())
        for line in start_lines(settings.data_dir, chosen):
            log.info("%s", line)
    source = settings.vgg_weights
    missing = missing_weights(source)
    if missing is not None and source in (None, "imagenet"):
        log.info("weights: the ImageNet VGG16 weights are not in Keras's cache; downloading them (58 MB) ...")
        try:
            (fetch or fetch_imagenet)()
        except WeightsError as exc:
            log.warning("weights: %s", exc)
        missing = missing_weights(source)
    if missing is not None:
        log.warning("%s; %s", missing.detail, meaning)
    else:
        log.info("weights: %s", source if source not in (None, "imagenet") else f"ImageNet, {imagenet_cache()}")
    return missing
