"""Reliability figures for issue 7, one JSON line each (crash, fuzz, open, edits, memory).

    python benchmarks/reliability.py [--kills 100] [--fuzz-cases 2400] [--data ../shared/data]

The crash campaign and the fuzzer run in their own processes (tests/reliability/
crash_harness.py and fuzz_runner.py, the same code the tests run), so a crash there
cannot hide the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))


def run_module(module: str, *arguments: str) -> dict:
    environment = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-m", module, *arguments], cwd=REPO_ROOT, env=environment,
                            capture_output=True, text=True)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if not lines:
        return {"error": f"{module} exited {result.returncode}: {result.stderr[-500:]}"}
    summary = json.loads(lines[-1])
    failures = [json.loads(line) for line in lines[:-1] if '"outcome"' in line
                and json.loads(line)["outcome"] not in ("ok", "refused")]
    if failures:
        summary["first_failures"] = failures[:3]
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fuzz-cases", type=int, default=2400)
    parser.add_argument("--data", type=Path, default=REPO_ROOT.parent / "shared" / "data")
    arguments = parser.parse_args()
    from tests.reliability.load_measurements import edit_timings, open_large_project, stroke_memory

    with tempfile.TemporaryDirectory() as workdir:
        print(json.dumps(run_module("tests.reliability.crash_harness", "--kills", str(arguments.kills),
                                    "--seed", str(arguments.seed), "--workdir", f"{workdir}/crash")), flush=True)
        if arguments.data.is_dir():
            print(json.dumps(run_module("tests.reliability.fuzz_runner", "--cases", str(arguments.fuzz_cases),
                                        "--seed", "11", "--workdir", f"{workdir}/fuzz",
                                        "--data", str(arguments.data))), flush=True)
        else:
            print(json.dumps({"benchmark": "fuzz", "skipped": f"no real data at {arguments.data}"}), flush=True)
        print(json.dumps({"benchmark": "open_2000_images", **open_large_project(Path(workdir) / "open")}), flush=True)
    print(json.dumps({"benchmark": "edit_100_vs_10000_instances", **edit_timings()}), flush=True)
    print(json.dumps({"benchmark": "memory_1000_strokes", **stroke_memory()}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
