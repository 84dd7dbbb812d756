"""Each audience's words for one message's facts: the API names fields, the page says labels and
limits as people write them, the command line says flags. Built from facts, never read back."""

from __future__ import annotations

import pytest

from impasto.cli_words import cli_message
from impasto.message import Choice, Field, Message, Number, Sent, Setting
from impasto.nst.errors import OptionError
from impasto.nst.options import Options, blend_weights
from impasto.web.labels import field_label, plain_message

RANGE = Message(Field("content_weight"), " must be a number from ", Number(0), " to ", Number(1e6), Sent("'abc'"))
LIMIT = Message(Field("round_evals"), " 20 with 10 iterations plans 200 iterations in all; this server allows at most ",
                Number(100), Setting("IMPASTO_MAX_ITERATIONS"))
CHOICES = Message(Field("init_image"), " is only used with ", Choice("init", "image"), ", not ",
                  Choice("init", "noise"))


@pytest.mark.parametrize("message, api, page, cli", [
    (RANGE, "content_weight must be a number from 0 to 1e+06, got 'abc'",
     "Content weight must be a number from 0 to 1,000,000; you entered 'abc'",
     "--content-weight must be a number from 0 to 1e+06, got 'abc'"),
    (LIMIT, "round_evals 20 with 10 iterations plans 200 iterations in all; this server allows at most 100 "
     "(IMPASTO_MAX_ITERATIONS)",
     "Evaluations per round 20 with 10 iterations plans 200 iterations in all; this server allows at most 100",
     "--round-evals 20 with 10 iterations plans 200 iterations in all; this server allows at most 100 "
     "(IMPASTO_MAX_ITERATIONS)"),
    (CHOICES, "init_image is only used with init=image, not init=noise",
     "Start image is only used with start from: an image of my own, not start from: random noise",
     "--init-image is only used with --init image, not --init noise"),
    (Message(Field("style", 2), ": image has no pixels"), "style 2: image has no pixels",
     "Painting 2: image has no pixels", "style 2: image has no pixels"),
    ("the earlier job is gone", "the earlier job is gone", "The earlier job is gone", "the earlier job is gone"),
])
def test_one_message_in_each_audience_s_words(message, api, page, cli):
    assert str(message) == api if isinstance(message, Message) else message == api
    assert plain_message(message) == page
    assert cli_message(message) == cli


def test_an_option_error_keeps_its_facts_for_every_audience():
    with pytest.raises(OptionError) as caught:
        blend_weights(Options.from_mapping({"style_blend": "1,2,3"}), 2)
    error = caught.value
    assert error.field == "style_blend"
    assert str(error) == "style_blend has 3 weights for 2 style images; give one weight per style"
    assert plain_message(error.message) == "Blend has 3 weights for 2 style images; give one weight per style"
    assert cli_message(error.message) == "--style-blend has 3 weights for 2 style images; give one weight per style"


def test_a_word_that_only_looks_like_a_field_is_left_alone():
    # "style scale" and "size" inside a sentence are words, not fields: only the facts change.
    message = Message(Field("style_scale"), " 0.5: at 512 px and style scale 0.5, the painting becomes 20×8 px; "
                      "choose a larger size")
    assert plain_message(message) == ("Style scale 0.5: at 512 px and style scale 0.5, the painting becomes 20×8 px; "
                                      "choose a larger size")


def test_no_internal_name_is_left_in_any_label():
    for name in ("content_weight", "tv_weight", "init_image", "style_blend", "round_evals", "size", "seed"):
        label = field_label(name)
        assert "_" not in label and label[0].isupper()
