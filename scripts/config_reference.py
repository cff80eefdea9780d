"""Rewrite the settings reference in docs/configuration.md from .env.sample (the one hand-kept list).

    python scripts/config_reference.py

Everything between the BEGIN/END markers in docs/configuration.md is replaced; the rest is left as written.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / ".env.sample"
DOC = ROOT / "docs" / "configuration.md"
BEGIN, END = "<!-- BEGIN settings reference -->", "<!-- END settings reference -->"
ENTRY = re.compile(r"^#\s?([A-Za-z][A-Za-z0-9_]*)=(.*)$")
SECTION = re.compile(r"^# === (.+?) =+$")


def reference() -> str:
    out: list[str] = []
    comment: list[str] = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        if (section := SECTION.match(line)) is not None:
            out += ["", f"### {section.group(1)}", "", "| variable | default | meaning |", "|---|---|---|"]
            comment = []
        elif (entry := ENTRY.match(line)) is not None:
            text = " ".join(comment).replace("|", "\\|")
            default = f"`{entry.group(2)}`" if entry.group(2) else "(empty)"
            out.append(f"| `{entry.group(1)}` | {default.replace('|', chr(92) + '|')} | {text} |")
            comment = []
        elif line.startswith("# ") and out:
            comment.append(line[2:].strip())
        elif not line.strip():
            comment = []
    return "\n".join(out).strip() + "\n"


def main() -> None:
    doc = DOC.read_text(encoding="utf-8")
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    DOC.write_text(f"{head}{BEGIN}\n{reference()}{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
