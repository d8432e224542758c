"""The Model panel's progress row: a bar with Cancel, and a line of text under it that
says what the running job does, or what the last one did.

The panel connects Cancel to its own cancel and drives the rest: `busy` when a job starts,
`progress` as it goes, `idle` when it ended (with its summary).
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget


class RunProgress(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)  # lined up with the rest of the panel
        row = QHBoxLayout()
        self.bar = QProgressBar(self)
        row.addWidget(self.bar, 1)
        self.cancel_button = QPushButton("Cancel", self)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        layout.addWidget(self.label)

    def busy(self, text: str) -> None:
        """A job started: a busy bar until its first progress report."""
        self.bar.setTextVisible(True)
        self.bar.setRange(0, 0)
        self.label.setText(text)

    def progress(self, done: int, total: int, text: str) -> None:
        self.bar.setRange(0, total)
        self.bar.setValue(done)
        self.label.setText(text)

    def idle(self, text: str = "") -> None:
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.bar.setTextVisible(False)  # an idle "0%" reads like a stalled job
        self.label.setText(text)
