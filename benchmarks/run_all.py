"""Run every benchmark in this folder and print one Markdown table of their figures.

    python benchmarks/run_all.py            # everything (the fine-tuning runs take ~50 min)
    python benchmarks/run_all.py --quick    # skips the fine-tuning and held-out DSB runs
    python benchmarks/run_all.py --only canvas_latency formats

Each benchmark prints JSON lines; every numeric field becomes a row. The raw lines are
kept with --json OUT.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, arguments, slow)
BENCHMARKS = [
    ("open_image.py", [], False),
    ("open_image.py", ["--compression", "zlib"], False),
    ("canvas_latency.py", [], False),
    ("canvas_latency.py", ["--size", "16384"], False),
    ("formats.py", [], False),
    ("polygon_exactness.py", [], False),
    ("inference.py", [], False),
    ("reliability.py", [], False),
    ("correction_effort.py", ["--images", str(HERE.parents[1] / "shared" / "data" / "cells" / "dsb2018"),
                              "--model", "nuclei", "--limit", "8"], False),
    ("assisted_latency.py", [], False),
    ("boxed_cells.py", ["--images", str(HERE.parents[1] / "shared" / "data" / "cells" / "dsb2018-extra"),
                        "--skip", "220", "--limit", "142"], False),
    ("heldout_dsb.py", [], True),
    ("finetune.py", [], True),
    ("verified_cells.py", [], True),
]


def machine() -> str:
    cores = os.cpu_count()
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    except Exception:
        gpu = "no GPU"
    return f"{platform.processor() or platform.machine()}, {cores} cores, {gpu}, Python {platform.python_version()}"


def run(script: str, arguments: list[str]) -> tuple[list[dict], str, float]:
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONUNBUFFERED="1")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, str(HERE / script), *arguments], capture_output=True,
                            text=True, env=environment)
    seconds = time.perf_counter() - start
    lines = []
    for line in result.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    error = "" if result.returncode == 0 else (result.stderr.strip().splitlines() or ["failed"])[-1]
    return lines, error, seconds


def rows_of(script: str, arguments: list[str], record: dict) -> list[tuple[str, str, str]]:
    label = " ".join([script.removesuffix(".py"), *arguments])
    for key in ("benchmark", "model", "zoom", "case"):
        if key in record and not isinstance(record[key], (int, float)):
            label += f" [{record[key]}]"
    rows = []
    for key, value in record.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        rows.append((label, key, f"{value:.4g}" if isinstance(value, float) else str(value)))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="skip the slow benchmarks")
    parser.add_argument("--only", nargs="*", help="run only these scripts (names without .py)")
    parser.add_argument("--json", type=Path, help="also write every raw JSON line here")
    args = parser.parse_args()
    print(f"Machine: {machine()}\n")
    print("| benchmark | figure | value |\n|---|---|---|")
    raw, failures = [], 0
    for script, arguments, slow in BENCHMARKS:
        if not (HERE / script).exists():
            continue
        if args.only and script.removesuffix(".py") not in args.only:
            continue
        if slow and args.quick:
            continue
        records, error, seconds = run(script, arguments)
        if error:
            failures += 1
            print(f"| {script} {' '.join(arguments)} | FAILED | {error[:120]} |")
        for record in records:
            raw.append({"script": script, "arguments": arguments, **record})
            for label, key, value in rows_of(script, arguments, record):
                print(f"| {label} | {key} | {value} |")
        sys.stdout.flush()
    if args.json:
        args.json.write_text("\n".join(json.dumps(r) for r in raw) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
