"""Settings from the environment: every IMPASTO_* variable is checked, and a bad one stops
create_app with one line naming the variable, what it must be and what it got."""

from __future__ import annotations

import numpy as np
import pytest

from impasto.config import DOCUMENTED, SCALE_OUT_DOCUMENTED, Settings, SettingsError, default
from impasto.jobs.distributed import DistributedConfig
from impasto.jobs.execute import EngineSettings
from impasto.jobs.redis_store import RedisJobStore
from impasto.jobs.runner import RunnerConfig
from impasto.nst.clips import ClipLimits
from impasto.web.submission import Limits

ALL = [name for name, _, _ in DOCUMENTED] + ["IMPASTO_RETENTION_HOURS"]  # the older name, still read


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL:
        monkeypatch.delenv(name, raising=False)


def test_the_defaults_are_the_documented_ones() -> None:
    config = Settings.from_env().as_flask_config()
    documented = {name: default for name, default, _ in DOCUMENTED}
    for name in ("IMPASTO_MAX_UPLOAD_MB", "IMPASTO_MAX_PIXELS", "IMPASTO_MAX_SIZE", "IMPASTO_MAX_ITERATIONS",
                 "IMPASTO_QUEUE_LIMIT", "IMPASTO_RUNNERS", "IMPASTO_STALE_AFTER",
                 "IMPASTO_MAX_ATTEMPTS"):
        assert config[name] == float(documented[name]), name
    assert config["IMPASTO_HISTORY"] is True and config["IMPASTO_PRECISION"] == documented["IMPASTO_PRECISION"]
    assert config["IMPASTO_RETENTION_DAYS"] is None and config["IMPASTO_STORAGE_LIMIT_MB"] is None  # both off


@pytest.mark.parametrize("name, value, message", [
    ("IMPASTO_MAX_SIZE", "abc", "IMPASTO_MAX_SIZE must be a whole number from 32 to 8192, got 'abc'"),
    ("IMPASTO_MAX_SIZE", "9000", "IMPASTO_MAX_SIZE must be a whole number from 32 to 8192, got '9000'"),
    ("IMPASTO_MAX_SIZE", "512.5", "IMPASTO_MAX_SIZE must be a whole number from 32 to 8192, got '512.5'"),
    ("IMPASTO_RUNNERS", "0", "IMPASTO_RUNNERS must be a whole number of at least 1, got '0'"),
    ("IMPASTO_QUEUE_LIMIT", "0", "IMPASTO_QUEUE_LIMIT must be a whole number of at least 1, got '0'"),
    ("IMPASTO_MAX_ITERATIONS", "-3", "IMPASTO_MAX_ITERATIONS must be a whole number of at least 1, got '-3'"),
    ("IMPASTO_MAX_PIXELS", "lots", "IMPASTO_MAX_PIXELS must be a whole number of at least 1, got 'lots'"),
    ("IMPASTO_MAX_UPLOAD_MB", "0", "IMPASTO_MAX_UPLOAD_MB must be a number above 0, got '0'"),
    ("IMPASTO_MAX_UPLOAD_MB", "nan", "IMPASTO_MAX_UPLOAD_MB must be a number above 0, got 'nan'"),
    ("IMPASTO_RETENTION_HOURS", "-1", "IMPASTO_RETENTION_HOURS must be a number of at least 0, got '-1'"),
    ("IMPASTO_STALE_AFTER", "0", "IMPASTO_STALE_AFTER must be a number above 0, got '0'"),
    ("IMPASTO_MAX_ATTEMPTS", "0", "IMPASTO_MAX_ATTEMPTS must be a whole number of at least 1, got '0'"),
    ("IMPASTO_PRECISION", "fp8", "IMPASTO_PRECISION must be one of auto, float32, bfloat16, float16, got 'fp8'"),
    ("IMPASTO_HISTORY", "maybe", "IMPASTO_HISTORY must be 1 or 0"),
    ("IMPASTO_MAX_MEMORY_GB", "abc", "IMPASTO_MAX_MEMORY_GB must be a number above 0, got 'abc'"),
    ("IMPASTO_MAX_MEMORY_GB", "0", "IMPASTO_MAX_MEMORY_GB must be a number above 0, got '0'"),
    ("IMPASTO_VGG_WEIGHTS", "/missing.weights.h5",
     "IMPASTO_VGG_WEIGHTS: VGG16 weights file not found: /missing.weights.h5"),
    ("IMPASTO_REAP_SECONDS", "soon", "IMPASTO_REAP_SECONDS must be a number above 0, got 'soon'"),
    ("IMPASTO_RETENTION_DAYS", "-1", "IMPASTO_RETENTION_DAYS must be a number of at least 0, got '-1'"),
    ("IMPASTO_RETENTION_HOURS", "week", "IMPASTO_RETENTION_HOURS must be a number of at least 0, got 'week'"),
    ("IMPASTO_STORAGE_LIMIT_MB", "5GB", "IMPASTO_STORAGE_LIMIT_MB must be a number of at least 0, got '5GB'"),
])
def test_a_bad_value_is_named_with_its_range(monkeypatch: pytest.MonkeyPatch, name: str, value: str,
                                             message: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        Settings.from_env()
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_good_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"IMPASTO_MAX_SIZE": "768", "IMPASTO_RUNNERS": "2", "IMPASTO_MAX_UPLOAD_MB": "0.5",
                        "IMPASTO_RETENTION_DAYS": "14", "IMPASTO_STALE_AFTER": "12.5", "IMPASTO_MAX_ATTEMPTS": "5",
                        "IMPASTO_PRECISION": "float32", "IMPASTO_HISTORY": "off", "IMPASTO_QUEUE_LIMIT": " 7 ",
                        "IMPASTO_MAX_ITERATIONS": ""}.items():  # empty: the default
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    assert (settings.max_size, settings.runners, settings.max_upload_mb, settings.retention_days) == (768, 2, 0.5, 14)
    assert (settings.stale_after, settings.max_attempts, settings.precision) == (12.5, 5, "float32")
    assert settings.history is False and settings.queue_limit == 7 and settings.max_iterations == 1000


def test_create_app_stops_on_a_bad_setting(monkeypatch: pytest.MonkeyPatch, make_app) -> None:
    monkeypatch.setenv("IMPASTO_RUNNERS", "0")  # would have run no job ever, silently
    with pytest.raises(SettingsError, match=r"^IMPASTO_RUNNERS must be a whole number of at least 1, got '0'$"):
        make_app()


def test_recovery_settings_come_from_settings(monkeypatch: pytest.MonkeyPatch, make_app) -> None:
    monkeypatch.setenv("IMPASTO_STALE_AFTER", "45")
    monkeypatch.setenv("IMPASTO_MAX_ATTEMPTS", "7")
    config = make_app().extensions["impasto"].dispatcher.config
    assert (config.stale_after, config.max_attempts) == (45.0, 7)
    monkeypatch.setenv("IMPASTO_MAX_ATTEMPTS", "many")
    with pytest.raises(SettingsError, match="IMPASTO_MAX_ATTEMPTS"):
        make_app()


def test_a_weights_file_must_hold_vgg16(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import h5py

    partial = tmp_path / "partial.weights.h5"
    with h5py.File(partial, "w") as handle:
        handle["layers/conv2d/vars/0"] = np.zeros((3, 3, 3, 64), np.float32)
    monkeypatch.setenv("IMPASTO_VGG_WEIGHTS", str(partial))
    with pytest.raises(SettingsError, match=r"^IMPASTO_VGG_WEIGHTS: could not load VGG16 weights from .*partial"
                                            r"\.weights\.h5: it holds 1 of VGG16's 13 convolution kernels"):
        Settings.from_env()


def test_the_real_weights_file_passes_the_check(monkeypatch: pytest.MonkeyPatch, real_weights: str) -> None:
    monkeypatch.setenv("IMPASTO_VGG_WEIGHTS", real_weights)
    assert Settings.from_env().vgg_weights == real_weights


def test_memory_budget_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings.from_env().max_memory_gb is None  # what the OS reports, at each job
    monkeypatch.setenv("IMPASTO_MAX_MEMORY_GB", "6.5")
    assert Settings.from_env().max_memory_gb == 6.5


def test_code_handed_no_settings_gets_the_declared_defaults() -> None:
    """EngineSettings(), RunnerConfig(), DistributedConfig(…) and Limits(…) without values hold what
    an empty environment gives: no default is written a second time."""
    settings = Settings.from_env({})
    assert EngineSettings() == EngineSettings.from_settings(settings)
    assert RunnerConfig() == RunnerConfig.from_settings(settings)
    url = "redis://127.0.0.1:1/0"
    scale_out = Settings.from_env({"IMPASTO_BROKER_URL": url})
    assert DistributedConfig(broker_url=url, store_url=url) == DistributedConfig.from_settings(scale_out)
    configured = Limits.from_config(settings.as_flask_config())
    bare = Limits(configured.max_size, configured.max_iterations, configured.max_pixels)
    assert (bare.clip, bare.queue_limit) == (configured.clip, configured.queue_limit) == (ClipLimits(240, 10, 1920), 20)
    assert RedisJobStore.__init__.__kwdefaults__["prefix"] == settings.redis_prefix == "impasto"


def test_every_setting_is_declared_once_and_documented() -> None:
    variables = [name for name in Settings.from_env({}).as_flask_config()]
    documented = [name for name, _, _ in DOCUMENTED] + [name for name, _, _ in SCALE_OUT_DOCUMENTED]
    assert sorted(set(documented)) == sorted(variables)
    assert default("max_clip_frames") == 240 and default("trusted_hosts") == () and default("vgg_weights") is None
