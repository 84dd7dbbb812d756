"""The single source of options: defaults, presets, validation messages."""

from __future__ import annotations

import typing

import pytest

from impasto.nst.errors import OptionError
from impasto.nst.options import DEFAULTS, Options, option_specs
from impasto.nst.presets import PRESETS


def test_defaults_are_valid_and_documented():
    DEFAULTS.validate()
    specs = option_specs()
    assert set(specs) == set(DEFAULTS.to_dict())
    assert all(spec.help and spec.label for _, spec in specs.values())


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_valid(name):
    Options.from_mapping({"preset": name}).validate()


def test_article_preset_is_the_design_article():
    seed = Options.from_mapping({"preset": "article"})
    assert (seed.content_weight, seed.style_weight, seed.tv_weight) == (0.05, 4.0, 1.0)
    assert seed.content_layers == ("block2_conv2",)
    assert seed.style_layers == ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3")
    assert (seed.normalization, seed.tv_exponent, seed.init) == ("blog", 1.25, "noise")
    assert (seed.iterations, seed.round_evals, seed.scales) == (10, 20, 1)
    assert (seed.style_loss, seed.style_layer_weights) == ("gram", ())  # whatever the default's style loss
    assert (seed.style_fit, seed.style_scale) == ("content", 1.0)  # whatever the default's painting scale
    assert seed.flat_smoothing == 0.0  # the article's TV is the same everywhere, whatever the default's


def test_presets_differ_where_a_person_sees_it():
    # strong-style: more style, less photo; keep-detail: less style, more photo, finer strokes, less smoothing.
    balanced, strong, detail = (Options.from_mapping({"preset": n}) for n in ("balanced", "strong-style",
                                                                                "keep-detail"))
    assert strong.style_weight / strong.content_weight > 5 * balanced.style_weight / balanced.content_weight
    assert detail.style_weight / detail.content_weight < balanced.style_weight / balanced.content_weight / 3
    assert detail.style_scale < balanced.style_scale < strong.style_scale and detail.tv_weight < balanced.tv_weight


def test_strings_from_forms_are_converted():
    opts = Options.from_mapping({"size": "256", "style_weight": "1e3", "preserve_colors": "on",
                                 "style_layers": "block1_conv1, block3_conv1", "seed": "", "style_blend": "0.7,0.3"})
    assert opts.size == 256 and opts.style_weight == 1000.0 and opts.preserve_colors is True
    assert opts.style_layers == ("block1_conv1", "block3_conv1") and opts.seed is None
    assert opts.style_blend == (0.7, 0.3)


def test_explicit_values_override_a_preset():
    opts = Options.from_mapping({"preset": "seed", "iterations": "3"})
    assert opts.iterations == 3 and opts.normalization == "blog"


@pytest.mark.parametrize("values,field,fragment", [
    ({"size": "9"}, "size", "from 32 to 8192, got 9"),
    ({"size": "big"}, "size", "must be a whole number"),
    ({"size": "12.5"}, "size", "whole number"),
    ({"style_weight": "-1"}, "style_weight", "from 0 to 1e+06"),
    ({"content_weight": "nan"}, "content_weight", "must be a number"),
    ({"init": "zeros"}, "init", "one of content, noise, image"),
    ({"style_layers": "block9_conv1"}, "style_layers", "block9_conv1"),
    ({"style_layers": ""}, "style_layers", "at least one"),
    ({"preserve_colors": "maybe"}, "preserve_colors", "true or false"),
    ({"colour": "red"}, "colour", "unknown option"),
    ({"preset": "nope"}, "preset", "unknown preset"),
    ({"style_blend": "1,1,1,1,1"}, "style_blend", "at most 4"),
    ({"style_layer_weights": "1,2"}, "style_layer_weights", "2 weights for 4 style layers"),
    ({"style_layer_weights": "0,0,0,0"}, "style_layer_weights", "must not all be 0"),
    ({"style_loss": "histogram"}, "style_loss", "one of gram, wasserstein"),
    ({"style_loss": "wasserstein", "normalization": "blog"}, "style_loss", "needs normalization 'gatys'"),
])
def test_bad_values_name_the_field_and_the_range(values, field, fragment):
    with pytest.raises(OptionError) as info:
        Options.from_mapping(values)
    assert info.value.field == field
    assert fragment in str(info.value)


def test_scales_and_iteration_split():
    assert Options(size=256).scale_sizes() == [256]
    assert Options(size=383).scale_sizes() == [383]
    assert Options(size=512).scale_sizes() == [256, 512]
    assert Options(size=1024).scale_sizes() == [256, 512, 1024]
    assert Options(size=2048).scale_sizes() == [256, 512, 1024, 2048]
    assert Options(size=4096).scale_sizes() == [512, 1024, 2048, 4096]
    assert Options(size=512, scales=1).scale_sizes() == [512]
    assert Options(size=512, scales=3).scale_sizes() == [128, 256, 512]
    assert Options(size=512, iterations=100).scale_iterations() == [85, 15]
    assert Options(size=1024, iterations=100).scale_iterations() == [42, 43, 15]
    assert Options(size=1024, iterations=2).scale_iterations() == [1, 1, 1]
    assert Options(size=512, iterations=100, final_share=0.2).scale_iterations() == [80, 20]
    for iterations in (1, 7, 100, 999):
        split = Options(size=2048, iterations=iterations).scale_iterations()
        assert len(split) == 4 and min(split) >= 1
        assert sum(split) == max(iterations, 4)


def test_deepest_layer():
    assert Options().deepest_layer == "block4_conv2"  # the content layer: the default stops at block4
    assert Options(style_layers=("block5_conv1",)).deepest_layer == "block5_conv1"
    assert Options.from_mapping({"preset": "article"}).deepest_layer == "block5_conv3"


def test_conversion_follows_the_real_field_types():
    from impasto.nst.options import _kind

    assert _kind(int | None).convert("") is None and _kind(int | None).convert("7") == 7
    assert _kind(tuple[float, ...]).convert("0.5, 2") == (0.5, 2.0)
    assert _kind(typing.Union[int, None]).noun == "a whole number"  # noqa: UP007 - the other spelling
    with pytest.raises(TypeError, match="no option converter for the type"):
        _kind(complex)  # a new field of a type nobody taught the converter: an error, not text
    with pytest.raises(TypeError, match="no option converter"):
        _kind(list[str])


def test_seed_is_still_accepted_as_the_article_presets_name():
    from impasto.nst.presets import preset_name

    assert "seed" not in PRESETS and preset_name("seed") == "article" == preset_name("article")
    assert Options.from_mapping({"preset": "seed"}) == Options.from_mapping({"preset": "article"})
    with pytest.raises(OptionError, match="unknown preset 'sead'; choose one of balanced, strong-style, keep-detail, "
                                          "article"):
        Options.from_mapping({"preset": "sead"})


def test_final_fine_texture_weighs_the_first_style_layer_at_the_final_scale_only():
    options = Options(size=512, final_fine_texture=0.25, style_layer_weights=(2.0, 1.0, 1.0, 1.0))
    assert len(options.scale_sizes()) == 2
    assert options.at_scale(0) is options  # the coarse scale paints as set
    assert options.at_scale(1).style_layer_weights == (0.5, 1.0, 1.0, 1.0)
    plain = Options(size=512, final_fine_texture=0.5)
    assert plain.at_scale(1).style_layer_weights == (0.5, 1.0, 2.0, 3.0)  # empty weights: the default layers' own
    single = Options(size=256, final_fine_texture=0.5)
    assert single.at_scale(0) is single  # one scale: it is the coarse and the final one, left as set
    assert Options(size=512).at_scale(1) == Options(size=512)


def test_layer_weights_favour_the_deeper_default_layers_and_never_block_other_layers():
    assert Options().layer_weights() == (1.0, 1.0, 2.0, 3.0)
    assert Options(style_layer_weights=(1.0, 1.0, 1.0, 1.0)).layer_weights() == (1.0, 1.0, 1.0, 1.0)
    # Other layers chosen without weights weigh 1 each: no "4 weights for 2 layers" error.
    other = Options.from_mapping({"style_layers": "block1_conv1,block3_conv1"})
    assert other.style_layer_weights == () and other.layer_weights() == (1.0, 1.0)
    assert Options.from_mapping({"preset": "article"}).layer_weights() == (1.0,) * 5
