"""The video method with untrained weights (the temporal term, resume, cancel), the CLI on a tiny
clip, and with the real weights the flicker target on a short pan."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from impasto.cli import main
from impasto.nst import engine, flow, losses, program, targets, video
from impasto.nst.clips import ClipLimits, read_clip
from impasto.nst.errors import Cancelled
from impasto.nst.options import Options
from impasto.nst.vgg import load_weights, rgb_to_caffe
from impasto.nst.video import frame_options, stylize_clip
from tests.conftest import ROOT, stripes_image
from tests.engine.clip_helpers import encode, pan_frames
from tests.weights import UNTRAINED_WEIGHTS

TINY = Options(size=48, iterations=4, frame_iterations=2, scales=1, precision="float32", seed=3)
LIMITS = ClipLimits(max_frames=50, max_seconds=10.0, max_side=512)


def tiny_clip(frames: int = 3):
    return read_clip(encode(pan_frames(frames, 48, 64), fps=8), LIMITS)


def test_temporal_loss_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 50, (1, 6, 7, 3)).astype(np.float32)
    target = rng.normal(0, 50, (1, 6, 7, 3)).astype(np.float32)
    mask = (rng.uniform(size=(6, 7)) > 0.4).astype(np.float32)
    expected = np.sum(mask[None, :, :, None] * (x - target) ** 2) / (6 * 7 * 3)  # Ruder et al. eq. 7, D = H·W·C
    term = losses.TemporalLoss((6, 7))
    term.set(target, mask)
    assert float(term(tf.constant(x))) == pytest.approx(expected, rel=1e-5)
    term.set(target, np.zeros((6, 7)))
    assert float(term(tf.constant(x))) == 0.0


def test_temporal_gradient_matches_finite_differences():
    vgg = load_weights(UNTRAINED_WEIGHTS)
    options = TINY.replace(size=32, temporal_weight=50.0)
    content = pan_frames(1, 24, 32)[0]
    style = targets.compute_style_targets(vgg, [stripes_image(24, 32)], np.ones(1), options, 32, "float32")
    rng = np.random.default_rng(1)
    held = losses.TemporalTarget(np.clip(content + rng.normal(0, 30, content.shape), 0, 255).astype(np.float32),
                                 (rng.uniform(size=(24, 32)) > 0.3).astype(np.float32))
    problem = program.Problem(program.Program(vgg, content, style, options, "float32", temporal=held), content)
    plain = program.Problem(program.Program(vgg, content, style, options, "float32"), content)
    x = rgb_to_caffe(np.clip(content + rng.normal(0, 20, content.shape), 0, 255)).astype(np.float64).ravel()
    loss, grad, terms = problem.evaluate(x)
    # the temporal term is the only difference from the same problem without it
    difference = x.reshape(1, 24, 32, 3) - rgb_to_caffe(held.warped_rgb)
    expected = 50.0 * np.mean(held.mask[None, :, :, None] * difference ** 2)
    assert terms[3] == pytest.approx(expected, rel=1e-4)
    assert loss - plain.evaluate(x)[0] == pytest.approx(expected, rel=1e-3)
    for _ in range(3):
        d = rng.normal(size=x.shape)
        d /= np.linalg.norm(d)
        numeric = (problem.evaluate(x + 0.5 * d)[0] - problem.evaluate(x - 0.5 * d)[0]) / 1.0
        assert float(grad @ d) == pytest.approx(numeric, rel=0.03, abs=1e-6 * abs(loss))


def test_a_clip_is_painted_frame_by_frame_from_the_warped_result(monkeypatch):
    calls = []
    real = engine.stylize

    def spy(content, style, **kw):
        calls.append(kw)
        return real(content, style, **kw)
    monkeypatch.setattr("impasto.nst.video.stylize", spy)
    seen, done = [], []
    options = TINY.replace(new_ground="photo")  # as Ruder et al.: the new edge from the photo, unheld
    result = stylize_clip(tiny_clip(3), stripes_image(), options=options, weights=UNTRAINED_WEIGHTS,
                          on_progress=seen.append, on_frame=lambda i, rgb: done.append((i, rgb.shape)))
    assert done == [(0, (36, 48, 3)), (1, (36, 48, 3)), (2, (36, 48, 3))]
    assert len(result.frames) == 3 and result.fps == pytest.approx(8.0)
    assert calls[0].get("temporal") is None and calls[0]["options"].iterations == 4
    for later in calls[1:]:
        assert later["options"] == frame_options(options) and later["options"].iterations == 2
        held, start = later["temporal"], later["init_image"]
        assert held.mask.shape == (36, 48) and start.shape == (36, 48, 3)
        trusted = held.mask == 1
        np.testing.assert_allclose(start[trusted], held.warped_rgb[trusted])  # the warped result where trusted
    assert (calls[1]["temporal"].mask[:, -2:] == 0).all()  # the pan's new edge starts from the photo
    assert {p.frame for p in seen} == {1, 2, 3} and all(p.frames == 3 for p in seen)
    assert all(p.progress.temporal_loss > 0 for p in seen if p.frame > 1)
    summary = result.summary()
    assert summary["frames"] == 3 and summary["first_frame_seconds"] > 0 and summary["following_frame_seconds"] > 0
    assert [set(x) for x in result.losses[1:]] == [{"total", "content", "style", "tv", "temporal"}] * 2


def test_new_ground_is_painted_first_as_a_picture_and_held_there(monkeypatch):
    calls = []
    real = engine.stylize
    monkeypatch.setattr("impasto.nst.video.stylize", lambda c, s, **kw: calls.append((c, kw)) or real(c, s, **kw))
    clip = read_clip(encode(pan_frames(3, 48, 64, step=4), fps=8), LIMITS)
    result = stylize_clip(clip, stripes_image(), options=TINY, weights=UNTRAINED_WEIGHTS)
    assert [c.shape for c, _ in calls] == [(36, 48, 3), (36, 16, 3), (36, 48, 3), (36, 16, 3), (36, 48, 3)]
    # where a frame's seconds went: the first frame is a picture; a later one adds flow and the crop's painting
    phases = result.summary()["phases"]
    assert "flow" not in phases["first frame"] and phases["first frame"]["frame evaluations"] > 0
    assert {"flow", "new ground evaluations", "new ground optimizer", "frame evaluations"} <= set(phases["later frame"])
    assert sum(phases["later frame"].values()) <= max(result.frame_seconds[1:])
    crop, picture = calls[1]
    # the crop around the pan's new edge, painted with the frame's iterations, held to the
    # warped frame where that is reliable, the painting as large as in the whole frame (style_scale × 48 / 36)
    assert picture["options"].iterations == TINY.frame_iterations and picture["options"].size == 36
    assert picture["options"].style_scale == pytest.approx(TINY.style_scale * 48 / 36)
    assert picture["temporal"].mask.shape == (36, 16) and (picture["temporal"].mask[4:-4, -3:] == 0).all()
    assert picture["temporal"].mask[4:-4, :8].min() == 1  # the context is held
    np.testing.assert_allclose(picture["init_image"][:, -3:], crop[:, -3:].astype(np.float32))  # new: the photo
    frame, later = calls[2]
    held, start = later["temporal"], later["init_image"]
    assert (held.mask[4:-4, -3:] == 1).all()  # the new edge is held too: to its painting
    assert np.abs(held.warped_rgb[:, -3:] - frame[:, -3:]).mean() > 1.0  # which is not the photo
    np.testing.assert_allclose(start, held.warped_rgb)
    assert later["options"].iterations == TINY.frame_iterations


def test_no_new_ground_paints_nothing_apart(monkeypatch):
    frames = pan_frames(2, 48, 64, step=0)
    reliable = np.ones((48, 64), np.float32)
    reliable[10, 10] = 0  # a speck of flow noise
    held = losses.TemporalTarget(frames[0].astype(np.float32), reliable)
    assert video.paint_new_ground(frames[1], held.warped_rgb, held, stripes_image(), TINY,
                                  {"weights": UNTRAINED_WEIGHTS}) is None


def test_small_new_ground_takes_its_neighbours_paint_without_a_crop(monkeypatch):
    calls = []
    monkeypatch.setattr("impasto.nst.video.stylize", lambda *a, **kw: calls.append(kw))
    frames = pan_frames(2, 48, 64, step=0)
    warped = np.full((48, 64, 3), (200.0, 50.0, 50.0), np.float32)
    reliable = np.ones((48, 64), np.float32)
    reliable[20:25, 30:35] = 0  # 25 px, 0.8 % of the frame: what the flow could not follow
    warped[20:25, 30:35] = 0.0  # a smear where it failed
    held = losses.TemporalTarget(warped, reliable)
    fresh, where = video.paint_new_ground(frames[1], warped, held, stripes_image(), TINY, {})
    assert calls == []  # no crop painted apart
    assert where.sum() == 25 and np.all(where[20:25, 30:35] == 1)
    assert np.abs(fresh[20:25, 30:35] - (200, 50, 50)).max() <= 2  # the paint around it, not the smear


def test_temporal_weight_zero_paints_every_frame_on_its_own(monkeypatch):
    calls = []
    real = engine.stylize
    monkeypatch.setattr("impasto.nst.video.stylize", lambda c, s, **kw: calls.append(kw) or real(c, s, **kw))
    stylize_clip(tiny_clip(3), stripes_image(), options=TINY.replace(temporal_weight=0.0), weights=UNTRAINED_WEIGHTS)
    assert all(kw.get("temporal") is None and kw["options"].iterations == 4 for kw in calls)


def test_resume_skips_finished_frames_and_starts_from_the_last():
    clip = tiny_clip(4)
    first = stylize_clip(clip, stripes_image(), options=TINY, weights=UNTRAINED_WEIGHTS)
    painted = []
    finished = {0: first.frames[0], 1: first.frames[1], 3: first.frames[3]}  # 3 is not after an unbroken run
    resumed = stylize_clip(clip, stripes_image(), options=TINY, weights=UNTRAINED_WEIGHTS, finished=finished,
                           on_frame=lambda i, rgb: painted.append(i))
    assert painted == [2, 3]
    assert resumed.resumed == 2 and len(resumed.frame_seconds) == 2
    np.testing.assert_array_equal(resumed.frames[1], first.frames[1])
    np.testing.assert_array_equal(resumed.frames[2], first.frames[2])  # same start, same deterministic run
    assert resumed.summary()["first_frame_seconds"] is None


def test_cancel_stops_within_a_frame_and_keeps_the_finished_ones():
    painted, checks_since = [], []

    def stop() -> bool:  # a few stop checks into frame 2
        if painted:
            checks_since.append(1)
        return len(checks_since) > 3

    with pytest.raises(Cancelled):
        stylize_clip(tiny_clip(3), stripes_image(), options=TINY, weights=UNTRAINED_WEIGHTS, should_stop=stop,
                     on_frame=lambda i, rgb: painted.append(i))
    assert painted == [0]  # frame 2 was stopped during its optimisation; frame 3 never began


# -- the command line -----------------------------------------------------------------------------


def _impasto(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "impasto.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def clip_files(tmp_path: Path) -> tuple[Path, Path]:
    clip, style = tmp_path / "pan.mp4", tmp_path / "painting.png"
    clip.write_bytes(encode(pan_frames(3, 48, 64), fps=6))
    Image.fromarray(stripes_image(48, 64)).save(style)
    return clip, style


def test_cli_paints_a_clip_to_mp4_and_gif(clip_files, tmp_path):
    clip, style = clip_files
    for name in ("out.mp4", "out.gif"):
        out = tmp_path / name
        done = _impasto("transfer", str(clip), str(style), "-o", str(out), "--size", "48", "--iterations", "3",
                        "--frame-iterations", "2", "--seed", "1", "--json", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["frames"] == 3 and summary["fps"] == 6 and summary["input"]["container"] == "mp4"
        assert "frame 3/3" in done.stderr and "iteration 2/2" in done.stderr and "ETA" in done.stderr
        assert f"wrote {out} (3 frames at 6 fps" in done.stderr
        back = read_clip(out.read_bytes(), LIMITS)
        assert back.info.frames == 3 and back.fps == pytest.approx(6.0, rel=0.02)
        assert (back.info.width, back.info.height) == (48, 36)


def _bad(capsys, *args) -> str:
    code = main(["transfer", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_cli_bad_clips_exit_2_with_one_line(clip_files, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("IMPASTO_VGG_WEIGHTS", UNTRAINED_WEIGHTS)
    clip, style = clip_files
    out = str(tmp_path / "o.mp4")
    assert "the clip has more than 2 frames; at most 2" in _bad(capsys, str(clip), str(style), "-o", out,
                                                                  "--max-frames", "2")
    assert "the clip is 0.5 s long; at most 0.2 s" in _bad(capsys, str(clip), str(style), "-o", out,
                                                           "--max-seconds", "0.2")
    assert "at most 32 px" in _bad(capsys, str(clip), str(style), "-o", out, "--max-side", "32")
    corrupt = tmp_path / "broken.mp4"
    corrupt.write_bytes(clip.read_bytes()[:40] + b"\x00" * 64)
    assert "corrupt or truncated" in _bad(capsys, str(corrupt), str(style), "-o", out)
    silent = tmp_path / "sound.mp4"
    silent.write_bytes(encode([], audio_seconds=0.3))
    assert "no frames" in _bad(capsys, str(silent), str(style), "-o", out)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert "the clip is not a video" in _bad(capsys, str(text), str(style), "-o", out)
    assert "a clip is written as .mp4, .webm or .gif" in _bad(capsys, str(clip), str(style), "-o",
                                                                str(tmp_path / "o.png"))
    assert "--max-frames must be above 0" in _bad(capsys, str(clip), str(style), "-o", out, "--max-frames", "0")
    assert not list(tmp_path.glob("o.*"))


# -- the flicker target with the real weights -------------------------------------------------------


def test_the_temporal_term_halves_the_flicker_of_a_pan(real_weights, samples):
    photo = np.asarray(Image.open(samples / "tubingen.jpg").convert("RGB").resize((100, 75)))
    frames = [np.ascontiguousarray(photo[:60, 3 * i:3 * i + 80]) for i in range(3)]  # small and short: CPU time
    style = np.asarray(Image.open(samples / "starry_night.jpg").convert("RGB").resize((100, 79)))
    clip = read_clip(encode(frames, fps=8), LIMITS)
    options = Options(size=80, iterations=30, seed=0)
    steady = stylize_clip(clip, style, options=options, weights=real_weights)
    independent = stylize_clip(clip, style, options=options.replace(temporal_weight=0.0), weights=real_weights)
    ours, theirs = flow.flicker(clip.frames, steady.frames), flow.flicker(clip.frames, independent.frames)
    assert ours <= 0.5 * theirs, (ours, theirs)
    style_ours = np.mean([x["style"] for x in steady.losses[1:]])
    style_theirs = np.mean([x["style"] for x in independent.losses[1:]])
    assert style_ours <= 1.5 * style_theirs  # about as much style as a picture painted on its own
