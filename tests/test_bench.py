"""The benchmark's arithmetic and report, without running it (a real run takes 15-40 minutes)."""

from __future__ import annotations

import argparse
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import benchmark  # noqa: E402


def test_forward_flops_follow_the_poolings():
    first = 2.0 * 8 * 8 * 3 * 64 * 9
    second = 2.0 * 8 * 8 * 64 * 64 * 9
    after_pool = 2.0 * 4 * 4 * 64 * 128 * 9  # block2_conv1 runs at half the size
    assert benchmark.forward_flops(8, 8, "block1_conv1") == first
    assert benchmark.forward_flops(8, 8, "block2_conv1") == first + second + after_pool
    assert benchmark.evaluation_flops(8, 8, "block2_conv1", 3) == 6 * (first + second + after_pool)
    with pytest.raises(ValueError):
        benchmark.forward_flops(8, 8, "block6_conv1")


def test_clock_gives_median_seconds_per_evaluation():
    clock = benchmark.Clock()
    clock.marks = [(0.0, 0.0, 0), (1.0, 2.0, 1), (3.0, 6.0, 3), (3.5, 6.9, 4), (3.5, 6.9, 4)]
    timing = clock.timing(1)  # the first iteration (tracing) left out
    assert timing.seconds_per_eval == pytest.approx(0.75)  # median of 1.0, 0.5 s per evaluation
    assert timing.cpu_seconds_per_eval == pytest.approx(1.45)
    assert timing.evaluations == 3
    assert timing.cores_busy == pytest.approx(4.9 / 2.5)


def test_eta_check_compares_what_was_said_with_what_was_left():
    marks = [(10.0, 10, 100, None), (20.0, 25, 100, 60.0), (40.0, 50, 100, 24.0), (55.0, 80, 100, 4.0)]
    halfway = benchmark.eta_check(marks, finished=60.0, share=0.5)
    assert halfway == {"iteration": 50, "total": 100, "said_s": 24.0, "took_s": 20.0, "error_pct": 20.0}
    assert benchmark.eta_check(marks, 60.0, 0.25)["error_pct"] == pytest.approx(50.0)  # said 60, took 40
    assert benchmark.eta_check(marks, 60.0, 0.9) == {}


def test_report_prints_ratios_results_and_eta(tmp_path):
    plan = benchmark.make_plan(argparse.Namespace(quick=False, full=True, memory=False, sizes="512", evals=None))
    assert plan.memory_sizes == (512, 1024) and plan.full_rounds == 10 and plan.full_maxfun == 20
    report = benchmark.Report(plan)
    report.machine = {"cpu": "Test CPU", "cores": 2, "bf16_flags": [], "auto_precision": "float32",
                      "tensorflow": "x", "keras": "y", "load_average": [0.1, 0.1, 0.1]}
    report.matmul = [benchmark.Matmul(4096, "float32", 200.0, 100.0)]
    timing = benchmark.Timing(0.5, 1.0, 8, 2.0)
    row = benchmark.make_row("Impasto", "float32", 512, (384, 512), "block5_conv1", 1, timing, 0.3, 12.0, "ours")
    row.speedup_vs_reference, row.cpu_speedup_vs_reference = 6.25, 6.5
    report.evaluations = [row]
    report.results = [{"run": "Impasto default", "size": 512, "width": 512, "height": 384, "precision": "float32",
                       "seconds": 55.2, "cpu_seconds": 101.0, "iterations": 100, "evaluations": 114, "loss": 62.5,
                       "objective": "ours", "estimated": False,
                       "eta": {"50%": {"iteration": 50, "total": 100, "said_s": 30.0, "took_s": 25.0,
                                       "error_pct": 20.0}}}]
    text = benchmark.markdown(report)
    assert "CPU: Test CPU (2 cores; bf16 flags: none)" in text
    assert "| Impasto | float32 | 512×384 | 0.500 | 1.000 | 6.25× (6.50×) | 226.0 |" in text
    assert "| Impasto default | 512×384 | float32 | 55 | 101 | 100 | 114 | 62.5 (ours) |" in text
    assert "ETA of Impasto default at 50% (iteration 50/100): said 30 s, took 25 s (+20 %)." in text


def test_gpu_script_installs_as_the_readme_and_dockerfile_do():
    import subprocess

    script = ROOT / "bench" / "gpu.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert 'python3 -m venv "$venv"' in text and '"$venv/bin/pip" install --quiet .' in text
    # The CUDA libraries for the TensorFlow version already installed: the Dockerfile's GPU=1 step.
    assert '"tensorflow[and-cuda]==${tf_version}"' in text
    assert '"tensorflow[and-cuda]==${tf_version}"' in (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "python3 -m venv .venv && .venv/bin/pip install ." in (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--sizes 512,1024 --memory" in text


def test_quality_overrides_are_name_value_pairs():
    import quality

    assert quality.overrides(["tv_weight=0.1", " style_loss = gram "]) == {"tv_weight": "0.1", "style_loss": "gram"}
    assert quality.overrides(["style_layers=block1_conv1,block2_conv1"]) == {
        "style_layers": "block1_conv1,block2_conv1"}
    with pytest.raises(SystemExit, match="NAME=VALUE"):
        quality.overrides(["tv_weight"])


def test_held_out_pairs_are_committed_with_their_credits():
    import quality

    credits = (ROOT / "bench" / "pairs" / "CREDITS.md").read_text(encoding="utf-8")
    pairs = quality.held_out_pairs()
    assert len(pairs) == 4  # each held-out photo with each held-out painting
    for pair in pairs.values():
        assert pair.reference is None
        for path in (pair.photo, pair.painting):
            assert path.is_file(), path
            assert f"`{path.name}`" in credits  # every picture says where it comes from and its licence
    assert not set(pairs) & set(quality.tuned_pairs())


def test_quality_runs_the_tuned_or_the_held_out_pairs():
    import quality

    assert [p.name for p in quality.chosen_pairs(quality.parse_args([]))] == list(quality.REFERENCE_FILES)
    held = quality.chosen_pairs(quality.parse_args(["--held-out"]))
    assert [p.name for p in held] == list(quality.held_out_pairs())
    named = quality.chosen_pairs(quality.parse_args(["--pairs", "rocket-great_wave", "the_scream"]))
    assert [p.name for p in named] == ["rocket-great_wave", "the_scream"]


def test_before_after_ratio_sums_cpu_seconds_over_pairs():
    import before_after

    results = {"a": {"before (x)": {"cpu_seconds": 10.0}, "after": {"cpu_seconds": 12.0}},
               "b": {"before (x)": {"cpu_seconds": 30.0}, "after": {"cpu_seconds": 30.0},
                     "jcjohnson/neural-style": {}}}
    assert before_after.cpu_ratio(results) == pytest.approx(42.0 / 40.0)


def test_the_harness_writes_reports_as_committed(tmp_path):
    import harness

    harness.write_report(tmp_path / "r.json", {"size": 64, "name": "Tübingen"})
    assert (tmp_path / "r.json").read_text(encoding="utf-8") == '{\n  "size": 64,\n  "name": "T\\u00fcbingen"\n}\n'
    assert harness.relative_to_repo(ROOT / "bench" / "results" / "quality") == "bench/results/quality"
    assert harness.relative_to_repo(tmp_path) == str(tmp_path)  # outside the checkout: as given
    assert harness.argument_parser("usage:\n    python bench/x.py  # a line kept as written").format_help().count(
        "    python bench/x.py  # a line kept as written") == 1


def test_a_pair_is_scored_with_its_reference_and_one_sheet(tmp_path):
    import numpy as np
    import quality
    from PIL import Image

    rng = np.random.default_rng(0)
    photo, painting, picture, reference = (rng.integers(0, 256, (48, 64, 3), dtype=np.uint8) for _ in range(4))
    Image.fromarray(reference).save(tmp_path / "ref.png")
    pair = quality.Pair("p", tmp_path / "photo.png", tmp_path / "painting.png", reference="ref.png")
    args = argparse.Namespace(size=32, references=str(tmp_path))
    rows = quality.score_with_sheet(pair, photo, painting, iter([("after", picture, {"cpu_seconds": 1.5})]), args,
                                    tmp_path / "sheet.jpg")
    assert list(rows) == ["after", "jcjohnson/neural-style"]
    assert rows["after"]["cpu_seconds"] == 1.5 and "palette_distance" in rows["after"]
    assert "palette_distance" in rows["jcjohnson/neural-style"]
    with Image.open(tmp_path / "sheet.jpg") as sheet:  # photo, painting, the picture, the reference
        assert sheet.format == "JPEG" and sheet.width > 4 * 32
    assert not (tmp_path / "sheet.png").exists()
    without = quality.Pair("p", pair.photo, pair.painting)  # no reference output for this pair
    assert quality.score_with_sheet(without, photo, painting, iter([]), args, tmp_path / "sheet2.jpg") == {}
