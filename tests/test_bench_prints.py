"""bench/prints.py's own arithmetic: the tile plan it reports and its seam measure."""

from __future__ import annotations

import numpy as np

from bench import prints
from tests.conftest import ROOT


def test_plan_reports_whole_and_tiled_scales_under_the_budget(monkeypatch):
    # The plan reads only the photo's shape: the repository's copy of the Tübingen photo (4:3, as the
    # benchmark's ../shared sample) keeps this test running in a clone with nothing beside it.
    monkeypatch.setattr(prints, "PHOTO", ROOT / "docs" / "gallery" / "photo.jpg")
    rows = prints.plan(2048, 2.0)
    assert [r["size"] for r in rows] == [256, 512, 1024, 2048]
    assert rows[0]["tiles"] == 0 and rows[-1]["tiles"] > 1 and rows[-1]["side"] % 16 == 0
    assert "refused" in prints.plan(8192, 2.0)[-1]


def test_seam_measure_finds_a_step_at_a_border_and_nothing_in_noise():
    rng = np.random.default_rng(0)
    picture = rng.uniform(100, 140, (64, 96, 3))
    at, elsewhere = prints.seam_ratios(picture, {40}, axis=1)
    assert at < 1.6 and elsewhere < 1.6
    picture[:, 40:] += 60  # a jump between columns 39 and 40: a seam
    at, elsewhere = prints.seam_ratios(picture, {40}, axis=1)
    assert at > 2.0 and elsewhere < 1.6
