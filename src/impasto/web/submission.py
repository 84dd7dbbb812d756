"""Validating and storing a submission, the same way for the HTML form and the JSON API.

Everything is checked before anything is stored: the options (engine ranges from impasto.nst.options,
then the web's own upper limits from the settings: size, and the total work, iterations over all
scales times round_evals), then the images (decoded with the pixel limit checked from the header
first, so decompression bombs never expand), then their shapes (impasto.nst.shapes: the engine's own
check, so a job the network could not run is refused here). Unknown fields, text or file, are
refused by name. Uploads are stored re-encoded as PNG, downscaled to what the engine could ever
use; built-in paintings are referenced by name and hash (impasto.jobs.paintings), never copied.
``parse_submission`` is what the job service (src/impasto/web/service.py) checks a submission with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from werkzeug.datastructures import FileStorage, MultiDict

from impasto.config import default
from impasto.jobs.paintings import job_paintings, reference_meta
from impasto.jobs.store import (
    CLIP_FILE,
    CLIP_STRIPPED,
    INIT_FILE,
    MASK_FILES,
    POSTER_FILE,
    STYLE_FILES,
    Job,
    JobStore,
    is_clip,
    mask_files,
)
from impasto.message import Choice, Field, Message, Number, Sent, Setting
from impasto.nst.clips import ClipLimits
from impasto.nst.errors import ImageError, OptionError
from impasto.nst.images import encode_image, image_shape, load_image, resize_longest
from impasto.nst.masks import check_masks, load_mask, mask_png
from impasto.nst.options import MAX_STYLES, Options, blend_weights, option_specs
from impasto.nst.presets import preset_name
from impasto.nst.shapes import check_shapes
from impasto.styles import catalog
from impasto.web.clip_input import ClipUpload, clip_limits, clip_setting, read_clip_upload, wants_clip
from impasto.web.option_fields import (
    option_values,
    parse_options,
)
from impasto.web.service_errors import InvalidSubmission

STYLE_SCALE_MAX = option_specs()["style_scale"][1].maximum or 4.0


@dataclass(frozen=True)
class Limits:
    """The web's limits on top of the engine's ranges (from Settings / app.config)."""

    max_size: int
    max_iterations: int
    max_pixels: int
    clip: ClipLimits = ClipLimits(default("max_clip_frames"), default("max_clip_seconds"), default("max_clip_side"))
    queue_limit: int = default("queue_limit")  # jobs waiting at most (IMPASTO_QUEUE_LIMIT)
    per_client: int | None = None  # jobs queued or running per client at most (None: no cap)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        return cls(config["IMPASTO_MAX_SIZE"], config["IMPASTO_MAX_ITERATIONS"], config["IMPASTO_MAX_PIXELS"],
                   clip_limits(config), config["IMPASTO_QUEUE_LIMIT"],
                   config["IMPASTO_MAX_QUEUED_PER_CLIENT"] or None)

    @property
    def maxima(self) -> dict[str, int]:
        """The options whose upper limit here is the web's, not the engine's (the form's sliders too)."""
        return {"size": self.max_size, "iterations": self.max_iterations}


@dataclass
class Submission:
    options: Options
    # content.png (or, for a clip, content.clip and poster.jpg), style.png, style_2.png …, init.png (init='image' only)
    files: dict[str, bytes]
    meta: dict[str, Any] = field(default_factory=dict)


def parse_submission(form: MultiDict, files: MultiDict, limits: Limits, store: JobStore) -> Submission:
    """Validate a multipart submission; raise InvalidSubmission naming every bad field.

    The paintings, in blend order: the ``style`` uploads in the order sent, then the ``style_name``
    built-ins in the order sent; ``style_blend`` gives one weight per painting in that order. With
    ``source_job`` (the page's "again"), what the submission leaves out comes from that job: its
    photo, all its paintings (when none is given), its start image (init='image' and no new one).
    """
    return _Parser(form, files, limits, store).parse()


FILE_FIELDS = ("content", "style", "init_image", "mask")


@dataclass(frozen=True)
class _Image:
    """An input as it will be stored (PNG) and its (height, width) as the engine will get it."""

    png: bytes
    shape: tuple[int, int]
    sent: tuple[int, int] | None = None  # the shape as uploaded, before downscaling (for messages)
    clip: ClipUpload | None = None  # the content is a clip: its frames have ``shape``; no png


@dataclass(frozen=True)
class _Painting:
    """A painting of the submission: an upload (``image``) or a built-in referenced by ``name``."""

    name: str | None
    image: _Image | None
    shape: tuple[int, int]


class _Parser:
    def __init__(self, form: MultiDict, files: MultiDict, limits: Limits, store: JobStore) -> None:
        self.form, self.files, self.limits, self.store = form, files, limits, store
        self.errors: dict[str, str | Message] = {}
        self.too_large = False

    def parse(self) -> Submission:
        self._unknown_files()
        values = option_values(self.form)
        init_upload = _uploaded(self.files, "init_image")
        if init_upload is not None and not values.get("init"):
            values["init"] = "image"  # a start image implies init=image, as --init-image does
        options = parse_options(values, self.form.get("preset") or "", self.limits.maxima,
                                self.limits.max_iterations, self.errors)
        self.source = self._source_job()
        content = self._content_image()
        paintings = self._paintings()
        init = self._init_image(options, init_upload)
        masks = self._masks(None if isinstance(content, ClipUpload) else content, len(paintings), options)
        if isinstance(content, ClipUpload):
            self._clip_fits(content, options, init_upload, masks)
            content = _Image(b"", content.shape(self.limits.max_size), clip=content)
        if options is not None and paintings:
            try:
                blend_weights(options, len(paintings))
            except OptionError as exc:
                self.errors.setdefault(exc.field, exc.message)
        if options is not None and content is not None and paintings and not self.errors:
            self._check_shapes(options, content, paintings)
        if self.errors:
            raise InvalidSubmission(self.errors, 413 if self.too_large else 400)
        clip = content.clip  # type: ignore[union-attr]
        files = {CLIP_FILE: clip.data, POSTER_FILE: clip.poster} if clip else {"content.png": content.png}  # type: ignore
        files.update({slot: p.image.png for slot, p in zip(STYLE_FILES, paintings) if p.image is not None})
        files.update(zip(MASK_FILES, masks))
        if init is not None:
            files[INIT_FILE] = init.png
        names = [p.name for p in paintings]
        preset = self.form.get("preset") or None  # stored by its own name (an alias is known good here)
        meta = {"style_name": names[0], **reference_meta(names), "preset": preset_name(preset) if preset else None}
        if clip:
            meta["clip"] = clip.info.to_dict()
            meta[CLIP_STRIPPED] = True  # stored without metadata (jobs from before are stripped as served)
        return Submission(options, files, meta)  # type: ignore[arg-type]

    def _unknown_files(self) -> None:
        """A file under a name no input has is refused, as an unknown text field is."""
        for name in self.files:
            if name not in FILE_FIELDS:
                self.errors.setdefault(name[:100], f"unknown file field {name[:100]!r}; files go in "
                                             f"{', '.join(FILE_FIELDS)}")

    def _check_shapes(self, options: Options, content: _Image, paintings: list[_Painting]) -> None:
        """Refuse now what the engine would refuse later: an image too thin at some scale."""
        try:
            check_shapes(options, content.shape, [p.shape for p in paintings], max_size=self.limits.max_size)
            return
        except OptionError as exc:
            error = exc
        # Judged on the shapes as stored (what the engine gets); said with the shapes as sent,
        # unless downscaling's rounding alone made the difference.
        sent = [(p.image.sent if p.image else None) or p.shape for p in paintings]
        try:
            check_shapes(options, content.sent or content.shape, sent, max_size=self.limits.max_size)
        except OptionError as exc:
            error = exc
        self.errors[error.field] = error.message

    def _source_job(self) -> Job | None:
        """'Again with the same settings': a job whose inputs are reused when no new file comes."""
        job_id = self.form.get("source_job") or None
        job = self.store.get(job_id) if job_id else None
        if job_id and job is None:
            self.errors["source_job"] = ("the earlier job is gone (deleted after the retention time); "
                                         "upload the images again")
        return job

    def _content_image(self) -> _Image | ClipUpload | None:
        """The photo, or a clip (a video, an animated GIF or WebP) whose frames are all painted."""
        upload = _uploaded(self.files, "content")
        if upload is not None:
            data = upload.read()
            if wants_clip(data, upload.filename, upload.mimetype):
                return self._clip(data)
            upload.stream.seek(0)
            return self._read(upload, "content", self.limits.max_size, keep_alpha=True)
        if self.source and is_clip(self.source):
            return self._stored_clip(self.source)
        if self.source:
            return self._stored(self.source, "content.png")
        self.errors["content"] = Message(Field("content"), ": choose a photo (JPEG, PNG, WebP, BMP or TIFF)")
        return None

    def _clip(self, data: bytes) -> ClipUpload | None:
        """A clip checked against the clip limits: a refusal is a 400 naming the limit and the value."""
        try:
            return read_clip_upload(data, self.limits.clip)
        except ImageError as exc:
            self.errors["content"] = Message(Field("content"), ": ", exc.message, *clip_setting(exc))
            return None

    def _stored_clip(self, job: Job) -> ClipUpload | None:
        """The clip of an earlier clip job ("again"), checked again (the limits may have changed)."""
        data = self.store.get_file(job.id, CLIP_FILE)
        if data is None:
            self.errors["source_job"] = "the earlier job's clip is gone; choose it again"
            return None
        return self._clip(data)

    def _clip_fits(self, clip: ClipUpload, options: Options | None, init_upload: FileStorage | None,
                   masks: list[bytes]) -> None:
        """What a clip cannot have: masks (painted for one picture), a start image (each frame after
        the first starts from the one before)."""
        if masks or any(upload.filename for upload in self.files.getlist("mask")):
            self.errors["mask"] = Message(Field("mask"), ": masks are for pictures; a clip is painted whole (send it "
                                          "without a mask)")
        if options is not None and options.frame_iterations > self.limits.max_iterations:
            most = Number(self.limits.max_iterations)
            self.errors["frame_iterations"] = Message(
                Field("frame_iterations"), " must be a whole number from 1 to ", most,
                Sent(str(options.frame_iterations)), "; this server allows at most ", most, " a frame",
                Setting("IMPASTO_MAX_ITERATIONS"))
        if init_upload is not None or (options is not None and options.init == "image"):
            self.errors["init_image"] = Message(
                Field("init_image"), ": a clip cannot start from an image (", Choice("init", "image"), "): its first "
                "frame starts from ", Choice("init", "content"), " or ", Choice("init", "noise"), ", each next one "
                "from the frame before; send it without ", Field("init_image"))

    def _stored(self, job: Job, name: str) -> _Image | None:
        data = self.store.get_file(job.id, name)
        return None if data is None else _Image(data, image_shape(data))

    def _paintings(self) -> list[_Painting]:
        """The paintings in blend order: uploads as sent, then built-ins (referenced, not copied)."""
        uploads = [upload for upload in self.files.getlist("style") if upload.filename]
        names = [name for name in self.form.getlist("style_name") if name]
        count = len(uploads) + len(names)
        if count == 0 and self.source:
            return self._source_paintings(self.source)
        if count == 0:
            self.errors["style"] = Message(Field("style"), ": choose a painting or pick one of the built-in styles")
            return []
        if count > MAX_STYLES:
            self.errors["style"] = Message(Field("style"), f": {count} paintings given; at most {MAX_STYLES}")
            return []
        longest = round(self.limits.max_size * STYLE_SCALE_MAX)  # style_scale enlarges the painting
        labels = [Field("style", None if count == 1 else n) for n in range(1, count + 1)]
        paintings = []
        for upload, label in zip(uploads, labels):
            image = self._read(upload, "style", longest, label)
            paintings.append(_Painting(None, image, image.shape if image else (0, 0)))
        for name, label in zip(names, labels[len(uploads):]):
            style = catalog().get(name)
            if style is None:
                self.errors.setdefault("style", Message(label, f": unknown built-in style {name[:100]!r}; "
                                                        f"choose one of {', '.join(catalog())}"))
                continue
            paintings.append(_Painting(name, None, style.shape))
        return paintings

    def _source_paintings(self, job: Job) -> list[_Painting]:
        """All the paintings of the earlier job: built-ins by reference, uploads as stored."""
        paintings = []
        for painting in job_paintings(job):
            style = painting.builtin
            if style is not None:
                paintings.append(_Painting(style.name, None, style.shape))
                continue
            image = self._stored(job, painting.file)
            if image is None:
                self.errors["source_job"] = "the earlier job's paintings are gone; choose a painting again"
                return []
            paintings.append(_Painting(None, image, image.shape))
        return paintings

    def _init_image(self, options: Options | None, upload: FileStorage | None) -> _Image | None:
        """The start image of an init='image' job: uploaded, or the earlier job's."""
        image = self._read(upload, "init_image", self.limits.max_size) if upload is not None else None
        if options is None or "init_image" in self.errors:
            return None
        if options.init != "image":
            if upload is not None:
                self.errors["init_image"] = Message(Field("init_image"), " is only used with ", Choice("init", "image"),
                                                    ", not ", Choice("init", options.init))
            return None
        if image is None and self.source:
            image = self._stored(self.source, INIT_FILE)
        if image is None:
            self.errors["init_image"] = Message(Field("init_image"), ": choose the image to start from (",
                                                Choice("init", "image"), ")")
        return image

    def _masks(self, content: _Image | None, paintings: int, options: Options | None) -> list[bytes]:
        """The ``mask`` uploads (one per painting, in the paintings' order) as grey PNGs the photo's
        size; on "again" with the earlier job's paintings, its masks."""
        uploads = [upload for upload in self.files.getlist("mask") if upload.filename]
        if not uploads:
            return self._source_masks()
        labels = [Field("mask", None if len(uploads) == 1 else n) for n in range(1, len(uploads) + 1)]
        try:
            masks = [load_mask(load_image(upload.read(), max_pixels=self.limits.max_pixels, name=label))
                     for upload, label in zip(uploads, labels)]
        except ImageError as exc:
            self.errors.setdefault("mask", exc.message)
            self.too_large = self.too_large or exc.too_large
            return []
        if content is None or options is None or not paintings:
            return []  # judged once the photo, the options and the paintings are right
        hw = content.shape
        try:
            check_masks(masks, hw, paintings, options.normalization)
        except OptionError as exc:
            self.errors.setdefault("mask", exc.message)
            return []
        return [mask_png(mask, hw) for mask in masks]

    def _source_masks(self) -> list[bytes]:
        """On "again" with the earlier job's paintings (none sent), its masks; else none."""
        new_paintings = any(u.filename for u in self.files.getlist("style")) or any(self.form.getlist("style_name"))
        if self.source is None or new_paintings:
            return []
        return [self.store.get_file(self.source.id, name) for name in mask_files(self.source.files)]  # type: ignore

    def _read(self, upload: FileStorage, field_name: str, longest: int, label: Field | None = None,
              keep_alpha: bool = False) -> _Image | None:
        """The upload as PNG (RGBA for a photo with transparency, where ``keep_alpha``)."""
        try:
            array = load_image(upload.read(), max_pixels=self.limits.max_pixels, name=label or Field(field_name),
                               keep_alpha=keep_alpha)
        except ImageError as exc:
            self.errors.setdefault(field_name, exc.message)
            self.too_large = self.too_large or exc.too_large
            return None
        sent = array.shape[:2]
        if max(sent) > longest:
            array = resize_longest(array, longest)
        return _Image(encode_image(array, "PNG"), array.shape[:2], sent)


def _uploaded(files: MultiDict, name: str) -> FileStorage | None:
    upload = files.get(name)
    # A form with no file chosen sends a part with an empty file name: that is "nothing", not "empty".
    return upload if upload is not None and upload.filename else None
