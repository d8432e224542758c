"""Brush latency of the real canvas on a huge image, through Qt's event path.

    QT_QPA_PLATFORM=offscreen python benchmarks/canvas_latency.py [--size 8192] [--events 300]

Generates a uint16 image with about 5,000 labelled cells, opens it in a 1600x1000 canvas,
and feeds brush strokes (radius 25) as QMouseEvents at 1:1 zoom and at fit-to-window,
processing the resulting repaint after each event. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QMouseEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from seggui.core.document import Document, ImageEntry, ImageSource  # noqa: E402
from seggui.core.layers import ImageLayer, LabelLayer  # noqa: E402
from seggui.core.tools import ToolState  # noqa: E402
from seggui.ui.canvas import Canvas  # noqa: E402


def synthetic(size: int, cells: int = 5000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A grid of round cells (one id each) and a noisy uint16 image of them."""
    per_side = int(np.ceil(np.sqrt(cells)))
    pitch = size // per_side
    yy, xx = np.mgrid[:pitch, :pitch]
    disc = ((yy - pitch / 2) ** 2 + (xx - pitch / 2) ** 2) <= (pitch * 0.4) ** 2
    ids = np.arange(1, per_side * per_side + 1, dtype=np.uint16).reshape(per_side, per_side)
    labels = np.zeros((size, size), dtype=np.uint16)
    core = np.repeat(np.repeat(ids, pitch, axis=0), pitch, axis=1) * np.tile(disc, (per_side, per_side))
    labels[:core.shape[0], :core.shape[1]] = core
    rng = np.random.default_rng(seed)
    image = rng.integers(100, 400, size=(size, size), dtype=np.uint16)
    image[labels > 0] += 2000
    return image, labels


def mouse(kind: QEvent.Type, position: QPointF, button: Qt.MouseButton, buttons: Qt.MouseButton) -> QMouseEvent:
    return QMouseEvent(kind, position, position, button, buttons, Qt.KeyboardModifier.NoModifier)


def stroke_path(events: int, width: int, height: int, step: float = 4.0) -> list[QPointF]:
    """A zig-zag through the middle of the view: steady moves like a hand-drawn stroke."""
    points, x, y, direction = [], width * 0.3, height * 0.3, 1.0
    for _ in range(events):
        x += step * direction
        if not width * 0.3 <= x <= width * 0.7:
            direction = -direction
            y += 30
        points.append(QPointF(x, y))
    return points


def run_stroke(app: QApplication, canvas: Canvas, events: int) -> list[float]:
    path = stroke_path(events, canvas.width(), canvas.height())
    canvas.mousePressEvent(mouse(QEvent.Type.MouseButtonPress, path[0], Qt.MouseButton.LeftButton,
                                 Qt.MouseButton.LeftButton))
    app.processEvents()
    times = []
    for point in path:
        started = time.perf_counter()
        QApplication.sendEvent(canvas, mouse(QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton,
                                             Qt.MouseButton.LeftButton))
        app.processEvents()  # delivers the pending UpdateRequest: the dirty rect is painted now
        times.append((time.perf_counter() - started) * 1000.0)
    QApplication.sendEvent(canvas, mouse(QEvent.Type.MouseButtonRelease, path[-1], Qt.MouseButton.LeftButton,
                                         Qt.MouseButton.NoButton))
    app.processEvents()
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {"median_ms": round(statistics.median(ordered), 3),
            "p99_ms": round(ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--cells", type=int, default=5000)
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv)
    image, labels = synthetic(args.size, args.cells)

    paints = [0]

    class CountingCanvas(Canvas):
        def paintEvent(self, event):  # noqa: N802 - Qt override
            paints[0] += 1
            super().paintEvent(event)

    started = time.perf_counter()
    document = Document()
    entry = ImageEntry(ImageSource(Path("synthetic.tif"), args.size, args.size, 1, "uint16"))
    label_layer = LabelLayer(labels)
    entry.set_layers([ImageLayer(image), label_layer])
    document.add_image(entry)
    state = ToolState(tool="brush", brush_radius=25, label_id=label_layer.next_free_id())
    canvas = CountingCanvas(document, state)
    canvas.resize(1600, 1000)
    canvas.show()
    canvas.set_image(entry)
    canvas.repaint()
    app.processEvents()
    open_s = time.perf_counter() - started

    results: dict[str, dict[str, float]] = {}
    all_times: list[float] = []
    for name, setup in (("one_to_one", canvas.zoom_1to1), ("fit", canvas.fit_to_window)):
        setup()
        canvas.repaint()
        app.processEvents()
        before = paints[0]
        times = run_stroke(app, canvas, args.events)
        if paints[0] - before < args.events // 2:
            raise SystemExit(f"only {paints[0] - before} repaints for {args.events} events: not measuring paint")
        results[name] = {**summary(times), "level": canvas.level, "zoom": round(canvas.zoom, 4),
                         "repaints": paints[0] - before}
        all_times += times

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    report = {"size": args.size, "events": args.events, **summary(all_times), "open_s": round(open_s, 3),
              "rss_mb": round(maxrss / 1024.0, 1), "instances": int(label_layer.max_id), **results,
              "undo_steps": len(document.undo_stack)}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
