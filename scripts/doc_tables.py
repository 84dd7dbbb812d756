"""Print README's tables from the code, so the docs say what the code does.

    python scripts/doc_tables.py options   # the engine options and their defaults
    python scripts/doc_tables.py presets   # the named presets
    python scripts/doc_tables.py settings  # IMPASTO_* environment variables
    python scripts/doc_tables.py --update README.md   # rewrite the tables between their markers

tests/test_docs.py checks that README.md contains exactly these rows.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.cli import TRANSFER_FLAGS
from app.config import DOCUMENTED, SCALE_OUT_DOCUMENTED
from app.nst.options import PRESET_DESCRIPTIONS, PRESETS, _fmt, option_specs

CLI_ONLY_AS_SWITCH = {"preserve_colors": "--preserve-colors"}


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
                else f"{_fmt(spec.minimum)} – {_fmt(spec.maximum)}" if spec.minimum is not None else "")
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


TABLES = {"options": options_table, "presets": presets_table, "settings": settings_table,
          "scaleout": scaleout_table}

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


if __name__ == "__main__":
    if sys.argv[1] == "--update":
        update(Path(sys.argv[2]))
    else:
        print("\n".join(TABLES[sys.argv[1]]()))
