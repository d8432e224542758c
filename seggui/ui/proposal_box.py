"""The Model panel's "Proposal" box: what the proposal over the image holds (a
seggui.core.prediction_run.Proposal), with Accept and Discard.

The panel connects the two buttons to its own accept and discard, and calls `show_proposal` when
the proposal changes and `update_enabled` when a job starts or ends.
"""

from __future__ import annotations

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from seggui.core.prediction_run import Proposal


class ProposalBox(QGroupBox):
    def __init__(self, parent: QWidget | None = None):
        super().__init__("Proposal", parent)
        layout = QVBoxLayout(self)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        self.accept_button = QPushButton("Accept", self)
        self.accept_button.setToolTip("Put the proposal into the label layer (one undo step)")
        self.discard_button = QPushButton("Discard", self)
        row.addWidget(self.accept_button)
        row.addWidget(self.discard_button)
        layout.addLayout(row)

    def show_proposal(self, proposal: Proposal | None) -> None:
        # Counting the cells reads every pixel: done when the proposal changes, not per edit.
        if proposal is None:
            self.label.setText("Pre-segment an image to see the model's proposal over it.")
        else:
            self.label.setText(f"{proposal.count} objects proposed by {proposal.model} (outlined). "
                               "Accept puts them into the label layer as one undo step.")

    def update_enabled(self, has_proposal: bool, running: bool) -> None:
        self.accept_button.setEnabled(has_proposal and not running)  # a running job may bring another
        self.discard_button.setEnabled(has_proposal)
