"""run_job keeps a transparent photo's alpha with either job store (files travel as bytes)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto.jobs.execute import EngineSettings, run_job
from impasto.jobs.sqlite_store import SqliteJobStore
from impasto.jobs.store import DONE, JobStore
from impasto.nst.images import encode_image
from tests.conftest import stripes_image
from tests.engine.test_transparency import rgba_photo
from tests.weights import UNTRAINED_WEIGHTS


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> JobStore:
    if request.param == "sqlite":
        return SqliteJobStore(tmp_path)
    from impasto.jobs.redis_store import RedisJobStore

    return RedisJobStore(request.getfixturevalue("redis_url"), prefix=request.getfixturevalue("prefix"))


def test_alpha_survives_the_store(store: JobStore) -> None:
    rgba = rgba_photo()
    job = store.create({"size": 40, "iterations": 2, "precision": "float32"},
                       {"content.png": encode_image(rgba), "style.png": encode_image(stripes_image())})
    assert store.claim("w1", 1) is not None
    assert run_job(store, job.id, worker="w1", engine=EngineSettings(weights=UNTRAINED_WEIGHTS)) == DONE
    result = Image.open(io.BytesIO(store.get_file(job.id, "result.png")))
    assert result.mode == "RGBA" and result.size == (40, 30)
    assert np.asarray(result)[:, :12, 3].max() < 8 and np.asarray(result)[10:, 16:, 3].min() > 247
