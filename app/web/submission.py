"""Validating a submission, the same way for the HTML form and the JSON API.

Everything is checked before anything is stored: the options (engine ranges from app.nst.options,
then the web's own upper limits from the settings), then the images (decoded with the pixel limit
checked from the header first, so decompression bombs never expand). Inputs are stored
re-encoded as PNG, downscaled to what the engine could ever use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from werkzeug.datastructures import FileStorage, MultiDict

from app.jobs.store import JobStore
from app.nst.errors import ImageError, OptionError
from app.nst.images import encode_image, load_image, resize_longest
from app.nst.options import PRESETS, Options, apply_preset, option_specs
from app.styles import catalog

# Form fields that are not engine options.
RESERVED_FIELDS = ("style_name", "source_job", "preset")
WEB_INIT_CHOICES = ("content", "noise")  # 'image' needs a third upload the studio does not offer
STYLE_SCALE_MAX = option_specs()["style_scale"][1].maximum or 4.0


class SubmissionError(Exception):
    """One or more fields are wrong. ``errors`` maps field name → message; ``status`` is HTTP."""

    def __init__(self, errors: dict[str, str], status: int = 400) -> None:
        self.errors = errors
        self.status = status
        self.field = next(iter(errors))
        super().__init__(errors[self.field])


@dataclass(frozen=True)
class Limits:
    """The web's limits on top of the engine's ranges (from Settings / app.config)."""

    max_size: int
    max_iterations: int
    max_pixels: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(config["IMPASTO_MAX_SIZE"], config["IMPASTO_MAX_ITERATIONS"], config["IMPASTO_MAX_PIXELS"])


@dataclass
class Submission:
    options: Options
    files: dict[str, bytes]  # content.png, style.png
    meta: dict[str, Any] = field(default_factory=dict)


def parse_submission(form: MultiDict, files: MultiDict, limits: Limits, store: JobStore) -> Submission:
    """Validate a multipart submission; raise SubmissionError naming every bad field."""
    return _Parser(form, files, limits, store).parse()


class _Parser:
    def __init__(self, form: MultiDict, files: MultiDict, limits: Limits, store: JobStore) -> None:
        self.form, self.files, self.limits, self.store = form, files, limits, store
        self.errors: dict[str, str] = {}
        self.too_large = False

    def parse(self) -> Submission:
        options = _parse_options(self.form, self.limits, self.errors)
        self.source = self._source_job()
        content = self._content_image()
        style, style_name = self._style_image()
        if self.errors:
            raise SubmissionError(self.errors, 413 if self.too_large else 400)
        meta = {"style_name": style_name, "preset": self.form.get("preset") or None}
        return Submission(options, {"content.png": content, "style.png": style}, meta)  # type: ignore[arg-type]

    def _source_job(self) -> str | None:
        """'Again with the same settings': a job whose inputs are reused when no new file comes."""
        job_id = self.form.get("source_job") or None
        if job_id and self.store.get(job_id) is None:
            self.errors["source_job"] = ("the earlier job is gone (deleted after the retention time); "
                                         "upload the images again")
            return None
        return job_id

    def _content_image(self) -> bytes | None:
        upload = _uploaded(self.files, "content")
        if upload is not None:
            return self._read(upload.read(), "content", self.limits.max_size)
        if self.source:
            return self.store.get_file(self.source, "content.png")
        self.errors["content"] = "content: choose a photo (JPEG, PNG, WebP, BMP or TIFF)"
        return None

    def _style_image(self) -> tuple[bytes | None, str | None]:
        longest = round(self.limits.max_size * STYLE_SCALE_MAX)  # style_scale enlarges the painting
        upload = _uploaded(self.files, "style")
        if upload is not None:
            return self._read(upload.read(), "style", longest), None
        name = self.form.get("style_name") or ""
        if name:
            style = catalog().get(name)
            if style is None:
                self.errors["style"] = f"style: unknown built-in style {name!r}; choose one of {', '.join(catalog())}"
                return None, None
            return _png(load_image(style.read(), name="style"), longest), name
        if self.source:
            return self.store.get_file(self.source, "style.png"), None
        self.errors["style"] = "style: choose a painting or pick one of the built-in styles"
        return None, None

    def _read(self, data: bytes, field_name: str, longest: int) -> bytes | None:
        try:
            array = load_image(data, max_pixels=self.limits.max_pixels, name=field_name)
        except ImageError as exc:
            self.errors[field_name] = str(exc)
            self.too_large = self.too_large or exc.too_large
            return None
        return _png(array, longest)


def _uploaded(files: MultiDict, name: str) -> FileStorage | None:
    upload = files.get(name)
    # A form with no file chosen sends a part with an empty file name: that is "nothing", not "empty".
    return upload if upload is not None and upload.filename else None


def _png(array: np.ndarray, longest: int) -> bytes:
    if max(array.shape[:2]) > longest:
        array = resize_longest(array, longest)
    return encode_image(array, "PNG")


# -- options ------------------------------------------------------------------------------------

def option_values(form: MultiDict) -> dict[str, str]:
    """The option fields of a form; the last value wins (a hidden '0' before a checkbox)."""
    return {key: form.getlist(key)[-1] for key in form if key not in RESERVED_FIELDS}


def _parse_options(form: MultiDict, limits: Limits, errors: dict[str, str]) -> Options | None:
    base = Options()
    preset = form.get("preset") or ""
    if preset:
        try:
            base = apply_preset(base, preset)
        except OptionError as exc:
            errors["preset"] = f"{exc}"
            return None
    values = option_values(form)
    for name, raw in values.items():  # one at a time, so that the form can flag every bad field
        try:
            Options.from_mapping({name: raw}, base=base)
        except OptionError as exc:
            errors[exc.field] = _web_range(exc.field, raw, limits) or str(exc)
    if errors:
        return None
    options = Options.from_mapping(values, base=base)
    _check_web_limits(options, limits, errors)
    return None if errors else options


def _web_range(name: str, raw: Any, limits: Limits) -> str | None:
    """The message for size and iterations, whose allowed range here is the web's, not the engine's."""
    maximum = {"size": limits.max_size, "iterations": limits.max_iterations}.get(name)
    if maximum is None:
        return None
    minimum = option_specs()[name][1].minimum
    return f"{name} must be a whole number from {minimum:g} to {maximum}, got {raw!r}"


def _check_web_limits(options: Options, limits: Limits, errors: dict[str, str]) -> None:
    for name in ("size", "iterations"):
        message = _web_range(name, getattr(options, name), limits)
        if getattr(options, name) > (limits.max_size if name == "size" else limits.max_iterations):
            errors[name] = message  # type: ignore[assignment]
    if options.init not in WEB_INIT_CHOICES:
        errors["init"] = f"init must be one of {', '.join(WEB_INIT_CHOICES)}, got {options.init!r}"
    if options.style_blend:
        errors["style_blend"] = "style_blend needs several style images; the studio takes one"


def presets() -> dict[str, dict[str, Any]]:
    """Each preset applied to the defaults, as JSON-ready option dicts (for the form's buttons)."""
    return {name: apply_preset(Options(), name).to_dict() for name in PRESETS}
