"""benchmarks/correction_effort.py: errors found, actions counted, the script end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "correction_effort.py"


def load_benchmark():
    # benchmarks/ is not a package: load the script by path.
    name = "correction_effort_benchmark"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def disc(shape, row, col, radius):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - row) ** 2 + (xx - col) ** 2 <= radius ** 2


def scene():
    """Five true nuclei; the proposal gets one right, misses one, adds a false one, merges a
    touching pair and splits one in two."""
    shape = (128, 128)
    a, b = disc(shape, 25, 25, 9), disc(shape, 25, 75, 9)
    d, e = disc(shape, 75, 20, 9), disc(shape, 75, 40, 9)
    f = disc(shape, 75, 90, 10)
    false = disc(shape, 112, 112, 6)
    truth = np.zeros(shape, np.int32)
    for index, mask in enumerate((a, b, d, e, f), start=1):
        truth[mask] = index
    rng = np.random.default_rng(0)
    image = 20 + rng.normal(0, 3, shape)
    image[truth > 0] += 160
    image[false] += 60  # something faint the model took for a cell
    image = np.clip(image, 0, 255).astype(np.uint8)

    labels = np.zeros(shape, np.uint16)
    labels[a] = 1  # right
    bridge = np.zeros(shape, bool)
    bridge[73:78, 20:41] = True
    labels[d | e | bridge] = 2  # the touching pair as one cell
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    labels[f & (xx < 90)] = 3  # one nucleus in two pieces
    labels[f & (xx >= 90)] = 4
    labels[false] = 5  # nothing there
    scores = {1: 0.95, 2: 0.3, 3: 0.45, 4: 0.5, 5: 0.2}
    probability = np.full(shape, 0.03, np.float32)
    probability[truth > 0] = 0.9
    probability[false] = 0.6
    return image, truth, SimpleNamespace(labels=labels, scores=scores, probability=probability)


def test_simulate_finds_the_planted_errors_and_counts_actions():
    bench = load_benchmark()
    image, truth, prediction = scene()
    result = bench.simulate(image, truth, prediction)
    assert result["errors_by_kind"] == {"missed": 1, "false": 1, "merged": 1, "split": 1}
    by_kind = {e["kind"]: e for e in result["errors"]}
    assert by_kind["missed"]["true_ids"] == [2]
    assert by_kind["false"]["pred_ids"] == [5]
    assert by_kind["merged"] == {"kind": "merged", "true_ids": [3, 4], "pred_ids": [2]}
    assert by_kind["split"] == {"kind": "split", "true_ids": [5], "pred_ids": [3, 4]}
    # A radius-9 disc's outline is 60-72 px: 6 polygon vertices.
    assert len(bench.outline_vertices(truth == 2)) == 6
    manual = 1 + 6 + (1 + 6 + 6) + 2  # delete, polygon, delete + 2 polygons, merge
    assert result["manual_actions"] == manual
    assert result["assisted_actions"] < result["manual_actions"]
    assert result["assisted_ap50_after"] >= 0.9
    assert result["manual_ap50_after"] >= 0.9
    assert result["ap50_before"] < 0.5
    assert len(result["assisted_ms"]) >= 2  # the split and the add_cell click were timed
    assert result["assisted_outcomes"] == {"add_cell_kept": 1, "split_kept": 1, "pieces_merged": 1}


def test_split_pieces_covering_too_little_are_deleted_and_the_cell_drawn_again():
    """Two small pieces inside a large true cell: merging them still misses the cell (IoU < 0.5),
    so the person deletes the merged cell and draws the cell (a polygon by hand, a click when
    assisted); both passes end with the cell matched."""
    bench = load_benchmark()
    shape = (96, 96)
    cell = disc(shape, 48, 48, 20)
    truth = cell.astype(np.int32)
    labels = np.zeros(shape, np.uint16)
    labels[disc(shape, 40, 40, 5)] = 1
    labels[disc(shape, 56, 56, 5)] = 2
    image = np.where(cell, 200, 20).astype(np.uint8)
    probability = np.where(cell, 0.9, 0.02).astype(np.float32)
    prediction = SimpleNamespace(labels=labels, scores={1: 0.4, 2: 0.4}, probability=probability)
    result = bench.simulate(image, truth, prediction)
    assert result["errors_by_kind"] == {"missed": 0, "false": 0, "merged": 0, "split": 1}
    vertices = len(bench.outline_vertices(cell))
    assert result["manual_actions"] == 2 + 1 + vertices  # merge, delete, polygon
    assert result["manual_ap50_after"] == 1.0 and result["assisted_ap50_after"] == 1.0
    assert result["assisted_outcomes"]["pieces_redrawn"] == 1
    assert result["assisted_actions"] < result["manual_actions"]


def test_review_order_puts_low_scores_first_and_missed_cells_last():
    bench = load_benchmark()
    image, truth, prediction = scene()
    errors = bench.find_errors(truth, prediction.labels, prediction.scores)
    assert [e.kind for e in bench.review_order(errors)] == ["false", "merged", "split", "missed"]


def write_folder(root: Path) -> tuple[Path, Path]:
    import cv2

    images, masks = root / "images", root / "masks"
    images.mkdir()
    masks.mkdir()
    shape = (96, 96)
    for index, centres in enumerate([[(25, 25), (30, 65), (70, 45)], [(20, 70), (65, 25)]]):
        truth = np.zeros(shape, np.uint8)
        for label, (row, col) in enumerate(centres, start=1):
            truth[disc(shape, row, col, 8)] = label
        image = np.where(truth > 0, 200, 25).astype(np.uint8)
        cv2.imwrite(str(images / f"img{index}.png"), image)
        cv2.imwrite(str(masks / f"img{index}.png"), truth)
    return images, masks


def test_main_runs_end_to_end_with_the_classic_model(tmp_path):
    images, masks = write_folder(tmp_path)
    out = tmp_path / "out.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--images", str(images), "--masks", str(masks), "--model", "classic",
         "--threads", "1", "--verbose", "--json", str(out)],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    for key in ("images", "errors_before", "manual_actions", "assisted_actions", "manual_ap50_after",
                "assisted_ap50_after", "ap50_before", "assisted_ms_median", "assisted_ms_max"):
        assert key in result
    assert result["images"] == 2 and len(result["per_image"]) == 2
    assert json.loads(out.read_text())["manual_actions"] == result["manual_actions"]


def write_dsb_folder(root: Path, stems: list[str]) -> Path:
    """A DSB2018-layout folder: <stem>/images/<stem>.png and one mask file per nucleus."""
    import cv2

    shape = (64, 64)
    for stem in stems:
        (root / stem / "images").mkdir(parents=True)
        (root / stem / "masks").mkdir()
        image = np.full(shape, 20, np.uint8)
        for index, (row, col) in enumerate([(20, 20), (40, 44)]):
            nucleus = disc(shape, row, col, 7)
            image[nucleus] = 210
            cv2.imwrite(str(root / stem / "masks" / f"m{index}.png"), nucleus.astype(np.uint8) * 255)
        cv2.imwrite(str(root / stem / "images" / f"{stem}.png"), image)
    return root


def test_heldout_keeps_only_the_test_split_of_every_folder(tmp_path):
    from seggui.ml.dsb import HELDOUT_PERCENT
    from seggui.ml.training.data import heldout_by_hash

    stems = [f"stem{index:03d}" for index in range(40)]
    held = [stem for stem in stems if heldout_by_hash(stem, HELDOUT_PERCENT)]
    assert 0 < len(held) < len(stems)  # the fixture has both kinds
    first = write_dsb_folder(tmp_path / "a", stems[:20])
    second = write_dsb_folder(tmp_path / "b", stems[20:])
    benchmark = load_benchmark()
    result = benchmark.run([first, second], None, "classic", threads=1, verbose=True, heldout=True)
    assert [row["stem"] for row in result["per_image"]] == sorted(held)
    everything = benchmark.run([first, second], None, "classic", threads=1)
    assert everything["images"] == len(stems)
