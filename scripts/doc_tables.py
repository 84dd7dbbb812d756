"""Print the docs' tables from the code, so the docs say what the code does.

    python scripts/doc_tables.py options   # the engine options and their defaults
    python scripts/doc_tables.py presets   # the named presets
    python scripts/doc_tables.py settings  # IMPASTO_* environment variables
    python scripts/doc_tables.py bench     # the latest --full benchmark (bench/results/full.json)
    python scripts/doc_tables.py video     # the video benchmark (bench/results/video/video.json)
    python scripts/doc_tables.py scaleout  # the settings of scale-out mode (web and workers)
    python scripts/doc_tables.py videoflicker  # the video benchmark's flicker table
    python scripts/doc_tables.py --update             # rewrite the tables between their markers, in
                                                      # README.md and docs/*.md
    python scripts/doc_tables.py --update docs/cli.md # only in this file

tests/test_docs.py checks that those files contain exactly these rows (each table in one of them).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from impasto.cli import SWITCH_FLAGS, TRANSFER_FLAGS
from impasto.config import DOCUMENTED, SCALE_OUT_DOCUMENTED
from impasto.nst.options import option_specs
from impasto.nst.presets import PRESET_DESCRIPTIONS, PRESETS
from impasto.text import format_number

CLI_ONLY_AS_SWITCH = {name: "--" + name.replace("_", "-") for name in SWITCH_FLAGS}
MEMORY_RUNS = {"reference": "article (batch of 3)", "impasto": "Impasto default", "impasto-float32": "Impasto"}
ROOT = Path(__file__).resolve().parents[1]
BENCH_RESULTS = ROOT / "bench" / "results" / "full.json"
VIDEO_RESULTS = ROOT / "bench" / "results" / "video" / "video.json"
# The pages that may hold the generated tables (each table in exactly one of them: tests/test_docs.py).
DOC_FILES = (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))


def _value(value) -> str:
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) if value else "(none)"
    if value is None:
        return "(random)"
    return str(value)


def options_table() -> list[str]:
    rows = ["| option | CLI flag | default | range | what it does |", "|---|---|---|---|---|"]
    for name, (default, spec) in option_specs().items():
        span = (", ".join(spec.choices) if spec.choices and not isinstance(default, tuple)
                else f"{format_number(spec.minimum)} – {format_number(spec.maximum)}" if spec.minimum is not None
                else "")
        if isinstance(default, tuple) and spec.choices:
            span = "VGG16 conv layers"
        flag = ("`--" + name.replace("_", "-") + "`" if name in TRANSFER_FLAGS
                else f"`{CLI_ONLY_AS_SWITCH[name]}`" if name in CLI_ONLY_AS_SWITCH else "(preset only)")
        rows.append(f"| `{name}` | {flag} | {_value(default)} | {span} | {spec.help} |")
    return rows


def presets_table() -> list[str]:
    rows = ["| preset | sets | what it is for |", "|---|---|---|"]
    for name, values in PRESETS.items():
        sets = ", ".join(f"{k}={_value(v)}" for k, v in values.items()) or "(the defaults)"
        rows.append(f"| `{name}` | {sets} | {PRESET_DESCRIPTIONS[name]} |")
    return rows


def _settings_rows(documented) -> list[str]:
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{name}` | {default} | {meaning} |" for name, default, meaning in documented]
    return rows


def settings_table() -> list[str]:
    return _settings_rows(DOCUMENTED)


def scaleout_table() -> list[str]:
    return _settings_rows(SCALE_OUT_DOCUMENTED)


def bench_tables(path: Path = BENCH_RESULTS) -> list[str]:
    """The results of ``python bench/benchmark.py --full``, as docs/benchmark.md shows them."""
    data = json.loads(path.read_text(encoding="utf-8"))
    m = data["machine"]
    matmul = ", ".join(f"{x['dtype']} {x['gflops']:.0f} GFLOP/s" for x in data["matmul"])
    lines = [f"`python bench/benchmark.py --full`, {data['started'][:16]} UTC, engine commit "
             f"{m['engine_commit']}: {m['cpu']}, {m['cores']} cores (bfloat16 CPU flags: "
             f"{', '.join(m['bf16_flags']) or 'none'}), TensorFlow {m['tensorflow']}, Keras {m['keras']}, load average "
             f"{m['load_average'][0]:.1f} at the start. `tf.matmul` {data['plan']['matmul_n']}²: {matmul}.", "",
             "| run | precision | size | s / eval (wall) | CPU s / eval | faster than the article, wall (CPU) "
             "| GFLOP / eval | % of fp32 matmul* |", "|---|---|---|---|---|---|---|---|"]
    for r in data["evaluations"]:
        name = "article" if r["run"].startswith("reference") else (
            "Impasto default" if "default" in r["run"] else "Impasto")
        lines.append(f"| {name} | {r['precision']} | {r['width']}×{r['height']} | {r['seconds_per_eval']:.3f} "
                     f"| {r['cpu_seconds_per_eval']:.3f} | {r['speedup_vs_reference']:.2f}× "
                     f"({r['cpu_speedup_vs_reference']:.2f}×) | {r['gflop_per_eval']:.0f} "
                     f"| {r['pct_of_fp32_matmul']:.0f} % |")
    lines += ["", "\\* GFLOP per CPU-second against the float32 matmul's.", "",
              "| to a finished result | size | precision | wall s | CPU s | iterations | evaluations |",
              "|---|---|---|---|---|---|---|"]
    for r in data["results"]:
        lines.append(f"| {r['run']} | {r['width']}×{r['height']} | {r['precision']} | {r['seconds']:.0f} "
                     f"| {r['cpu_seconds']:.0f} | {r['iterations']} | {r['evaluations']} |")
    for r in data["results"]:
        checks = [f"{c['iteration']} of {c['total']}: said {c['said_s']:.0f} s, took {c['took_s']:.0f} s "
                  f"({c['error_pct']:+.0f} %)" for c in r.get("eta", {}).values() if c]
        if checks:
            lines += ["", f"ETA of the {r['run']} run at iteration " + "; ".join(checks) + "."]
    lines += ["", "| peak memory (RSS of the whole process) | size | precision | GB |", "|---|---|---|---|"]
    for r in data["memory"]:
        if "error" not in r:
            name = MEMORY_RUNS.get(r["run"], r["run"])
            lines.append(f"| {name} | {r['width']}×{r['height']} | {r['precision']} | {r['peak_rss_gb']:.2f} |")
    objectives = list(next(iter(data["quality"].values())))
    lines += ["", "| picture, scored as delivered (uint8) | " + " | ".join(objectives) + " |",
              "|---" * (len(objectives) + 1) + "|"]
    for name, values in data["quality"].items():
        lines.append(f"| {name} | " + " | ".join(f"{values[o]:.4g}" for o in objectives) + " |")
    return lines


def video_rows(data: dict) -> list[str]:
    """bench/video.py's results: flicker and style against independent frames, seconds per frame."""
    m = data["machine"]
    lines = [f"`python bench/video.py`, {data['started'][:16]} UTC, engine commit {m['engine_commit']}: {m['cpu']}, "
             f"{m['cores']} cores, load average {m['load_average'][0]:.1f} at the start; The Starry Night, "
             f"{data['frames']} frames of {data['size']} px for the flicker rows.", "",
             "| clip | temporal weight | new ground | iterations (first / later) | flicker | vs independent | style "
             "loss, later frames | vs independent (last frame) | s / first frame | s / later frame |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        later = r["frame_iterations"] if r["temporal_weight"] else r["iterations"]
        ground = r.get("new_ground", "photo") if r["temporal_weight"] else "–"
        last = f" ({r['style_vs_independent_last_frame']:.2f}×)" if "style_vs_independent_last_frame" in r else ""
        lines.append(f"| {r['clip']} | {r['temporal_weight']:g} | {ground} | {r['iterations']} / {later} | "
                     f"{r['flicker']:.2f} | {r['flicker_vs_independent']:.3f}× | {r['style_loss_later_frames']:.1f} | "
                     f"{r['style_vs_independent']:.2f}×{last} | {r['first_frame_s']:.1f} | {r['later_frame_s']:.1f} |")
    if data["timings"]:
        lines += ["", "| the pan, defaults | frames | s / first frame | s / later frame | CPU s in all |",
                  "|---|---|---|---|---|"]
        lines += [f"| {t['size']} px | {t['frames']} | {t['first_frame_s']:.1f} | {t['later_frame_s']:.1f} | "
                  f"{t['cpu_s']:.0f} |" for t in data["timings"]]
    return lines


def video_table(path: Path = VIDEO_RESULTS) -> list[str]:
    return video_rows(json.loads(path.read_text(encoding="utf-8")))


def video_flicker_table(path: Path = VIDEO_RESULTS) -> list[str]:
    """docs/video.md's short form: flicker with the defaults against independent frames, per clip."""
    data = json.loads(path.read_text(encoding="utf-8"))
    rows = data["rows"]
    lines = ["| clip | flicker, independent frames | flicker, with the temporal term | ratio | style loss ratio "
             "| s / later frame (independent → ours) |", "|---|---|---|---|---|---|"]
    for clip in dict.fromkeys(r["clip"] for r in rows):
        independent = next(r for r in rows if r["clip"] == clip and r["temporal_weight"] == 0)
        ours = [r for r in rows if r["clip"] == clip and r["temporal_weight"] and r.get("default")]
        for r in ours:
            lines.append(f"| {clip} | {independent['flicker']:.2f} | {r['flicker']:.2f} | "
                         f"{r['flicker_vs_independent']:.3f}× | {r['style_vs_independent']:.2f}× | "
                         f"{independent['later_frame_s']:.0f} → {r['later_frame_s']:.0f} |")
    return lines


TABLES = {"options": options_table, "presets": presets_table, "settings": settings_table,
          "scaleout": scaleout_table, "bench": bench_tables, "video": video_table,
          "videoflicker": video_flicker_table}

def update(path: Path) -> None:
    """Replace each table between ``<!-- NAME-table -->`` and ``<!-- /NAME-table -->``."""
    text = path.read_text(encoding="utf-8")
    for name, make in TABLES.items():
        start, end = f"<!-- {name}-table -->", f"<!-- /{name}-table -->"
        if start in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            text = head + start + "\n" + "\n".join(make()) + "\n" + end + tail
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("table", nargs="?", choices=sorted(TABLES), help="print this table")
    parser.add_argument("--update", nargs="*", metavar="FILE", help="rewrite the tables in these files "
                        "(default: README.md and docs/*.md)")
    args = parser.parse_args(argv)
    if args.update is not None:
        for doc in [Path(name) for name in args.update] or DOC_FILES:
            update(doc)
    elif args.table:
        print("\n".join(TABLES[args.table]()))
    else:
        parser.error("name a table, or --update")


if __name__ == "__main__":
    main()
