"""Python's cyclic garbage collection on the GUI thread only, while a window is open.

The collector runs on whichever thread allocates when a generation fills up. When that is a
worker thread (a prediction job, a background image load) and the garbage holds a Qt widget
in a reference cycle, the widget is destroyed on that thread: Qt forbids it, and with
PySide6 6.11 it crashes the process (a QWidget in a cycle collected from a Job: segmentation
fault) or deadlocks it (seen in a long random sitting: the worker blocked in
QObject::~QObject waiting for the GIL, the window waiting for the worker).

So while any window holds it, automatic collection is off and a timer on the GUI thread
collects with the interpreter's own thresholds (generation 0 when its count passes the first
threshold, older generations as theirs fill). Reference counting, which frees almost
everything, is untouched; only cycles wait, up to INTERVAL_MS.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Collects garbage on its (the GUI) thread, on a timer; see the module docstring."""

    def __init__(self, interval_ms: int = INTERVAL_MS, parent: QObject | None = None):
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self.collections = 0

    def start(self) -> None:
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Back to automatic collection, after collecting here what waited: re-enabled with
        widget cycles still pending, the next collection could again fall to a worker."""
        self._timer.stop()
        gc.collect()
        gc.enable()

    def collect_due(self) -> int | None:
        """Collect the generations whose counts passed their thresholds; the oldest collected."""
        counts = gc.get_count()
        if counts[0] <= self._thresholds[0]:
            return None
        generation = 0
        for older in (1, 2):
            if counts[older] > self._thresholds[older]:
                generation = older
        gc.collect(generation)
        self.collections += 1
        return generation


_collector: GuiThreadCollector | None = None
_holders = 0


def hold(window: QObject) -> GuiThreadCollector:
    """Collect on the GUI thread while `window` exists (call on the GUI thread)."""
    global _collector, _holders
    if _collector is None:
        _collector = GuiThreadCollector(parent=QCoreApplication.instance())
    if _holders == 0:
        _collector.start()
    _holders += 1
    window.destroyed.connect(_release)
    return _collector


def holders() -> int:
    """How many open windows hold GUI-thread collection (automatic collection is off while > 0)."""
    return _holders


def _release(*args) -> None:
    global _holders
    _holders = max(0, _holders - 1)
    if _holders == 0 and _collector is not None:
        # Not inside the window's destruction: from the event loop, if no window came since.
        QTimer.singleShot(0, _stop_if_unheld)


def _stop_if_unheld() -> None:
    if _holders == 0 and _collector is not None:
        _collector.stop()
