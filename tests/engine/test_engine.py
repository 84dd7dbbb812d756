"""The engine with untrained weights on tiny images: features, gradient, progress, stop, errors."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from impasto.nst import engine, lossfn, optimizer, program, targets
from impasto.nst import lbfgs as own_lbfgs
from impasto.nst.errors import Cancelled, NumericalError, OptionError, ResourceError
from impasto.nst.images import KeyedImage
from impasto.nst.options import VGG_LAYERS, Options
from impasto.nst.vgg import BGR_MEAN, build_feature_fn, load_weights, rgb_to_caffe
from tests.conftest import gradient_image, stripes_image
from tests.weights import UNTRAINED_WEIGHTS

TINY = Options(size=40, iterations=4, scales=1, precision="float32")


@pytest.fixture(scope="module")
def vgg():
    return load_weights(UNTRAINED_WEIGHTS)


def run(content=None, style=None, **kw):
    options = kw.pop("options", TINY)
    return engine.stylize(gradient_image() if content is None else content,
                          stripes_image() if style is None else style,
                          options=options, weights=UNTRAINED_WEIGHTS, **kw)


def test_truncated_features_equal_keras_vgg16(vgg):
    import keras

    model = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 48, 3))
    for layer, kernel, bias in zip((model.get_layer(n) for n in VGG_LAYERS), vgg.kernels, vgg.biases):
        layer.set_weights([kernel, bias])
    names = ("block1_conv2", "block3_conv1", "block5_conv1")
    probe = keras.Model(model.input, [model.get_layer(n).output for n in names])
    x = rgb_to_caffe(gradient_image(32, 48))
    expected = probe(x)
    ours = build_feature_fn(vgg, names, "float32")(tf.constant(x))
    for name, want in zip(names, expected):
        np.testing.assert_allclose(ours[name].numpy(), np.asarray(want), rtol=1e-4, atol=1e-4)
    assert set(ours) == set(names)  # only the layers asked for, and the net stops at the deepest


@pytest.mark.parametrize("preset,style_loss", [("balanced", "gram"), ("article", "gram"), ("balanced", "wasserstein")])
def test_gradient_matches_finite_differences(vgg, preset, style_loss):
    options = Options.from_mapping({"preset": preset, "size": 32, "scales": 1, "precision": "float32",
                                    "style_loss": style_loss})
    content = gradient_image(24, 32)
    style = targets.compute_style_targets(vgg, [stripes_image(24, 32)], np.ones(1), options, 32, "float32")
    problem = program.Problem(program.Program(vgg, content, style, options, "float32"), content)
    rng = np.random.default_rng(0)
    x = rgb_to_caffe(np.clip(content + rng.normal(0, 20, content.shape), 0, 255)).astype(np.float64).ravel()
    loss, grad, _ = problem.evaluate(x)
    for _ in range(3):  # directional derivatives along random directions
        d = rng.normal(size=x.shape)
        d /= np.linalg.norm(d)
        eps = 0.5
        numeric = (problem.evaluate(x + eps * d)[0] - problem.evaluate(x - eps * d)[0]) / (2 * eps)
        analytic = float(grad @ d)
        assert analytic == pytest.approx(numeric, rel=0.03, abs=1e-6 * abs(loss))


def test_loss_falls_and_progress_is_reported():
    seen = []
    result = run(on_progress=seen.append)
    assert [p.iteration for p in seen] == [0, 1, 2, 3, 4] and all(p.total == 4 for p in seen)
    assert seen[-1].loss < seen[1].loss
    last = seen[-1]
    assert last.loss == pytest.approx(last.content_loss + last.style_loss + last.tv_loss, rel=1e-4)
    assert last.evaluations >= 4 and last.elapsed > 0 and last.eta is not None
    preview = last.image()
    assert preview.shape == result.image.shape == (30, 40, 3) and preview.dtype == np.uint8
    assert result.iterations == 4 and result.evaluations == last.evaluations
    assert result.losses["total"] == pytest.approx(last.loss)


def test_fixed_seed_is_deterministic_and_seed_is_reported():
    noisy = TINY.replace(init="noise", seed=123)
    a, b = run(options=noisy), run(options=noisy)
    np.testing.assert_array_equal(a.image, b.image)
    assert a.options.seed == 123
    c = run(options=noisy.replace(seed=124))
    assert np.abs(c.image.astype(int) - a.image).mean() > 1.0
    picked = run(options=TINY.replace(seed=None))
    assert isinstance(picked.options.seed, int)


def test_cancel_is_honoured_within_one_iteration():
    calls = {"progress": 0, "checks_after_stop": 0}
    stop = {"now": False}

    def on_progress(p):
        calls["progress"] += 1
        if p.iteration == 2:
            stop["now"] = True

    def should_stop():
        if stop["now"]:
            calls["checks_after_stop"] += 1
        return stop["now"]

    with pytest.raises(Cancelled):
        run(options=TINY.replace(iterations=50), on_progress=on_progress, should_stop=should_stop)
    assert calls["progress"] == 3  # the start, iterations 1 and 2: none completed after the stop
    assert calls["checks_after_stop"] == 1


def test_nan_loss_stops_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(engine.losses, "tv_loss", lambda x, n, e, w=None: tf.constant(float("nan")))
    lossfn.clear()  # a loss traced by an earlier test would not see the patch (nor a later one keep it)
    try:
        with pytest.raises(NumericalError, match="the loss became nan"):
            run()
    finally:
        lossfn.clear()


def _pixel_ranges(monkeypatch, options) -> tuple[list[tuple[float, float]], tuple[float, float], list]:
    """Run; return the pixel range of every evaluated image, that of the optimised image before the
    final uint8 conversion, and (bounded?, iterations) of every L-BFGS run (scipy's or our own)."""
    evaluated, final, calls = [], [], []
    evaluate, to_rgb, lbfgs = program.Problem.evaluate, optimizer.caffe_to_rgb, optimizer.fmin_l_bfgs_b
    own_run = own_lbfgs.Lbfgs.run

    def pixel_range(x):
        values = np.asarray(x, np.float64).reshape(-1, 3) + BGR_MEAN
        return values.min(), values.max()

    def spy_evaluate(self, x):
        evaluated.append(pixel_range(x))
        return evaluate(self, x)

    def spy_to_rgb(x):
        final.append(pixel_range(x))
        return to_rgb(x)

    def spy_lbfgs(func, x0, **kw):
        calls.append((kw.get("bounds") is not None, kw.get("maxiter")))
        return lbfgs(func, x0, **kw)

    def spy_own(self, x, iterations, box=None):
        calls.append((box is not None, iterations))
        return own_run(self, x, iterations, box)

    monkeypatch.setattr(program.Problem, "evaluate", spy_evaluate)
    monkeypatch.setattr(optimizer, "caffe_to_rgb", spy_to_rgb)
    monkeypatch.setattr(optimizer, "fmin_l_bfgs_b", spy_lbfgs)
    monkeypatch.setattr(own_lbfgs.Lbfgs, "run", spy_own)
    run(options=options)
    return evaluated, final[-1], calls


STRONG = TINY.replace(style_weight=1e6, content_weight=0.0, iterations=10)


def test_pixel_bounds_keep_every_evaluated_pixel_valid(monkeypatch):
    evaluated, final, calls = _pixel_ranges(monkeypatch, STRONG.replace(pixel_bounds=True))
    assert min(low for low, _ in evaluated) >= -1e-3 and max(high for _, high in evaluated) <= 255 + 1e-3
    assert calls == [(True, 10)]


def test_default_runs_free_then_polishes_within_bounds(monkeypatch):
    """Without pixel_bounds a strong style pushes pixels out in the free phase; the last 20 % of the
    iterations start from the clipped picture, bounded, so the picture delivered needs no clipping."""
    evaluated, final, calls = _pixel_ranges(monkeypatch, STRONG)
    assert calls == [(False, 8), (True, 2)]
    assert min(low for low, _ in evaluated) < -1 or max(high for _, high in evaluated) > 256
    assert final[0] >= -1e-3 and final[1] <= 255 + 1e-3


def test_memory_check_refuses_before_any_work():
    # Larger than the memory is painted in tiles (tests/engine/test_tiles.py); below what even the
    # smallest tile needs beside the whole picture, it is refused.
    with pytest.raises(ResourceError, match=r"a 2048×1536 result needs at least .* GB of memory even in 128-px "
                                            r"tiles and 0.9 GB is available"):
        run(options=TINY.replace(size=2048), memory_gb=0.9)


def test_init_image_and_blend_errors():
    with pytest.raises(OptionError, match="no init image"):
        run(options=TINY.replace(init="image"))
    with pytest.raises(OptionError, match="2 weights for 1 style"):
        run(options=TINY.replace(style_blend=(0.5, 0.5)))
    start = np.full((30, 40, 3), 90, np.uint8)
    result = run(options=TINY.replace(init="image", iterations=1, style_weight=0, content_weight=0, tv_weight=0),
                 init_image=start)
    assert np.abs(result.image.astype(int) - 90).max() <= 1  # zero loss: the start image is kept


def test_blend_one_zero_equals_single_style_targets(vgg):
    gram = TINY.replace(style_loss="gram")
    other = gradient_image(seed=5)[:, ::-1]
    single = targets.compute_style_targets(vgg, [stripes_image()], np.array([1.0]), gram, 40, "float32")
    blended = targets.compute_style_targets(vgg, [stripes_image(), other], np.array([1.0, 0.0]), gram, 40, "float32")
    half = targets.compute_style_targets(vgg, [stripes_image(), other], np.array([0.5, 0.5]), gram, 40, "float32")
    for name in gram.style_layers:
        np.testing.assert_allclose(blended.grams[name], single.grams[name], rtol=1e-6)
        assert not np.allclose(half.grams[name], single.grams[name])


def test_wasserstein_targets_blend_moments(vgg):
    """Blended Gaussians: means mix linearly, and so do second moments (cov + mean·meanᵀ)."""
    options = TINY.replace(style_loss="wasserstein")
    other = gradient_image(seed=5)[:, ::-1]
    one, two = (targets.compute_style_targets(vgg, [s], np.ones(1), options, 40, "float32").gaussians
                for s in (stripes_image(), other))
    half = targets.compute_style_targets(vgg, [stripes_image(), other], np.array([0.5, 0.5]), options, 40,
                                         "float32").gaussians
    for name in options.style_layers:
        np.testing.assert_allclose(half[name].mean, (one[name].mean + two[name].mean) / 2, rtol=1e-4, atol=1e-4)
        second = [g.cov.astype(np.float64) + np.outer(g.mean, g.mean) for g in (one[name], two[name], half[name])]
        # (each cov carries the same COV_EPS·I, which the average keeps)
        np.testing.assert_allclose(second[2], (second[0] + second[1]) / 2, rtol=1e-3, atol=1e-2)


def test_style_targets_are_cached(vgg):
    targets.clear_cache()
    first = targets.compute_style_targets(vgg, [stripes_image()], np.ones(1), TINY, 40, "float32")
    again = targets.compute_style_targets(vgg, [stripes_image()], np.ones(1), TINY, 40, "float32")
    bigger = targets.compute_style_targets(vgg, [stripes_image()], np.ones(1), TINY.replace(style_scale=2.0), 40,
                                           "float32")
    assert again is first and bigger is not first and targets.cache_size() == 2
    assert bigger.style_sizes[0] == (60, 80)  # style scale 2: the painting at twice the result's size


def test_named_styles_are_cached_by_their_key(vgg):
    """A built-in painting comes with its name and file hash as key: the cache trusts the key and
    never hashes its pixels (a changed file has another hash, so another key)."""
    targets.clear_cache()
    first = targets.compute_style_targets(vgg, [stripes_image()], np.ones(1), TINY, 40, "float32", keys=["builtin:a:1"])
    other_pixels = targets.compute_style_targets(vgg, [stripes_image(period=3)], np.ones(1), TINY, 40, "float32",
                                                 keys=["builtin:a:1"])
    new_hash = targets.compute_style_targets(vgg, [stripes_image()], np.ones(1), TINY, 40, "float32",
                                             keys=["builtin:a:2"])
    assert other_pixels is first and new_hash is not first and targets.cache_size() == 2
    result = run(style=KeyedImage(stripes_image(), "builtin:a:1"))  # the engine passes the key on
    assert result.image.shape == (30, 40, 3) and targets.cache_size() == 2


def test_seed_preset_stretches_the_painting_to_the_photo_as_the_article_does(vgg):
    seed = Options.from_mapping({"preset": "seed", "size": 64})
    wide_painting = stripes_image(20, 80)
    stretched = targets.compute_style_targets(vgg, [wide_painting], np.ones(1), seed, 64, "float32", (48, 64))
    kept = targets.compute_style_targets(vgg, [wide_painting], np.ones(1), TINY.replace(style_scale=1.0), 64,
                                         "float32", (48, 64))
    assert stretched.style_sizes[0] == (48, 64) and kept.style_sizes[0] == (16, 64)
    bigger = targets.compute_style_targets(vgg, [wide_painting], np.ones(1), TINY.replace(style_scale=1.5), 64,
                                           "float32", (48, 64))
    assert bigger.style_sizes[0] == (24, 96)  # the painting at 1.5× the result's size


def test_images_too_small_for_the_network_are_refused_clearly():
    # The default stops at block4 (three poolings): 8 px a side at least
    with pytest.raises(OptionError, match=r"the photo \(48×6 px\) becomes 40×5 px; the network needs at least "
                                          r"8 px on each side"):
        run(content=gradient_image(6, 48))
    with pytest.raises(OptionError, match=r"the painting \(40×4 px\) becomes 60×6 px"):
        run(style=stripes_image(4, 40), options=TINY.replace(style_scale=1.5))
    with pytest.raises(OptionError, match=r"the photo \(48×12 px\) becomes 40×10 px; the network needs at least "
                                          r"16 px on each side: choose a size of at least 62"):
        run(content=gradient_image(12, 48), options=TINY.replace(style_layers=("block5_conv1",)))


def test_coarse_to_fine_runs_every_scale():
    seen = []
    result = run(options=TINY.replace(size=64, scales=2, iterations=6), on_progress=seen.append)
    assert {(p.scale, p.width) for p in seen} == {(1, 32), (2, 64)}
    assert seen[-1].iteration == seen[-1].total == 6 and result.image.shape == (48, 64, 3)


def test_article_rounds_count_progress_by_round():
    seen = []
    run(options=TINY.replace(iterations=2, round_evals=3), on_progress=seen.append)
    assert seen[-1].total == 6
    assert [p.iteration for p in seen] == sorted(p.iteration for p in seen)
    assert seen[-1].iteration <= 6


def test_the_default_layers_deeper_weights_reach_the_loss() -> None:
    from impasto.nst.engine import objective

    content, style = gradient_image(30, 40), stripes_image()  # 40 px: TINY's size, so scored as it is
    start = gradient_image(30, 40, seed=1)
    score = {name: objective(content, style, options=TINY.replace(style_layer_weights=weights),
                             weights=UNTRAINED_WEIGHTS)(start)
             for name, weights in {"default": (), "depth": (1.0, 1.0, 2.0, 3.0), "even": (1.0,) * 4}.items()}
    assert score["default"] == pytest.approx(score["depth"], rel=1e-6)
    assert abs(score["default"] - score["even"]) > 1e-3 * score["even"]


@pytest.mark.parametrize("style_loss", ["wasserstein", "gram"])
def test_a_kept_program_aimed_at_another_painting_paints_what_a_new_one_does(monkeypatch, style_loss):
    """A warm runner's next job with another painting reuses the traced program of its shape."""
    options = TINY.replace(style_loss=style_loss, seed=3)
    other = 255 - stripes_image()
    lossfn.clear()
    run(options=options)  # keeps a program aimed at the stripes
    built = []
    original = program.Program
    monkeypatch.setattr(program, "Program", lambda *args, **kw: built.append(1) or original(*args, **kw))
    reused = run(style=other, options=options)
    assert built == []  # re-aimed, not traced again
    lossfn.clear()
    fresh = run(style=other, options=options)
    assert built == [1]
    np.testing.assert_array_equal(reused.image, fresh.image)
    assert reused.losses == fresh.losses


def test_the_start_is_shown_before_any_evaluation():
    """A first glimpse: the photo in the painting's colours, reported as iteration 0 before the
    first evaluation; a start that is the photo itself or noise is not shown."""
    from impasto.nst import recolour

    seen = []
    content, style = gradient_image(), stripes_image()
    run(content, style, options=TINY.replace(size=64, scales=2), on_progress=seen.append)
    first = seen[0]
    assert (first.iteration, first.evaluations, first.scale, first.scales) == (0, 0, 1, 2)
    assert np.isnan(first.loss) and first.eta is None and seen[1].evaluations >= 1
    small = engine.resize_longest(content, 32)
    np.testing.assert_array_equal(first.image(), recolour.painted_start(small, [style], np.ones(1), (), 1.0))
    assert [p.iteration for p in seen[1:]] == list(range(1, 5))
    for plain in (TINY.replace(start_palette=0.0), TINY.replace(init="noise")):
        shown = []
        run(content, style, options=plain, on_progress=shown.append)
        assert shown[0].iteration == 1


def test_the_scale_before_is_collected_only_when_the_memory_is_short(monkeypatch):
    from impasto.nst import hardware

    lossfn.clear()  # no kept program to make room for (its eviction collects too)
    collected = []
    monkeypatch.setattr(engine.gc, "collect", lambda *args: collected.append(1) or 0)
    options = Options(size=64, iterations=2, scales=2, seed=0)  # 32 px, then 64 px (48×64)
    both = hardware.estimate_peak_bytes(24, 32) + hardware.estimate_peak_bytes(48, 64)
    ample = both / 0.85 * 1.01 / 1e9  # GB: the two scales' estimated peaks fit together
    engine.stylize(gradient_image(), stripes_image(), options=options, weights=UNTRAINED_WEIGHTS, memory_gb=ample)
    assert collected == []  # 0.12 s saved between the scales
    short = both / 0.85 * 0.99 / 1e9  # each fits whole, both at once do not
    engine.stylize(gradient_image(), stripes_image(), options=options, weights=UNTRAINED_WEIGHTS, memory_gb=short)
    assert collected == [1]
