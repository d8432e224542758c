"""The Review queue dock: the cells of the image on screen, least confident first.

A model's confidence in each accepted cell is kept in the label layer's
`instance_info[id]["score"]` (seggui.core.proposals). This dock lists the layer's cells by
that score (cells without one last, by id) with their area and a "verified" mark, and gives
keys to walk them: next doubtful cell (centred and zoomed on the canvas), mark it verified
(`instance_info[id]["verified"]`, one undo step, saved with the layer), delete it (one undo
step), or fix it with whatever tool is active. The list follows every edit, undo and redo of
the layer. With "Go on to the next image", D walks past the image's last doubtful cell to the
next image in correction order (seggui.core.correction_order: most expected wrong cells first),
so one key walks the whole project's doubtful cells.

    from seggui.ui.review_queue import install_review_queue
    queue = install_review_queue(window)
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from seggui.core.correction_order import next_to_correct

from seggui.core.instance_edits import CompositeCommand, delete_instance_command, instance_boxes
from seggui.core.layers import LabelLayer
from seggui.core.undo import CallbackCommand
from seggui.ui.canvas import Canvas

NEXT_KEY = "D"  # next doubtful cell
VERIFY_KEY = "V"  # mark the selected cell verified (again: not verified)
DELETE_KEY = "Shift+Del"  # delete the selected cell
DOUBTFUL_BELOW = 0.5  # a score under this is drawn in red in the list
CONTEXT = 3.0  # the view shows about this many times the cell's size around it
# No closer than this: a small cell at 16x fills the view with pixels and hides its neighbours,
# which a person needs to judge it.
REVIEW_MAX_ZOOM = 6.0


def review_order(layer: LabelLayer) -> list[tuple[int, float | None, int, bool]]:
    """(id, score, area, verified) for every cell of `layer`: by score, lowest first; cells
    without a score last, by id."""
    counts = np.bincount(layer.data.ravel()) if layer.data.size else np.zeros(1, np.int64)
    rows = []
    for cell in np.flatnonzero(counts).tolist():
        if cell == 0:
            continue
        info = layer.instance_info.get(cell, {})
        score = info.get("score")
        score = float(score) if isinstance(score, (int, float)) else None
        rows.append((cell, score, int(counts[cell]), bool(info.get("verified", False))))
    rows.sort(key=lambda row: (row[1] is None, row[1] if row[1] is not None else 0.0, row[0]))
    return rows


def verify_command(layer: LabelLayer, instance_id: int, verified: bool) -> CallbackCommand:
    """An unapplied step setting (or clearing) `instance_info[instance_id]["verified"]`."""
    old = dict(layer.instance_info[instance_id]) if instance_id in layer.instance_info else None
    new = dict(old or {})
    if verified:
        new["verified"] = True
    else:
        new.pop("verified", None)

    def put(value: dict | None):
        def run() -> None:
            if value is None:
                layer.instance_info.pop(instance_id, None)
            else:
                layer.instance_info[instance_id] = dict(value)
            layer.instances_changed.emit()
        return run

    text = f"mark cell {instance_id} {'verified' if verified else 'not verified'}"
    return CallbackCommand(text, put(new), put(old))


class ReviewQueue(QWidget):
    COLUMNS = ("Cell", "Score", "Area", "Verified")

    def __init__(self, window, parent: QWidget | None = None):
        super().__init__(parent)
        self.window = window
        self._layer: LabelLayer | None = None
        self._rows: list[tuple[int, float | None, int, bool]] = []
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(100)  # a brush stroke announces many rects: list once
        self._refresh_timer.timeout.connect(self.refresh)

        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(self.COLUMNS), self)
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(lambda row, column: self.show_cell(self._rows[row][0]))
        self.table.itemSelectionChanged.connect(self._mark_selected)  # framed in yellow on the canvas
        self._listed_layer: LabelLayer | None = None  # the layer self._rows list

        self.next_action = self._action("Next doubtful cell", NEXT_KEY, self.next_doubtful,
                                        "Select the next cell not yet verified, least confident first, "
                                        "and zoom the view to it")
        self.verify_action = self._action("Mark cell verified", VERIFY_KEY, self.toggle_verified,
                                          "Mark the selected cell verified (again: not verified)")
        self.delete_action = self._action("Delete cell", DELETE_KEY, self.delete_selected,
                                          "Delete the selected cell (one undo step)")
        # View > Colour outlines by confidence (no key): red-to-green by score, blue without one.
        self.confidence_colours = QAction("Colour outlines by &confidence", window)
        self.confidence_colours.setCheckable(True)
        self.confidence_colours.setStatusTip("Colour cells red (doubtful) to green (confident) by the model's "
                                             "score; blue: no score, such as a cell a person drew")
        self.confidence_colours.toggled.connect(lambda checked: self._apply_colouring())
        view_menu = window.menu_actions.view_menu
        view_menu.insertAction(view_menu.actions()[2] if len(view_menu.actions()) > 2 else None,
                               self.confidence_colours)
        window.document_changed.connect(lambda document: self._apply_colouring())  # a new canvas
        buttons = QHBoxLayout()
        for action in (self.next_action, self.verify_action, self.delete_action):
            button = QPushButton(action.text(), self)
            button.setToolTip(action.toolTip())
            button.clicked.connect(action.trigger)
            buttons.addWidget(button)
        self.across_images = QCheckBox("Go on to the next image", self)
        self.across_images.setToolTip(f"{NEXT_KEY} after an image's last doubtful cell opens the image with the most "
                                      "expected wrong cells that is not reviewed, at its least confident cell")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        layout.addWidget(self.across_images)
        layout.addWidget(self.table)

        window.current_image_changed.connect(lambda entry: self._follow_layer())
        window.current_layer_changed.connect(lambda layer: self._follow_layer())
        self._follow_layer()

    def _apply_colouring(self) -> None:
        canvas = self.window.canvas
        if isinstance(canvas, Canvas):  # not the placeholder shown while no project is open
            canvas.set_color_by_confidence(self.confidence_colours.isChecked())

    def _action(self, text: str, key: str, slot, tip: str) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(key))
        shown = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setStatusTip(tip)
        action.setToolTip(f"{tip} ({shown})")
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda checked=False: slot())
        self.window.addAction(action)
        return action

    # -- which layer -------------------------------------------------------------------
    @property
    def layer(self) -> LabelLayer | None:
        return self._layer

    def _shown_layer(self) -> LabelLayer | None:
        entry = self.window.current_image()
        if entry is None or not entry.loaded:
            return None
        current = self.window.current_layer()
        if isinstance(current, LabelLayer) and any(current is layer for layer in entry.label_layers):
            return current
        layers = entry.label_layers
        return layers[0] if layers else None

    def _follow_layer(self) -> None:
        layer = self._shown_layer()
        if layer is not self._layer:
            if self._layer is not None:
                self._layer.data_changed.disconnect(self._schedule_refresh)
                self._layer.instances_changed.disconnect(self._schedule_refresh)
            self._layer = layer
            if layer is not None:
                layer.data_changed.connect(self._schedule_refresh)
                layer.instances_changed.connect(self._schedule_refresh)
        self.refresh()

    def _schedule_refresh(self, *args) -> None:
        self._refresh_timer.start()

    # -- the list ----------------------------------------------------------------------
    def refresh(self) -> None:
        self._refresh_timer.stop()
        # Keep the selection across a refresh of the same layer (an edit), not onto another
        # image's cell that has the same id.
        selected = self.selected_id() if self._listed_layer is self._layer else None
        self._listed_layer = self._layer
        self._rows = review_order(self._layer) if self._layer is not None else []
        self.table.blockSignals(True)  # refilling the table is not a new selection
        self.table.setRowCount(len(self._rows))
        for row, (cell, score, area, verified) in enumerate(self._rows):
            texts = (str(cell), "—" if score is None else f"{score:.2f}", str(area), "✓" if verified else "")
            for column, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, cell)
                if column == 1 and score is not None and score < DOUBTFUL_BELOW and not verified:
                    item.setForeground(Qt.GlobalColor.red)
                self.table.setItem(row, column, item)
        self.table.clearSelection()
        self.table.blockSignals(False)
        scored = sum(1 for row in self._rows if row[1] is not None)
        done = sum(1 for row in self._rows if row[3])
        if self._layer is None:
            self.summary.setText("No label layer on screen.")
        else:
            self.summary.setText(f"{len(self._rows)} cells, {scored} with a model score, {done} verified. "
                                 f"{NEXT_KEY}: next doubtful cell, {VERIFY_KEY}: verified, "
                                 f"Shift+Delete: delete it, or fix it with the active tool.")
        if selected is None or not self.select(selected, show=False):
            self._mark_selected()
        has = self._layer is not None and bool(self._rows)
        self.next_action.setEnabled(has)

    def rows(self) -> list[tuple[int, float | None, int, bool]]:
        return list(self._rows)

    def selected_id(self) -> int | None:
        row = self.table.currentRow()
        if 0 <= row < len(self._rows) and self.table.selectionModel().isRowSelected(row):
            return self._rows[row][0]
        return None

    def select(self, cell: int, show: bool = True) -> bool:
        for row, values in enumerate(self._rows):
            if values[0] == cell:
                self.table.selectRow(row)
                self.table.scrollToItem(self.table.item(row, 0))
                if show:
                    self.show_cell(cell)
                return True
        self.table.clearSelection()
        return False

    def _mark_selected(self) -> None:
        canvas = self.window.canvas
        if isinstance(canvas, Canvas):
            canvas.mark_cell(self._layer, self.selected_id())

    # -- actions -----------------------------------------------------------------------
    def next_doubtful(self) -> int | None:
        """Select the next cell after the selected one (in review order) that is not verified,
        wrapping around; centre the view on it. Returns its id, or None when all are verified."""
        if self._refresh_timer.isActive():
            self.refresh()
        selected = self.selected_id()
        start = next((i + 1 for i, row in enumerate(self._rows) if row[0] == selected), 0)
        count = len(self._rows)
        across = self.across_images.isChecked()
        # Across images the walk goes on to the next image instead of wrapping around this one.
        for step in range(count - start if across else count):
            cell, _, _, verified = self._rows[(start + step) % count]
            if not verified:
                self.select(cell)
                return cell
        if across:
            return self._next_image_cell()
        if self._rows:
            self.summary.setText("Every cell is verified.")
        return None

    def _next_image_cell(self) -> int | None:
        """Open the next image in correction order and select its first unverified cell."""
        document, here = self.window.document, self.window.current_image()
        visited = {id(here)}
        entry = next_to_correct(document.images, here) if document is not None else None
        while entry is not None and id(entry) not in visited:
            visited.add(id(entry))
            self.window.image_list.set_current_image(entry)
            self._follow_layer()
            cell = next((row[0] for row in self._rows if not row[3]), None)
            if cell is not None:
                self.select(cell)
                return cell
            entry = next_to_correct(document.images, entry)
        self.summary.setText("No doubtful cell left on the images that are not reviewed.")
        return None

    def show_cell(self, cell: int) -> None:
        """Centre the canvas on the cell, zoomed so it fills about a third of the view."""
        layer, canvas = self._layer, self.window.canvas
        box = instance_boxes(layer).box(cell) if layer is not None else None
        if box is None or not isinstance(canvas, Canvas):
            return
        y0, x0, y1, x1 = box
        width, height = max(1, canvas.width()), max(1, canvas.height())
        zoom = min(width / ((x1 - x0) * CONTEXT), height / ((y1 - y0) * CONTEXT), REVIEW_MAX_ZOOM)
        canvas.set_zoom(zoom)
        centre = canvas.image_to_widget(QPointF((x0 + x1) / 2, (y0 + y1) / 2))
        canvas.pan(width / 2 - centre.x(), height / 2 - centre.y())

    def toggle_verified(self) -> None:
        cell, layer = self.selected_id(), self._layer
        if cell is None or layer is None:
            return
        verified = not bool(layer.instance_info.get(cell, {}).get("verified", False))
        document = self.window.document
        document.undo_stack.push(verify_command(layer, cell, verified), execute=True,
                                 entry=document.entry_of_layer(layer))
        self.refresh()

    def delete_selected(self) -> None:
        cell, layer = self.selected_id(), self._layer
        if cell is None or layer is None:
            return
        if layer.locked:
            self.summary.setText(f"Layer {layer.name} is locked; unlock it to delete cells.")
            return
        command = delete_instance_command(layer, cell)
        if command is None:
            return
        document = self.window.document
        entry = document.entry_of_layer(layer)
        # Like the delete tool: a person's edit makes a new or predicted image "edited" in the same step.
        status = document.person_edit_status(entry) if entry is not None else None
        if status is not None:
            command = CompositeCommand(command.description, [command, status])
        row = next((i for i, values in enumerate(self._rows) if values[0] == cell), 0)
        document.undo_stack.push(command, execute=True, entry=entry)
        self.refresh()
        if self._rows:  # keep the place in the list: the cell that took its row
            self.select(self._rows[min(row, len(self._rows) - 1)][0], show=False)


def install_review_queue(window) -> ReviewQueue:
    """Add the Review queue dock on the right (tabbed with the Model dock); returns its widget."""
    queue = ReviewQueue(window)
    window.add_dock("Review queue", queue, Qt.DockWidgetArea.RightDockWidgetArea)
    return queue
