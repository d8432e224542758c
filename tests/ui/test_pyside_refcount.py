"""Guard against PySide6 6.12.0's leak of a reference to None on every update()/processEvents()
(it aborts the application after a few thousand repaints). pyproject pins PySide6 < 6.12."""

from __future__ import annotations

import gc
import sys

import pytest
from PySide6.QtWidgets import QApplication, QLabel

REPAINTS = 5000
TOLERANCE = 100


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal on Python 3.12+: no refcount to drift")
def test_update_and_process_events_do_not_leak_none(qtbot):
    widget = QLabel("refcount")
    qtbot.addWidget(widget)
    widget.show()
    for _ in range(50):  # warm up caches that legitimately hold None once
        widget.update()
        QApplication.processEvents()
    gc.collect()  # garbage of earlier tests, freed during the loop, would move the count too
    before = sys.getrefcount(None)
    for _ in range(REPAINTS):
        widget.update()
        QApplication.processEvents()
    drift = sys.getrefcount(None) - before
    assert abs(drift) < TOLERANCE, f"None's refcount drifted by {drift} over {REPAINTS} repaints"
