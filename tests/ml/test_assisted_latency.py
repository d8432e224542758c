"""benchmarks/assisted_latency.py end to end on a small tiled image: every gesture changes
the layer (the benchmark times real work, not refusals) and the figures are printed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "assisted_latency.py"
DSB = ROOT.parent / "shared" / "data" / "cells" / "dsb2018"


@pytest.mark.skipif(not DSB.is_dir(), reason="../shared/data/cells/dsb2018 is absent")
def test_the_latency_benchmark_times_gestures_that_change_the_layer():
    done = subprocess.run([sys.executable, str(SCRIPT), "--size", "512", "--count", "4", "--threads", "1",
                           "--budget-ms", "5000"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["size"] == 512 and result["within_budget"]
    for tool in ("add_cell", "box_cell", "split"):
        assert result[tool]["gestures"] == 4 and result[tool]["changed_layer"] == 4, result
