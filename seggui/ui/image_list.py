"""The image list: every image of the project with its status and instance count.

A Qt model over `document.images` (the document stays the source of truth) with a status
filter, plus next / previous / next-unreviewed navigation.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from seggui.core.correction_order import entry_doubt, next_to_correct
from seggui.core.entry_counts import recount_entry
from seggui.core.document import Document, ImageEntry

# Status colours are fixed (they carry meaning) and chosen to read on light and dark themes.
STATUS_COLORS = {"new": QColor(140, 140, 140), "edited": QColor(86, 180, 233), "predicted": QColor(230, 159, 0),
                 "reviewed": QColor(0, 158, 115)}
STATUS_TEXT = {"new": "new", "edited": "edited", "predicted": "predicted", "reviewed": "reviewed"}
PROBLEM_COLOR = QColor(213, 94, 0)
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1
STATUS_ROLE = Qt.ItemDataRole.UserRole + 2

# filter label -> statuses shown
FILTERS: dict[str, tuple[str, ...]] = {
    "All images": ("new", "edited", "predicted", "reviewed"),
    "Not reviewed": ("new", "edited", "predicted"),
    "New": ("new",),
    "Edited": ("edited",),
    "Predicted": ("predicted",),
    "Reviewed": ("reviewed",),
}


def status_icon(color: QColor, size: int = 12) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    painter.drawEllipse(1, 1, size - 2, size - 2)
    painter.end()
    return QIcon(pixmap)


class ImageListModel(QAbstractTableModel):
    """Columns: name (with a status dot), status, instances, expected wrong cells."""

    HEADERS = ("Image", "Status", "Cells", "Doubt")

    RECOUNT_DELAY_MS = 300  # a burst of strokes or Ctrl+Z presses is counted once

    def __init__(self, parent=None):
        super().__init__(parent)
        self._document: Document | None = None
        self._icons = {status: status_icon(color) for status, color in STATUS_COLORS.items()}
        self._problem_icon = status_icon(PROBLEM_COLOR)
        # Cells follow edits (strokes, undo, redo) before any save: only the images whose
        # history moved are recounted, once the edits pause.
        self._recount_ids: set[str] = set()
        self._recount_timer = QTimer(self)
        self._recount_timer.setSingleShot(True)
        self._recount_timer.setInterval(self.RECOUNT_DELAY_MS)
        self._recount_timer.timeout.connect(self.recount_pending)

    @property
    def document(self) -> Document | None:
        return self._document

    def set_document(self, document: Document | None) -> None:
        self.beginResetModel()
        if self._document is not None:
            self._document.image_added.disconnect(self._on_images_changed)
            self._document.image_removed.disconnect(self._on_images_changed)
            self._document.status_changed.disconnect(self._on_status_changed)
            self._document.undo_stack.edited.disconnect(self._on_edited)
        self._document = document
        self._recount_ids.clear()
        self._recount_timer.stop()
        if document is not None:
            document.image_added.connect(self._on_images_changed)
            document.image_removed.connect(self._on_images_changed)
            document.status_changed.connect(self._on_status_changed)
            document.undo_stack.edited.connect(self._on_edited)
        self.endResetModel()

    def _on_edited(self, image_id) -> None:
        if isinstance(image_id, str):
            self._recount_ids.add(image_id)
            self._recount_timer.start()

    def recount_pending(self) -> None:
        """Count the cells of the images edited since the last count (as a save counts them:
        the first label layer's instances)."""
        ids, self._recount_ids = self._recount_ids, set()
        if self._document is None:
            return
        for image_id in ids:
            entry = self._document.image_by_id(image_id)
            # Removed, or released from memory (then saved and counted): nothing to recount.
            if entry is not None and recount_entry(entry):
                self.refresh_entry(entry)

    def _on_images_changed(self, *args) -> None:
        # Images arrive in batches (a folder); a reset is simpler than row bookkeeping and cheap.
        self.beginResetModel()
        self.endResetModel()

    def _on_status_changed(self, entry: ImageEntry) -> None:
        self.refresh_entry(entry)

    def refresh_entry(self, entry: ImageEntry) -> None:
        if self._document is None or entry not in self._document.images:
            return
        row = self._document.index_of(entry)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def refresh_all(self) -> None:
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, len(self.HEADERS) - 1))

    # -- Qt model interface ----------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() or self._document is None else len(self._document.images)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def entry_at(self, row: int) -> ImageEntry | None:
        if self._document is None or not 0 <= row < len(self._document.images):
            return None
        return self._document.images[row]

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        entry = self.entry_at(index.row()) if index.isValid() else None
        if entry is None:
            return None
        column = index.column()
        if role == ENTRY_ROLE:
            return entry
        if role == STATUS_ROLE:
            return entry.status
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return entry.name
            if column == 1:
                return STATUS_TEXT.get(entry.status, entry.status)
            if column == 3:
                doubt = entry_doubt(entry)
                return "" if doubt is None or entry.status == "reviewed" else f"{doubt:.1f}"
            # A new image shows no count; once a model or a person has been over it, 0 says
            # "nothing found" (a blank read as "not counted" on an image the model found empty).
            return str(entry.instance_count) if entry.instance_count or entry.status != "new" else ""
        if role == Qt.ItemDataRole.DecorationRole and column == 0:
            return self._problem_icon if entry.problem else self._icons.get(entry.status)
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return STATUS_COLORS.get(entry.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [entry.name, f"status: {entry.status}"]
            if entry.status_model:
                lines.append(f"model: {entry.status_model}")
            lines.append(f"{entry.instance_count} instances")
            doubt = entry_doubt(entry)
            if doubt is not None:
                lines.append(f"expected wrong cells: {doubt:.1f} (from the model's confidence in the cells "
                             "nobody has verified)")
            lines.append(f"{entry.source.width} x {entry.source.height}, {entry.source.path}")
            if entry.problem:
                lines.append(f"problem: {entry.problem}")
            return "\n".join(lines)
        return None


# The list's order, and the order N (next image to correct) follows.
ORDERS = ("Project order", "Most doubtful first")


class StatusFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.statuses: tuple[str, ...] = FILTERS["All images"]
        self.by_doubt = False

    def set_by_doubt(self, on: bool) -> None:
        self.by_doubt = on
        self.invalidate()
        self.sort(0 if on else -1)

    def lessThan(self, left, right) -> bool:
        if not self.by_doubt:
            return left.row() < right.row()
        return self._key(left.row()) < self._key(right.row())

    def _key(self, row: int):
        """core.correction_order's order: scored unreviewed by doubt, unscored, reviewed."""
        entry = self.sourceModel().entry_at(row)
        if entry is None or entry.status == "reviewed":
            return (2, 0.0, row)
        doubt = entry_doubt(entry)
        return (1, 0.0, row) if doubt is None else (0, -doubt, row)

    def set_statuses(self, statuses: tuple[str, ...]) -> None:
        self.beginFilterChange()  # Qt 6.10+: replaces the deprecated invalidateRowsFilter
        self.statuses = statuses
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        entry = self.sourceModel().entry_at(source_row)
        return entry is not None and entry.status in self.statuses


class ImageListPanel(QWidget):
    """The left panel. Emits `current_image_changed(entry or None)` when the user picks an image."""

    current_image_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.model = ImageListModel(self)
        self.proxy = StatusFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self._current: ImageEntry | None = None

        self.filter_box = QComboBox(self)
        self.filter_box.addItems(list(FILTERS))
        self.filter_box.setToolTip("Show only images with this status")
        self.filter_box.currentTextChanged.connect(lambda text: self.proxy.set_statuses(FILTERS[text]))
        self.order_box = QComboBox(self)
        self.order_box.addItems(list(ORDERS))
        self.order_box.setToolTip("Most doubtful first: unreviewed images with the most expected wrong cells (the "
                                  "model's confidence in cells nobody verified) first; N follows this order")
        self.order_box.currentIndexChanged.connect(lambda index: self.proxy.set_by_doubt(index == 1))

        self.view = QTreeView(self)
        self.view.setModel(self.proxy)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long names differ at both ends
        # Several images can be selected (Shift/Ctrl+click) to remove them together.
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)  # see add_context_action
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.view.selectionModel().currentRowChanged.connect(self._on_current_row_changed)

        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.previous_button = QPushButton("Previous", self)
        self.previous_button.setToolTip("Previous image (Page Up)")
        self.next_button = QPushButton("Next", self)
        self.next_button.setToolTip("Next image (Page Down)")
        self.previous_button.clicked.connect(lambda: self.select_next(-1))
        self.next_button.clicked.connect(lambda: self.select_next(1))

        buttons = QHBoxLayout()
        buttons.addWidget(self.previous_button)
        buttons.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        filters = QHBoxLayout()
        filters.addWidget(self.filter_box, 1)
        filters.addWidget(self.order_box, 1)
        layout.addLayout(filters)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        self.model.modelReset.connect(self._update_summary)
        self.model.dataChanged.connect(self._update_summary)
        self._update_summary()

    # -- document --------------------------------------------------------------------
    def set_document(self, document: Document | None) -> None:
        self._current = None
        self.model.set_document(document)
        self.current_image_changed.emit(None)

    def refresh(self) -> None:
        """Re-read every row (instance counts change when the project is saved)."""
        self.model.refresh_all()

    def add_context_action(self, action) -> None:
        """Offer `action` (e.g. Image > Remove from project…) on the list's right-click menu."""
        self.view.addAction(action)

    # -- current image ---------------------------------------------------------------
    def current_image(self) -> ImageEntry | None:
        return self._current

    def selected_images(self) -> list[ImageEntry]:
        """The selected images in list order (the current one when nothing is selected)."""
        rows = {self.proxy.mapToSource(index).row() for index in self.view.selectionModel().selectedRows()}
        entries = [self.model.entry_at(row) for row in sorted(rows)]
        entries = [e for e in entries if e is not None]
        return entries or ([self._current] if self._current is not None else [])

    def set_current_image(self, entry: ImageEntry | None) -> None:
        document = self.model.document
        if entry is None or document is None or entry not in document.images:
            self.view.selectionModel().clearCurrentIndex()
            self.view.clearSelection()
            if self._current is not None:
                self._current = None
                self.current_image_changed.emit(None)
            return
        if not self.proxy.filterAcceptsRow(document.index_of(entry), QModelIndex()):
            self.filter_box.setCurrentText("All images")  # never select an image the user cannot see
        source_index = self.model.index(document.index_of(entry), 0)
        index = self.proxy.mapFromSource(source_index)
        self.view.selectionModel().setCurrentIndex(
            index, self.view.selectionModel().SelectionFlag.ClearAndSelect | self.view.selectionModel().SelectionFlag.Rows)
        self.view.scrollTo(index)

    def _on_current_row_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        entry = current.data(ENTRY_ROLE) if current.isValid() else None
        if entry is not self._current:
            self._current = entry
            self.current_image_changed.emit(entry)

    # -- navigation ------------------------------------------------------------------
    def select_next(self, step: int = 1) -> bool:
        """Move `step` rows through the shown (filtered) list. Returns whether it moved."""
        rows = self.proxy.rowCount()
        if rows == 0:
            return False
        current = self.view.currentIndex()
        row = current.row() + step if current.isValid() else (0 if step > 0 else rows - 1)
        if not 0 <= row < rows:
            return False
        self.set_current_image(self.proxy.index(row, 0).data(ENTRY_ROLE))
        return True

    def select_next_unreviewed(self) -> bool:
        """Go to the next image that is not reviewed yet: after the current one in project
        order (wrapping), or, with "Most doubtful first", the next in correction order."""
        document = self.model.document
        if document is None or not document.images:
            return False
        if self.proxy.by_doubt:
            entry = next_to_correct(document.images, self._current)
            if entry is None or entry is self._current:
                return False
            self.set_current_image(entry)
            return True
        start = document.index_of(self._current) + 1 if self._current in document.images else 0
        count = len(document.images)
        for offset in range(count):
            entry = document.images[(start + offset) % count]
            if entry.status != "reviewed" and entry is not self._current:
                self.set_current_image(entry)
                return True
        return False

    def _update_summary(self, *args) -> None:
        document = self.model.document
        if document is None or not document.images:
            self.summary.setText("No images yet")
            return
        reviewed = sum(1 for e in document.images if e.status == "reviewed")
        self.summary.setText(f"{reviewed} of {len(document.images)} images reviewed")
