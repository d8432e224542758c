"""Load figures shared by the tests and benchmarks/reliability.py.

- open_large_project: a project with N small images opens (Project.open + listing) quickly,
  because images are described by the catalogue and decoded only when shown.
- edit_timings: a brush stroke, a fill and a delete cost the same with 100 or 10,000
  instances in the layer (edits are sparse and local; nothing scans every instance).
- stroke_memory: over many strokes the undo stack stays within its budget and the
  process's resident memory stops growing.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import numpy as np

from seggui.core.document import Document
from seggui.core.layers import LabelLayer
from seggui.core.paint import StrokeRecorder, fill_command
from seggui.core.project import Project


def open_large_project(workdir: Path, images: int = 2000) -> dict:
    import cv2

    folder = Path(workdir) / "images"
    folder.mkdir(parents=True, exist_ok=True)
    generator = np.random.default_rng(0)
    for index in range(images):
        # Distinct content: the project refuses the same image twice.
        tile = generator.integers(0, 255, (16, 16), dtype=np.uint8)
        cv2.imwrite(str(folder / f"image{index:05d}.png"), tile)
    project = Project.create(Path(workdir) / "project")
    document = Document()
    added, problems = project.add_images(document, [folder])
    if problems or len(added) != images:
        raise AssertionError(f"{len(added)} images added, problems: {problems[:3]}")
    project.save(document)
    project.close()
    started = time.perf_counter()
    project, document = Project.open(Path(workdir) / "project")
    listing = [(entry.name, entry.status, entry.instance_count, entry.problem) for entry in document.images]
    seconds = time.perf_counter() - started
    loaded = sum(entry.loaded for entry in document.images)
    project.close()
    return {"images": len(listing), "open_seconds": round(seconds, 3), "loaded_after_open": loaded}


def layer_with_instances(count: int, shape: tuple[int, int] = (1000, 1000)) -> LabelLayer:
    """A grid of `count` square instances (ids 1..count) filling the image."""
    side = int(np.ceil(np.sqrt(count)))
    cell_height, cell_width = shape[0] // side, shape[1] // side
    data = np.zeros(shape, dtype=np.uint16)
    for index in range(count):
        row, column = divmod(index, side)
        y0, x0 = row * cell_height + 1, column * cell_width + 1
        data[y0:y0 + cell_height - 2, x0:x0 + cell_width - 2] = index + 1
    return LabelLayer(data)


def instance_center(count: int, instance_id: int, shape: tuple[int, int] = (1000, 1000)) -> tuple[int, int]:
    side = int(np.ceil(np.sqrt(count)))
    cell_height, cell_width = shape[0] // side, shape[1] // side
    row, column = divmod(instance_id - 1, side)
    return column * cell_width + cell_width // 2, row * cell_height + cell_height // 2


def _time_one_round(layer: LabelLayer, document: Document, count: int, generator: random.Random) -> tuple:
    from seggui.core.instance_edits import delete_instance_command

    height, width = layer.shape
    x, y = generator.uniform(100, width - 250), generator.uniform(100, height - 200)
    started = time.perf_counter()
    recorder = StrokeRecorder(layer, value=layer.next_free_id(), radius=8)
    for step in range(30):  # a 30-event drag, about 150 pixels long
        recorder.add_point(x + 5 * step, y + 2 * step)
    document.undo_stack.push(recorder.finish())
    stroke = time.perf_counter() - started

    # Fill one instance with a new id (a class-free recolour), then delete another one.
    fill_x, fill_y = instance_center(count, generator.randint(1, count))
    started = time.perf_counter()
    command = fill_command(layer, fill_x, fill_y, layer.next_free_id())
    if command is not None:
        document.undo_stack.push(command, execute=True)
    fill = time.perf_counter() - started

    victim_x, victim_y = instance_center(count, generator.randint(1, count))
    victim = int(layer.data[victim_y, victim_x])
    started = time.perf_counter()
    command = delete_instance_command(layer, victim) if victim else None
    if command is not None:
        document.undo_stack.push(command, execute=True)
    delete = time.perf_counter() - started
    return stroke, fill, delete


def edit_timings(small: int = 100, large: int = 10_000, repeats: int = 21) -> dict:
    """Median ms per edit; small and large rounds alternate so machine load hits both alike."""
    layers = {count: (layer_with_instances(count), Document()) for count in (small, large)}
    samples: dict[int, list[tuple]] = {small: [], large: []}
    generators = {count: random.Random(1) for count in (small, large)}
    for repeat in range(repeats + 2):
        for count, (layer, document) in layers.items():
            timing = _time_one_round(layer, document, count, generators[count])
            if repeat >= 2:  # the first rounds warm caches (instance boxes, imports)
                samples[count].append(timing)
    results = {}
    for count, values in samples.items():
        columns = list(zip(*values))
        results[count] = {name: round(1000 * float(np.median(column)), 2)
                          for name, column in zip(("stroke_ms", "fill_ms", "delete_ms"), columns)}
    ratios = {name: round(results[large][name] / max(results[small][name], 1e-3), 2) for name in results[small]}
    return {"instances_small": small, "instances_large": large, "small": results[small],
            "large": results[large], "ratio_large_over_small": ratios}


def resident_bytes() -> int:
    import os

    with open(f"/proc/{os.getpid()}/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def stroke_memory(strokes: int = 1000, budget_bytes: int = 4 * 1024 * 1024) -> dict:
    layer = LabelLayer.empty((1024, 1024))
    document = Document(undo_budget_bytes=budget_bytes)
    generator = random.Random(2)
    peak_stack = 0
    baseline = None
    for index in range(strokes):
        x, y = generator.uniform(0, 1000), generator.uniform(0, 1000)
        recorder = StrokeRecorder(layer, value=index % 500 + 1, radius=12)
        for step in range(20):
            recorder.add_point(x + 4 * step, y + 3 * step)
        command = recorder.finish()
        if command is not None:
            document.undo_stack.push(command)
        peak_stack = max(peak_stack, document.undo_stack.nbytes)
        if index == strokes // 10:
            baseline = resident_bytes()  # after warm-up: allocator pools and imports settled
    growth = resident_bytes() - (baseline or 0)
    return {"strokes": strokes, "undo_budget_bytes": budget_bytes, "undo_peak_bytes": peak_stack,
            "undo_steps_kept": len(document.undo_stack), "rss_growth_mb": round(growth / 2**20, 1)}
