"""benchmarks/boxed_cells.py: missed cells found, clicked, boxed tight and loose."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    name = "boxed_cells_benchmark"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "boxed_cells.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_a_missed_bright_nucleus_is_found_by_its_box_tight_and_loose():
    bench = load_benchmark()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:96, :96]
    first = (yy - 30) ** 2 + (xx - 30) ** 2 <= 9 ** 2
    second = (yy - 60) ** 2 + (xx - 64) ** 2 <= 10 ** 2
    image = np.clip(20 + rng.normal(0, 3, (96, 96)) + 150 * (first | second), 0, 255).astype(np.uint8)
    truth = first.astype(np.int64) + 2 * second
    labels = first.astype(np.uint16)  # the proposal found the first nucleus only
    counts = bench.boxed(image, truth, labels, None, [0.0, 0.3], every=True)
    assert counts["missed"] == 1 and counts["click_found"] == 1 and counts["boxed"] == 1
    assert counts["box_found"] == {"0.0": 1, "0.3": 1}
    assert bench.boxed(image, truth, labels, None, [0.0])["boxed"] == 0  # the click found it: no box
    assert bench.grown_box(second, 0.0) == (49, 53, 72, 76)
    assert bench.grown_box(second, 0.3) == (43, 47, 78, 82)
