"""Memory while browsing a large project in the real window; prints one JSON line per run.

    python benchmarks/browse_memory.py                      # 500 images of 2048x2048 uint16
    python benchmarks/browse_memory.py --images 200 --budget-mb 512

Builds a project of synthetic 16-bit images (smooth patterns: small files, full-size pixels),
opens it in the main window (offscreen Qt) and shows every image in turn with Image > Next,
as a person paging through would, recording the process's resident memory. Each run is a
fresh process: the image cache with the given budget, and, as the baseline in the same
invocation, without a budget (every image viewed stays in memory, as before the cache).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def build(folder: Path, count: int, size: int) -> Path:
    import cv2
    import numpy as np

    from seggui.core.document import Document
    from seggui.core.project import Project

    images = folder / "images"
    images.mkdir(parents=True)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    for index in range(count):
        pattern = (np.sin(xx / (40 + index % 17)) + np.cos(yy / (30 + index % 13))) * 8000 + 20000 + index
        cv2.imwrite(str(images / f"img{index:04d}.png"), pattern.astype(np.uint16))
    project = Project.create(folder / "project")
    document = Document()
    project.add_images(document, [images])
    project.save(document)
    project.close()
    return folder / "project"


def browse(project: Path, budget_mb: int | None) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if budget_mb is not None:
        os.environ["SEGGUI_IMAGE_CACHE_MB"] = str(budget_mb)
    else:
        os.environ["SEGGUI_IMAGE_CACHE_MB"] = str(1 << 30)  # no effective limit: the old behaviour
    from PySide6.QtWidgets import QApplication

    from seggui.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    window = MainWindow(autosave_delay_ms=60_000)
    window.resize(1280, 720)
    window.show()
    window.files.open_project(project)
    app.processEvents()
    start_mb, peak_mb = rss_mb(), 0.0
    started = time.perf_counter()
    count = len(window.document.images)
    for _ in range(count - 1):
        window.menu_actions.next_image.trigger()
        app.processEvents()
        peak_mb = max(peak_mb, rss_mb())
    seconds = time.perf_counter() - started
    loaded = sum(1 for e in window.document.images if e.loaded)
    window.document.mark_clean()
    window.close()
    return {"benchmark": "browse_memory", "images": count, "budget_mb": budget_mb, "start_rss_mb": round(start_mb),
            "peak_rss_mb": round(peak_mb), "growth_mb": round(peak_mb - start_mb), "images_still_loaded": loaded,
            "seconds_per_image": round(seconds / max(count - 1, 1), 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--budget-mb", type=int, default=2048)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("PROJECT", "BUDGET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        budget = None if args.child[1] == "none" else int(args.child[1])
        print(json.dumps(browse(Path(args.child[0]), budget)), flush=True)
        return
    with tempfile.TemporaryDirectory(prefix="seggui-browse-") as scratch:
        project = build(Path(scratch), args.images, args.size)
        runs = [str(args.budget_mb)] + ([] if args.no_baseline else ["none"])
        for budget in runs:
            result = subprocess.run([sys.executable, __file__, "--child", str(project), budget],
                                    capture_output=True, text=True, cwd=ROOT)
            line = [l for l in result.stdout.splitlines() if l.startswith("{")]
            print(line[-1] if line else json.dumps({"benchmark": "browse_memory", "error": result.stderr[-2000:]}),
                  flush=True)


if __name__ == "__main__":
    main()
