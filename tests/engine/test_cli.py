"""`impasto transfer` end to end (untrained weights, tiny image) and every bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from impasto.cli import main
from tests.conftest import ROOT, gradient_image, stripes_image
from tests.weights import UNTRAINED_WEIGHTS


@pytest.fixture
def pictures(tmp_path: Path) -> tuple[Path, Path]:
    content, style = tmp_path / "photo.png", tmp_path / "painting.jpg"
    Image.fromarray(gradient_image(60, 80)).save(content)
    Image.fromarray(stripes_image(60, 80)).save(style)
    return content, style


def _impasto(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "IMPASTO_VGG_WEIGHTS": UNTRAINED_WEIGHTS, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "impasto.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_transfer_end_to_end_writes_png_and_json_summary(pictures, tmp_path):
    content, style = pictures
    out = tmp_path / "out.jpg"
    done = _impasto("transfer", str(content), str(style), "-o", str(out), "--size", "48", "--iterations", "3",
                    "--seed", "7", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["iterations"] == 3 and summary["evaluations"] >= 3 and summary["seed"] == 7
    assert summary["lbfgs_iterations"] == 3
    # --json keeps the progress bar and the 'wrote' line on stderr (only --quiet drops them)
    assert "3/3" in done.stderr and f"wrote {out} (" in done.stderr and "3 iterations)" in done.stderr
    assert summary["width"] == 48 and summary["height"] == 36
    assert set(summary["losses"]) == {"total", "content", "style", "tv"}
    assert Image.open(out).format == "JPEG" and Image.open(out).size == (48, 36)


def test_progress_bar_on_stderr(pictures, tmp_path):
    content, style = pictures
    done = _impasto("transfer", str(content), str(style), "-o", str(tmp_path / "o.png"), "--size", "40",
                    "--iterations", "2", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "2/2" in done.stderr and "loss" in done.stderr and "ETA" in done.stderr
    assert re.search(r"scale 1/1, [1-9]\d* evaluations", done.stderr)  # bench/prints.py times scales by it
    assert done.stdout == ""


def _bad(capsys, *args) -> str:
    code = main(["transfer", *args])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_bad_inputs_exit_2_with_one_line(pictures, tmp_path, capsys):
    content, style = pictures
    out = str(tmp_path / "o.png")
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    assert "file not found" in _bad(capsys, str(tmp_path / "missing.jpg"), str(style), "-o", out)
    assert "not a readable image" in _bad(capsys, str(content), str(text), "-o", out)
    # The command line names options by their flags (the API by its field names).
    assert "error: --size must be a whole number from 32 to 8192, got 5" in _bad(
        capsys, str(content), str(style), "-o", out, "--size", "5")
    assert "error: --content-weight must be a number" in _bad(
        capsys, str(content), str(style), "-o", out, "--content-weight", "lots")
    assert "error: --init must be one of" in _bad(capsys, str(content), str(style), "-o", out, "--init", "zeros")
    assert "does not exist" in _bad(capsys, str(content), str(style), "-o", str(tmp_path / "no" / "o.png"))
    assert "unsupported extension" in _bad(capsys, str(content), str(style), "-o", str(tmp_path / "o.gif"))
    assert "required" in _bad(capsys, str(content), str(style))
    assert not list(tmp_path.glob("o.*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output(pictures, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    content, style = pictures
    assert "not writable" in _bad(capsys, str(content), str(style), "-o", str(locked / "o.png"))


def test_unwritable_output_file(pictures, tmp_path, capsys):
    content, style = pictures
    target = tmp_path / "o.png"
    target.mkdir()  # a directory where the file should go: cannot be written, even by root
    assert "is a directory" in _bad(capsys, str(content), str(style), "-o", str(target))


def test_missing_weights_file_fails_fast(pictures, tmp_path, capsys):
    content, style = pictures
    code = main(["transfer", str(content), str(style), "-o", str(tmp_path / "o.png"), "--size", "32",
                 "--weights", str(tmp_path / "nope.weights.h5")])
    err = capsys.readouterr().err
    assert code == 2 and "VGG16 weights file not found" in err and "nope.weights.h5" in err


def test_wrong_weights_file_is_explained(pictures, tmp_path, capsys):
    content, style = pictures
    bogus = tmp_path / "bogus.weights.h5"
    bogus.write_bytes(b"not hdf5")
    code = main(["transfer", str(content), str(style), "-o", str(tmp_path / "o.png"), "--size", "32",
                 "--weights", str(bogus)])
    err = capsys.readouterr().err
    assert code == 2 and f"could not load VGG16 weights from {bogus}" in err


def test_imagenet_download_failure_says_how_to_fix(monkeypatch):
    import keras

    from impasto.nst import vgg
    from impasto.nst.errors import WeightsError

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: Name or service not known")

    monkeypatch.setattr(keras.applications, "VGG16", offline)
    monkeypatch.delitem(vgg._cache, "imagenet", raising=False)
    with pytest.raises(WeightsError) as info:
        vgg.load_weights("imagenet")
    assert "could not download the ImageNet VGG16 weights" in str(info.value)
    assert "IMPASTO_VGG_WEIGHTS" in str(info.value)


def test_model_is_loaded_once_per_process():
    from impasto.nst.vgg import load_weights

    assert load_weights(UNTRAINED_WEIGHTS) is load_weights(UNTRAINED_WEIGHTS)


def test_result_is_not_all_black(pictures, tmp_path):
    content, style = pictures
    out = tmp_path / "o.png"
    assert main(["transfer", str(content), str(style), "-o", str(out), "--size", "40", "--iterations", "2",
                 "--weights", UNTRAINED_WEIGHTS, "--quiet"]) == 0
    assert np.asarray(Image.open(out)).mean() > 20


def test_artistic_flags_blend_colours_init_and_preset(pictures, tmp_path):
    content, style = pictures
    second = tmp_path / "second.png"
    Image.fromarray(gradient_image(60, 80, seed=3)[:, ::-1]).save(second)
    start = tmp_path / "start.png"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(start)
    out = tmp_path / "art.png"
    done = _impasto("transfer", str(content), str(style), "--style", str(second), "--style-blend", "0.7,0.3",
                    "--style-scale", "1.5", "--preserve-colors", "--init-image", str(start), "--preset", "strong-style",
                    "--size", "40", "--iterations", "2", "--seed", "3", "-o", str(out), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["seed"] == 3 and Image.open(out).size == (40, 30)
    bad = _impasto("transfer", str(content), str(style), "--style", str(second), "--style-blend", "1,2,3",
                   "-o", str(out), cwd=tmp_path)
    assert bad.returncode == 2 and "3 weights for 2 style images" in bad.stderr


def test_init_flags_must_agree(pictures, tmp_path, capsys):
    content, style = pictures
    out = str(tmp_path / "o.png")
    assert "--init-image starts from an image, but --init is 'noise'" in _bad(
        capsys, str(content), str(style), "-o", out, "--init", "noise", "--init-image", str(content))
    assert "--init image needs --init-image PATH" in _bad(capsys, str(content), str(style), "-o", out,
                                                            "--init", "image")


def test_serve_arguments_are_checked(capsys):
    assert main(["serve", "--port", "70000"]) == 2
    assert "--port must be from 1 to 65535, got 70000" in capsys.readouterr().err
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be from 1 to 64, got 0" in capsys.readouterr().err


def test_a_failed_write_keeps_the_result(monkeypatch, tmp_path, capsys):
    """Disk full at the very end: the picture is rescued to the temp folder, not lost."""
    from impasto import cli

    monkeypatch.setattr(cli.tempfile, "gettempdir", lambda: str(tmp_path / "rescue"))
    (tmp_path / "rescue").mkdir()
    real_save = cli.save_image

    def full_disk(image, path):
        if "rescue" not in str(path):
            raise OSError(28, "No space left on device")
        return real_save(image, path)

    monkeypatch.setattr(cli, "save_image", full_disk)
    written = cli._save_or_rescue(np.zeros((4, 4, 3), np.uint8), tmp_path / "out.png")
    err = capsys.readouterr().err
    assert written is not None and written.parent == tmp_path / "rescue" and written.is_file()
    assert "No space left on device" in err and str(written) in err


def test_written_files_are_readable_by_others(tmp_path):
    from impasto.nst.images import save_image

    path = save_image(np.zeros((4, 4, 3), np.uint8), tmp_path / "p.png")
    assert path.stat().st_mode & 0o777 == 0o644


def test_serve_refuses_a_bad_setting_in_one_line(monkeypatch, capsys):
    monkeypatch.setenv("IMPASTO_MAX_SIZE", "huge")
    assert main(["serve", "--port", "8765"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("impasto: error: IMPASTO_MAX_SIZE must be") and "'huge'" in err
    assert len(err.splitlines()) == 1


def test_impossible_shapes_are_refused_before_any_work(tmp_path, capsys):
    """The CLI uses the engine's shape check before it loads TensorFlow: exit 2, one line."""
    wide = tmp_path / "wide.png"
    Image.fromarray(gradient_image(16, 96)).save(wide)
    style = tmp_path / "style.png"
    Image.fromarray(stripes_image()).save(style)
    err = _bad(capsys, str(wide), str(style), "-o", str(tmp_path / "o.png"), "--size", "32")
    # the default net stops at block4: 8 px a side at least
    assert "size 32: at 32 px the photo (96×16 px) becomes 32×5 px" in err and "at least 45" in err
    assert not (tmp_path / "o.png").exists()


def test_serve_runs_threaded_workers(monkeypatch):
    import impasto.cli as cli
    import impasto.cli_server as cli_server

    args = cli.build_parser().parse_args(["serve", "--threads", "8"])
    options = cli_server.gunicorn_options(args)
    assert options[options.index("--worker-class") + 1] == "impasto.web.worker.StudioWorker"  # gthread's subclass
    assert options[options.index("--threads") + 1] == "8"
    assert options[options.index("--limit-request-line") + 1] == "8190"  # never 0: no limit at all
    assert options[options.index("--logger-class") + 1] == "impasto.web.worker.StudioLogger"  # IMPASTO_LOG_FORMAT
    assert main(["serve", "--threads", "0"]) == 2


@pytest.mark.parametrize("name, value", [("IMPASTO_MAX_MEMORY_GB", "abc"), ("IMPASTO_PRECISION", "fp8"),
                                         ("IMPASTO_VGG_WEIGHTS", "/missing.weights.h5")])
@pytest.mark.parametrize("command", [["serve"], ["worker"], ["transfer", "a.png", "b.png", "-o", "c.png"]])
def test_every_command_checks_the_settings_at_start(monkeypatch, capsys, name, value, command):
    monkeypatch.setenv(name, value)
    assert main(command) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"impasto: error: {name}") and value in lines[0]


def test_the_article_preset_reports_iterations_as_rounds(pictures, tmp_path):
    """--iterations counts the article's rounds; so does the summary (and 'seed' still names the preset)."""
    content, style = pictures
    out = tmp_path / "a.png"
    done = _impasto("transfer", str(content), str(style), "-o", str(out), "--preset", "seed", "--size", "40",
                    "--iterations", "2", "--json", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    # scipy checks maxfun only between iterations, so a round's last line search may run past its 20
    # evaluations by up to maxls (scipy's default, 20): a round is at most 40 evaluations, not 21.
    most_per_round = 20 + 20
    assert summary["iterations"] == 2 and summary["lbfgs_iterations"] >= 2
    assert 20 < summary["evaluations"] <= 2 * most_per_round  # more than one round ran
    assert done.stderr == ""  # --quiet: nothing on stderr


def test_version_and_help_read_as_a_person_would(capsys):
    from impasto import cli

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.startswith("impasto ")
    transfer = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["transfer"].format_help().split())
    for text in ("--seed SEED", "(default: random)", "(default: equal)", "--init {content,noise,image}",
                 "--precision {auto,float32,bfloat16,float16}", "--normalization {gatys,blog}",
                 "--style-fit {longest,content}", "(default: 100)", "(default: 0.15)",
                 "(default: 1,1,2,3 for the default layers, else 1 each)",
                 "{balanced,strong-style,keep-detail,article}"):
        assert text in transfer, text
    assert "None" not in transfer and "(default: )" not in transfer
    worker = " ".join(cli.build_parser()._subparsers._group_actions[0].choices["worker"].format_help().split())
    assert "--loglevel {debug,info,warning,error,critical} how much the worker logs (default: info)" in worker


def test_the_console_script_exits_with_mains_code_and_flushed_output(pictures, tmp_path):
    content, style = pictures
    done = _impasto("transfer", str(content), str(style), "-o", str(tmp_path / "o.png"), "--size", "40",
                    "--iterations", "2", "--json", "--quiet", cwd=tmp_path)
    assert done.returncode == 0 and json.loads(done.stdout)["iterations"] == 2  # the whole line came out
    missing = _impasto("transfer", str(tmp_path / "nowhere.jpg"), str(style), "-o", str(tmp_path / "p.png"),
                       cwd=tmp_path)
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("threads, how", [(1, "quick"), (2, "usual")])
def test_the_quick_exit_waits_for_no_thread(monkeypatch, threads, how):
    """Teardown is skipped only when no other Python thread is left to finish its work."""
    import impasto.cli as cli

    def quick_exit(code):
        raise SystemExit(("quick", code))

    monkeypatch.setattr(cli, "main", lambda: 3)
    monkeypatch.setattr(cli.threading, "active_count", lambda: threads)
    monkeypatch.setattr(cli.os, "_exit", quick_exit)
    with pytest.raises(SystemExit) as stopped:
        cli.run()
    assert stopped.value.code == (("quick", 3) if how == "quick" else 3)
