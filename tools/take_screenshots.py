"""Put the real main window, on the sample project, into a state worth a screenshot.

    ../shared/tools/screenshot docs/overview.png 20 .venv/bin/python tools/take_screenshots.py overview

STEP is one of: overview, predict, correct, training, layers (see STEPS below). The window is
1366x768 at the screen's top-left corner (crop the screenshot to that, e.g. with --crop).
Settings, user models and the sample project live in a fresh temporary folder, so the
user's own preferences and window layout never change a screenshot (and are never changed).

    python tools/take_screenshots.py --crop docs/overview.png   # crop a saved screen to the window
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

# SEGGUI_SHOT_SIZE=WxH (e.g. 1280x720) checks other screen sizes; the default is 1366x768.
WIDTH, HEIGHT = (int(v) for v in os.environ.get("SEGGUI_SHOT_SIZE", "1366x768").split("x"))
STEPS = {
    "overview": "image list with statuses, a reviewed image with its labels, the Layers dock",
    "predict": "a new image pre-segmented by the bundled model: the proposal outlined, the Model dock",
    "correct": "brush tool, zoomed in on an accepted proposal, the brush cursor over a cell",
    "training": "the Training dock with live curves from a short real fine-tuning run",
    "layers": "the image layer selected: contrast, colormap and gamma controls",
}


def crop(path: str) -> None:
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB").crop((0, 0, WIDTH, HEIGHT))
    # 256 colours keep each screenshot well under 400 KB; the UI's flat colours do not suffer.
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step", nargs="?", choices=sorted(STEPS))
    parser.add_argument("--crop", metavar="PNG", help="crop a saved screenshot to the window and exit")
    parser.add_argument("--quit-after", type=float, default=0, metavar="S",
                        help="quit S seconds after the state is reached (0: stay open)")
    args = parser.parse_args(argv)
    if args.crop:
        crop(args.crop)
        return 0
    if not args.step:
        parser.error("choose a STEP")

    scratch = Path(tempfile.mkdtemp(prefix="seggui-screens-"))
    os.environ["SEGGUI_CONFIG_DIR"] = str(scratch / "config")
    os.environ["SEGGUI_MODELS_DIR"] = str(scratch / "models")
    os.environ.setdefault("OMP_NUM_THREADS", "2")

    from PySide6.QtCore import QEvent, QPointF, Qt, QTimer
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    from seggui.app import create_application, create_main_window
    from seggui.sample_project import build_sample_project

    app = create_application([sys.argv[0]])
    window = create_main_window()
    window.resize(WIDTH, HEIGHT)
    window.move(0, 0)
    window.show()
    window.files.open_project(build_sample_project(scratch / "demo"))
    document = window.document
    panel, dock = window.model_panel, window.training_dock

    def entry(name: str):
        return next(e for e in document.images if e.source.path.name == name)

    def show(name: str):
        window.image_list.set_current_image(entry(name))
        return window.current_image()

    def after(ms: int, action) -> None:
        QTimer.singleShot(ms, action)

    def done() -> None:
        print(f"state reached: {args.step}", flush=True)
        if args.quit_after:
            after(int(args.quit_after * 1000), app.quit)

    def hover(x: float, y: float) -> None:
        canvas = window.canvas
        position = canvas.image_to_widget(QPointF(x, y))
        event = QMouseEvent(QEvent.Type.MouseMove, position, canvas.mapToGlobal(position),
                            Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(canvas, event)

    def wait_for(condition, then, every_ms: int = 200) -> None:
        if condition():
            then()
        else:
            after(every_ms, lambda: wait_for(condition, then, every_ms))

    # -- steps ---------------------------------------------------------------------------
    def overview() -> None:
        show("nuclei-5f9d29.png")
        window.docks["Layers"].raise_()
        done()

    def predict() -> None:
        show("nuclei-6bd18a.png")
        window.docks["Model"].raise_()
        panel.predict_button.click()
        wait_for(lambda: panel._job is None and panel._proposal is not None, done)

    def correct() -> None:
        current = show("nuclei-6bd18a.png")
        window.docks["Layers"].raise_()
        panel.predict_button.click()

        def accepted() -> None:
            panel.accept_button.click()
            layer = current.label_layers[0]
            import numpy as np

            # The cell nearest the image centre, so the zoomed view stays inside the image.
            ys, xs = np.nonzero(layer.data)
            height, width = layer.shape
            nearest = np.argmin((ys - height / 2) ** 2 + (xs - width / 2) ** 2)
            target = int(layer.data[ys[nearest], xs[nearest]])
            ys, xs = np.nonzero(layer.data == target)
            cy, cx = float(np.median(ys)), float(np.median(xs))
            window.tool_state.tool = "brush"
            window.tool_state.brush_radius = 6
            window.tool_state.label_id = target
            window.canvas.setFocus()
            window.canvas.set_zoom(4.0, window.canvas.image_to_widget(QPointF(cx, cy)))
            # Centre the cell, then rest the pointer on its edge: the brush circle shows there.
            centre = window.canvas.image_to_widget(QPointF(cx, cy))
            window.canvas.pan(window.canvas.width() / 2 - centre.x(), window.canvas.height() / 2 - centre.y())
            hover(float(xs.max()) + 2, cy)
            done()

        wait_for(lambda: panel._job is None and panel._proposal is not None, accepted)

    def training() -> None:
        show("nuclei-5f9d29.png")
        window.docks["Training"].raise_()
        dock.minutes_spin.setValue(1.0)  # still running when the screenshot is taken (~45 s)
        dock.crop_spin.setValue(128)
        dock.start_button.click()
        wait_for(lambda: len(dock.plot.epochs) >= 4 or not dock.is_running, done)

    def layers() -> None:
        current = show("phase-set1.png")
        window.docks["Layers"].raise_()
        window.set_current_layer(current.image_layer)
        done()

    after(500, {"overview": overview, "predict": predict, "correct": correct, "training": training,
                "layers": layers}[args.step])
    code = app.exec()
    if dock.is_running:
        dock.process.cancel()
        dock.process.wait()
    if document is not None:
        document.mark_clean()  # a scripted state, not work to save
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
