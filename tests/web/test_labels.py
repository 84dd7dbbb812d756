"""The page's words for the server's messages: labels, not field names; limits as people write them."""

from __future__ import annotations

import pytest

from impasto.web.labels import field_label, plain_message


@pytest.mark.parametrize("message, plain", [
    ("content_weight must be a number from 0 to 1e+06, got 'abc'",
     "Content weight must be a number from 0 to 1,000,000; you entered 'abc'"),
    ("size must be a whole number from 32 to 1024, got 5000",
     "Size must be a whole number from 32 to 1024; you entered 5000"),
    ("content: choose a photo (JPEG, PNG, WebP, BMP or TIFF)", "Photo: choose a photo (JPEG, PNG, WebP, BMP or TIFF)"),
    ("init_image is only used with init=image, not init=noise",
     "Start image is only used with start from: an image of my own, not start from: random noise"),
    ("round_evals 20 with 10 iterations plans 200 iterations in all; this server allows at most 100 "
     "(IMPASTO_MAX_ITERATIONS)",
     "Evaluations per round 20 with 10 iterations plans 200 iterations in all; this server allows at most 100"),
    ("style_blend has 3 weights for 2 style images; give one weight per style",
     "Blend has 3 weights for 2 style images; give one weight per style"),
])
def test_messages_in_the_page_s_words(message, plain):
    assert plain_message(message) == plain


def test_no_internal_name_is_left_in_any_label():
    for name in ("content_weight", "tv_weight", "init_image", "style_blend", "round_evals", "size", "seed"):
        label = field_label(name)
        assert "_" not in label and label[0].isupper()
