"""The studio page, rendered: for its own view, and again with the messages after a refused
submission (the error handlers and the rate limit call it too, so it lives below them all)."""

from __future__ import annotations

from typing import Any, Mapping

from flask import current_app, g, render_template, request
from werkzeug.datastructures import MultiDict

from impasto.jobs.store import INIT_FILE, Job, is_clip
from impasto.message import Message
from impasto.nst.errors import OptionError
from impasto.nst.options import Options
from impasto.nst.presets import PRESET_ALIASES
from impasto.styles import catalog
from impasto.text import duration, parse_yes_no
from impasto.web import service, services
from impasto.web.estimate import estimate_line
from impasto.web.form import CLIP_SECTION, FORM_FIELDS, form_sections, hidden_extras, preset_table
from impasto.web.labels import plain_errors
from impasto.web.option_fields import option_values
from impasto.web.submission import Limits
from impasto.web.variant_plan import MAX_VARIANTS, VARIANT_FIELDS, VARY_CHOICES
from impasto.web.views import paintings, queue_entry, queue_for, server_speed

# What a view returns when it renders a page: (html, status, headers).
Page = tuple[str, int, dict[str, str]]


def render_refused(errors: Mapping[str, str | Message], status: int, headers: Mapping[str, str] | None = None) -> Page:
    """The studio form posted without JavaScript, again, with what was typed and the messages."""
    form = studio_form(request.form, request.files)
    return render_studio(_typed(form), errors=errors, status=status, form=form, headers=headers)


def studio_form(form: MultiDict, files: MultiDict) -> MultiDict:
    """The studio form as the service should read it.

    Without JavaScript the first painting slot sends both its file and its checked built-in
    (the page comes with one checked), so an uploaded painting would be blended with it. The slot
    holds one painting: an upload replaces the pick, unless a style_blend says the person meant both."""
    uploaded = any(upload.filename for upload in files.getlist("style"))
    if not uploaded or not form.getlist("style_name") or (form.get("style_blend") or "").strip():
        return form
    form = form.copy()
    form.poplist("style_name")
    return form


def _typed(form: Mapping[str, Any]) -> dict[str, Any]:
    """What the person typed, to show again after an error (as text; the template prints it)."""
    values = option_values(form)  # type: ignore[arg-type]
    if "preserve_colors" in values:
        try:
            values["preserve_colors"] = parse_yes_no(values["preserve_colors"])
        except ValueError:
            values["preserve_colors"] = False  # the error message says what was wrong with it
    return values


def render_studio(values: dict[str, Any], *, errors: Mapping[str, str | Message] | None = None, status: int = 200,
                  source: Job | None = None, form: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None) -> Page:
    config = current_app.config
    limits = Limits.from_config(config)
    form = form or {}
    if source is None and form.get("source_job"):
        source = services().store.get(form["source_job"])
    preset = (source.meta.get("preset") if source and not form else None) or form.get("preset") or ""
    preset = PRESET_ALIASES.get(preset, preset)  # the button of a job from before the rename
    blend = values.get("style_blend", "")
    html = render_template(
        "studio.html",
        sections=form_sections(values, limits), presets=preset_table(), preset=preset,
        extras=hidden_extras(source.options, preset) if source else {},
        styles=list(catalog().values()), slots=_painting_slots(source, form), source_id=source.id if source else None,
        style_blend=",".join(map(str, blend)) if isinstance(blend, (list, tuple)) else blend,
        blend_percent=_second_share(blend),
        source_init=source is not None and INIT_FILE in source.files,
        source_clip=source.meta.get("clip") if source is not None and is_clip(source) else None,
        max_clip_frames=config["IMPASTO_MAX_CLIP_FRAMES"], max_clip_seconds=config["IMPASTO_MAX_CLIP_SECONDS"],
        errors=(plain := plain_errors(errors or {})), other_errors=_unplaced(plain),
        clip_section=CLIP_SECTION, advanced_open=any(name in plain for names in FORM_FIELDS.values() for name in names)
        or any(name in plain for name in VARIANT_FIELDS),
        variant=_variant_values(form), max_variants=MAX_VARIANTS, vary_choices=VARY_CHOICES,
        estimate=_estimate(values, preset),
        max_upload_bytes=int(config["IMPASTO_MAX_UPLOAD_MB"] * 1024 * 1024),
        max_upload_mb=config["IMPASTO_MAX_UPLOAD_MB"], max_pixels=config["IMPASTO_MAX_PIXELS"],
        queue=_queue(),
    )
    return html, status, dict(headers or {})


def _variant_values(form: Mapping[str, Any]) -> dict[str, str]:
    """The variant fields as typed (shown again after an error); 1 variant (off) by default."""
    # the style weight by default: from the photo (the default start) every seed paints one picture
    return {"variants": form.get("variants") or "1", "vary": form.get("vary") or "style_weight",
            "variant_values": form.get("variant_values") or ""}


def _queue() -> list[dict[str, Any]]:
    """This browser's jobs waiting and running, as the page's queue shows them (its script keeps
    them current from GET /api/queue)."""
    store = services().store
    return [queue_entry(job, store) for job in service.queue_of(store, g.get("owner"))]


# Fields whose errors the page shows beside their input (and the form-wide box).
PLACED_ERRORS = {"form", "source_job", "preset", "content", "style", "style_2", "style_blend", "init_image",
                 *VARIANT_FIELDS,
                 *(name for names in FORM_FIELDS.values() for name in names)}


def _unplaced(errors: Mapping[str, str]) -> list[str]:
    """Errors of fields that have no place on the page (options only the API or a preset sets,
    unknown fields): shown in the form-wide box, so that no error goes unseen."""
    return [message for name, message in errors.items() if name not in PLACED_ERRORS]


def _estimate(values: Mapping[str, Any], preset: str) -> dict[str, Any] | None:
    """The run time and queue wait the page shows under its button (its script keeps it current)."""
    try:
        options = Options.from_mapping({**values, "preset": preset or None})
    except (OptionError, TypeError, ValueError):
        return None
    speed = server_speed()
    queue = queue_for(speed)
    return {"line": estimate_line(duration(speed.seconds(options)), speed.jobs, queue.jobs_ahead,
                                  duration(queue.wait_seconds), warm=speed.warm is not None)}


def _painting_slots(source: Job | None, form: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What the page's painting slots show, in order (the page has two; the second may be empty).

    Each slot: ``name`` (a built-in picked on the page) or ``earlier`` (the URL of a painting of
    the earlier job, reused unless the person changes a painting) with ``earlier_name`` (its
    built-in name, if it was one) and ``credit``."""
    names = form.getlist("style_name") if hasattr(form, "getlist") else []
    if names or (form and source is None):  # the person's own picks, shown again after an error
        return [{"name": name} for name in names[:2]] or [{}]
    if source is None:
        return [{"name": next(iter(catalog()))}]  # a painting ready to go: the photo is the only must
    return [{"earlier": p["url"], "earlier_name": p["name"] or "", "credit": p["credit"]}
            for p in paintings(source)]


def _second_share(blend: Any) -> int:
    """The blend slider's position: the second painting's share in %, from a style_blend value."""
    try:
        weights = [float(w) for w in (blend.split(",") if isinstance(blend, str) else blend) if str(w).strip()]
    except ValueError:
        return 50
    if len(weights) != 2 or sum(weights) <= 0:
        return 50
    return round(100 * weights[1] / sum(weights))
