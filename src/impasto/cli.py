"""The ``impasto`` command line: ``transfer`` paints one picture, ``serve`` runs the studio,
``worker`` runs a scale-out worker, ``token`` makes, lists and revokes API tokens, ``backup`` and
``restore`` write and read back an archive of the studio's data.

Bad input exits with code 2 and one line on stderr; Ctrl-C exits with 130 and writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import logging
import math
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Sequence

import numpy as np

from impasto import cli_backup, cli_server, cli_video
from impasto.cli_words import cli_message
from impasto.config import Settings, SettingsError
from impasto.exit_codes import EXIT_BAD_INPUT, EXIT_CANCELLED, EXIT_FAILED
from impasto.logs import configure as configure_logs
from impasto.nst.errors import Cancelled, ImpastoError, NumericalError, OptionError
from impasto.nst.images import check_writable, load_image, output_format, save_image
from impasto.nst.masks import check_masks, load_mask
from impasto.nst.options import Options, blend_weights, option_specs
from impasto.nst.presets import PRESET_ALIASES, PRESETS
from impasto.nst.shapes import check_shapes
from impasto.nst.vgg import check_weights
from impasto.text import clock, format_number

if TYPE_CHECKING:
    from impasto.nst.engine import Result

# Quiet TensorFlow's C++ start-up logging before anything imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Options exposed as flags of `transfer`.
TRANSFER_FLAGS = [
    "size", "iterations", "content_weight", "style_weight", "tv_weight", "init", "seed",
    "style_scale", "style_fit", "style_blend", "content_layers", "style_layers", "style_layer_weights", "style_loss",
    "normalization", "tv_exponent", "stroke_flow", "start_palette",
    "scales", "round_evals", "precision", "temporal_weight", "frame_iterations",
    "new_ground",
]

# Boolean options as switches that turn them on (--preserve-colors, --match-palette).
SWITCH_FLAGS = ("preserve_colors", "match_palette")


class UsageError(Exception):
    """Raised instead of argparse's own exit so every bad input ends the same way."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="impasto", description="Impasto: neural style transfer studio.")
    parser.add_argument("--version", action="version", version=f"impasto {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_transfer(sub)
    cli_server.add_serve(sub)
    cli_server.add_worker(sub)
    cli_server.add_token(sub)
    cli_backup.add_backup(sub)
    cli_backup.add_restore(sub)
    return parser


def _add_transfer(sub) -> None:
    p = sub.add_parser("transfer", help="paint CONTENT in the style of STYLE", description=(
        "Paint CONTENT in the style of STYLE. Defaults come from the 'balanced' preset; "
        "--preset picks another, flags override it."))
    p.add_argument("content", help="the photo (JPEG, PNG, WebP, BMP or TIFF), or a clip (MP4, MOV, WebM, "
                   "animated GIF or WebP: painted frame by frame, see the clip flags)")
    p.add_argument("style", nargs="+", help="the painting; several are blended (see --style-blend)")
    p.add_argument("--style", dest="extra_styles", action="append", default=[], metavar="PATH",
                   help="another style image (repeatable), same as an extra positional STYLE")
    p.add_argument("-o", "--output", required=True, help="result file: .png, .jpg or .jpeg; for a clip .mp4, "
                   ".webm or .gif")
    p.add_argument("--preset", choices=[*PRESETS, *PRESET_ALIASES], metavar="{" + ",".join(PRESETS) + "}",
                   help="start from a named preset (default: balanced; 'seed' is the old name of 'article')")
    p.add_argument("--weights", help="VGG16 weights file (default: $IMPASTO_VGG_WEIGHTS, else ImageNet)")
    p.add_argument("--init-image", help="start from this image (implies --init image)")
    p.add_argument("--mask", dest="masks", action="append", default=[], metavar="PATH",
                   help="where the painting goes: a grey image, white = paint, black = keep the photo (once per "
                   "painting, in the paintings' order; resized to the photo)")
    for name in SWITCH_FLAGS:
        p.add_argument("--" + name.replace("_", "-"), dest=name, action="store_true", default=None,
                       help=option_specs()[name][1].help)
    p.add_argument("--quiet", action="store_true", help="no progress bar and no 'wrote' line on stderr")
    p.add_argument("--json", action="store_true", help="also print a JSON summary on stdout when done (the "
                   "progress bar and the 'wrote' line stay on stderr; add --quiet to drop them)")
    specs = option_specs()
    for name in TRANSFER_FLAGS:
        default, spec = specs[name]
        single_choice = spec.choices and not isinstance(default, tuple)
        metavar = "{" + ",".join(spec.choices) + "}" if single_choice else name.split("_")[-1].upper()
        p.add_argument("--" + name.replace("_", "-"), dest=name, metavar=metavar,
                       help=f"{spec.help} (default: {_default_text(name, default)})")
    cli_video.add_clip_flags(p)


# Defaults as a person reads them, where the value itself says nothing (None, an empty list).
DEFAULT_WORDS = {"seed": "random", "style_blend": "equal",
                 "style_layer_weights": "1,1,2,3 for the default layers, else 1 each"}


def _default_text(name: str, default: Any) -> str:
    if name in DEFAULT_WORDS:
        return DEFAULT_WORDS[name]
    if isinstance(default, tuple):
        return ",".join(map(str, default))
    return format_number(default) if isinstance(default, (int, float)) else str(default)


def _version() -> str:
    try:
        return importlib.metadata.version("impasto")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        print(f"impasto: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        settings = Settings.from_env()  # every IMPASTO_* value, the weights file included, before any work
    except SettingsError as exc:
        print(f"impasto: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    servers = ("serve", "worker")  # a server says what it does; a one-off command only what went wrong
    configure_logs(settings.log_format, logging.INFO if args.verbose or args.command in servers else logging.WARNING)
    if args.command == "transfer":
        return transfer(args, settings)
    if args.command == "serve":
        return cli_server.serve(args, settings)
    if args.command == "token":
        return cli_server.token(args, settings)
    if args.command in ("backup", "restore"):
        return getattr(cli_backup, args.command)(args, settings)
    return cli_server.worker(args, settings)


def transfer(args: argparse.Namespace, settings: Settings) -> int:
    if cli_video.wants_clip(args.content, args.output):
        return transfer_clip(args, settings)
    try:
        job = _prepare_transfer(args, settings)
        result = _run_transfer(args, job)
    except (Cancelled, KeyboardInterrupt, ImpastoError) as exc:
        return _refused(exc)
    written = _save_or_rescue(result.image, Path(args.output))
    if written is None:
        return EXIT_FAILED
    summary = result.summary()
    if args.json:
        print(json.dumps({"output": str(written), **summary}))
    if not args.quiet and result.image.shape[2] == 4 and output_format(written) == "JPEG":
        print("impasto: note: JPEG has no transparency; the photo's transparent parts were put on white "
              "(write a .png to keep them)", file=sys.stderr)
    if not args.quiet:
        unit = "rounds" if result.options.round_evals else "iterations"  # the unit --iterations counted in
        print(f"wrote {written} ({result.seconds:.1f} s, {summary['iterations']} {unit})", file=sys.stderr)
    return 0 if written == Path(args.output) else EXIT_FAILED


def _refused(exc: BaseException) -> int:
    """One line on stderr and the exit code for a transfer that wrote nothing."""
    if isinstance(exc, KeyboardInterrupt):
        print("\nimpasto: interrupted; nothing was written", file=sys.stderr)
        return EXIT_CANCELLED
    if isinstance(exc, Cancelled):
        print("impasto: cancelled; nothing was written", file=sys.stderr)
        return EXIT_CANCELLED
    said = cli_message(exc.message) if isinstance(exc, ImpastoError) else str(exc)
    print(f"impasto: error: {said}", file=sys.stderr)
    return EXIT_FAILED if isinstance(exc, NumericalError) else EXIT_BAD_INPUT


def transfer_clip(args: argparse.Namespace, settings: Settings) -> int:
    """A clip as the content: painted frame by frame, written as MP4, WebM or GIF (src/impasto/cli_video.py)."""
    try:
        options = _transfer_options(args)
        job = cli_video.prepare(args, options, _engine(args, settings))
        check_writable(args.output, picture=False)
        data, summary = cli_video.run(args, job, _native_stderr_silenced)
    except (Cancelled, KeyboardInterrupt, ImpastoError) as exc:
        return _refused(exc)
    written = _save_or_rescue(data, Path(args.output), save=lambda data, path: Path(path).write_bytes(data))
    if written is None:
        return EXIT_FAILED
    cli_video.report(args, written, summary)
    return 0 if written == Path(args.output) else EXIT_FAILED


def _save_or_rescue(image, output: Path, save=None) -> Path | None:
    """Write the result (``save``: a picture's save_image by default); if that fails (disk full,
    folder gone), keep it in the temp folder."""
    save = save or save_image
    try:
        save(image, output)
        return output
    except OSError as exc:
        rescue = Path(tempfile.gettempdir()) / f"impasto-{time.strftime('%Y%m%d-%H%M%S')}{output.suffix}"
        try:
            save(image, rescue)
        except OSError:
            print(f"impasto: error: could not write {output} ({exc.strerror}); the result is lost", file=sys.stderr)
            return None
        print(f"impasto: error: could not write {output} ({exc.strerror}); the result was saved to {rescue}",
              file=sys.stderr)
        return rescue


@dataclass
class _TransferInputs:
    options: Options
    content: np.ndarray
    styles: list[np.ndarray]
    init_image: np.ndarray | None
    masks: list[np.ndarray]  # one per painting, or none
    engine: dict[str, Any]  # the machine's side: weights, precision, memory_gb


def _prepare_transfer(args: argparse.Namespace, settings: Settings) -> _TransferInputs:
    """Check every input before the slow part: options, files, weights, output path."""
    options = _transfer_options(args)
    if options.init == "image" and not args.init_image:
        raise OptionError("init", "--init image needs --init-image PATH")
    content = load_image(args.content, name="content", keep_alpha=True)
    styles = [load_image(path, name="style") for path in [*args.style, *args.extra_styles]]
    blend_weights(options, len(styles))
    check_shapes(options, content.shape[:2], [style.shape[:2] for style in styles])
    init_image = load_image(args.init_image, name="init image") if args.init_image else None
    masks = _read_masks(args.masks, content, len(styles), options)
    engine = _engine(args, settings)
    check_writable(args.output)
    return _TransferInputs(options, content, styles, init_image, masks, engine)


def _engine(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The machine's side of a job: weights (checked now), precision, memory."""
    weights = check_weights(args.weights) if args.weights else settings.vgg_weights
    return {"weights": weights, "precision": settings.precision, "memory_gb": settings.max_memory_gb}


def _transfer_options(args: argparse.Namespace) -> Options:
    """The options from --preset, the flags and the switches, validated."""
    values = {name: getattr(args, name) for name in TRANSFER_FLAGS if getattr(args, name) is not None}
    if args.preset:
        values["preset"] = args.preset
    for switch in SWITCH_FLAGS:
        if getattr(args, switch):
            values[switch] = True
    if args.init_image:
        if values.get("init", "image") != "image":
            raise OptionError("init", f"--init-image starts from an image, but --init is {values['init']!r}; "
                                      "drop one of them")
        values["init"] = "image"
    return Options.from_mapping(values)


def _read_masks(paths: list[str], content: np.ndarray, paintings: int, options: Options) -> list[np.ndarray]:
    """--mask files read and checked against the photo and the paintings (before TensorFlow loads)."""
    names = ["mask"] if len(paths) == 1 else [f"mask {n}" for n in range(1, len(paths) + 1)]
    masks = [load_mask(path, name) for path, name in zip(paths, names)]
    check_masks(masks, content.shape[:2], paintings, options.normalization)
    return masks


def _run_transfer(args: argparse.Namespace, job: _TransferInputs) -> Result:
    with _native_stderr_silenced(enabled=not args.verbose):
        # TensorFlow's C++ start-up lines (oneDNN notes, "no CUDA driver") are not for our users;
        # TF_CPP_MIN_LOG_LEVEL does not silence all of them, so fd 2 is muted while it loads.
        from impasto.nst.engine import stylize  # imports TensorFlow: only once the inputs are known good
        from impasto.nst.hardware import gpu_names

        gpu_names()

    bar = None if args.quiet else _ProgressBar()
    try:
        return stylize(job.content, job.styles, options=job.options, init_image=job.init_image,
                       masks=job.masks, on_progress=bar, **job.engine)
    finally:
        if bar is not None:
            bar.close()


@contextlib.contextmanager
def _native_stderr_silenced(enabled: bool = True):
    """Point file descriptor 2 at /dev/null (native libraries write there directly)."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class _ProgressBar:
    """A tqdm bar on stderr: iteration i/N, the loss, elapsed, the engine's own ETA, the scale and the
    evaluations so far (bench/prints.py times each scale by them).

    Created at the first progress report, so that weight or input errors print no empty bar.
    """

    def __init__(self) -> None:
        self.bar = None

    def __call__(self, progress) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=progress.total, unit="it", file=sys.stderr, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]")
        self.bar.n = progress.iteration
        eta = "?" if progress.eta is None else clock(progress.eta)
        loss = f"loss {progress.loss:.4g}" if math.isfinite(progress.loss) else "starting"  # the start: no loss yet
        self.bar.set_postfix_str(f"{loss}, ETA {eta}, scale {progress.scale}/{progress.scales}, "
                                 f"{progress.evaluations} evaluations",
                                 refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run() -> NoReturn:
    """The console script: ``main``, then an exit that skips the interpreter's teardown, which
    took ~0.7 s of a 15 s picture with TensorFlow loaded (docs/benchmark.md). The output is
    flushed first; a command that left Python threads running (none do) exits the usual way."""
    code = main()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe or stream: nothing left to say
            stream.flush()
    if threading.active_count() > 1:
        sys.exit(code)
    os._exit(code)


if __name__ == "__main__":
    run()
