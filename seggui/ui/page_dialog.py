"""Which planes of a multi-page file become project images: a microscope file's scenes, T and Z
planes, or the pages of a TIFF stack. Offered when such files are added by name."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from seggui.core.imageio import PageInfo

FIRST, ALL, CHOSEN = "first", "all", "chosen"


def describe_page(page: PageInfo) -> str:
    """One line of the list: 'scene 2 "xzy", y 6 — 128 × 128, 2 channels, uint8'."""
    label = page.label or f"page {page.index + 1}"
    if page.scene_name and label.startswith(f"scene {page.scene + 1}"):
        label = label.replace(f"scene {page.scene + 1}", f"scene {page.scene + 1} \u201c{page.scene_name}\u201d", 1)
    channels = f", {page.channels} channels" if page.channels > 1 else ""
    return f"{label} \u2014 {page.width} \u00d7 {page.height}{channels}, {page.dtype}"


class _FileChoice(QGroupBox):
    def __init__(self, path: Path, pages: list[PageInfo], parent: QWidget | None = None):
        scenes = len({p.scene for p in pages})
        super().__init__(f"{path.name}: {len(pages)} planes" + (f" in {scenes} scenes" if scenes > 1 else ""), parent)
        self.path, self.pages = path, pages
        self.first = QRadioButton(f"First plane only ({describe_page(pages[0])})", self)
        self.all = QRadioButton(f"All {len(pages)} planes, each its own image", self)
        self.chosen = QRadioButton("These planes:", self)
        self.group = QButtonGroup(self)
        for button in (self.first, self.all, self.chosen):
            self.group.addButton(button)
        self.list = QListWidget(self)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        for page in pages:
            item = QListWidgetItem(describe_page(page), self.list)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, page.index)
        self.list.setMaximumHeight(min(220, 24 + 20 * len(pages)))
        self.list.itemChanged.connect(lambda *_: self.chosen.setChecked(True))
        self.first.setChecked(True)
        layout = QVBoxLayout(self)
        for widget in (self.first, self.all, self.chosen, self.list):
            layout.addWidget(widget)

    def set_choice(self, choice: str, pages: list[int] = ()) -> None:
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setCheckState(Qt.CheckState.Checked if item.data(Qt.ItemDataRole.UserRole) in pages
                               else Qt.CheckState.Unchecked)
        {FIRST: self.first, ALL: self.all, CHOSEN: self.chosen}[choice].setChecked(True)

    def checked_pages(self) -> list[int]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())
                if self.list.item(r).checkState() == Qt.CheckState.Checked]

    def value(self) -> list[int] | str:
        if self.all.isChecked():
            return "all"
        if self.chosen.isChecked():
            return self.checked_pages()
        return [0]


class PageChoiceDialog(QDialog):
    """One section per multi-page file: first plane only (the default), all planes, or a selection."""

    def __init__(self, files: dict[Path, list[PageInfo]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Choose planes")
        self.sections = {path: _FileChoice(path, pages) for path, pages in files.items()}
        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        for section in self.sections.values():
            inner_layout.addWidget(section)
        inner_layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Add")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        text = QLabel("Each chosen plane becomes its own image in the project, named after its scene and plane.", self)
        text.setWordWrap(True)
        layout.addWidget(text)
        layout.addWidget(scroll, 1)
        layout.addWidget(buttons)
        self.resize(560, min(640, 160 + 300 * len(files)))

    def set_choice(self, path: str | Path, choice: str, pages: list[int] = ()) -> None:
        """Choose for one file, as a person would: FIRST, ALL, or CHOSEN with the page numbers."""
        self.sections[Path(path)].set_choice(choice, list(pages))

    def pages(self) -> dict[Path, list[int] | str]:
        """{file: [pages] or "all"} for describe_images; a selection left empty adds nothing of that file."""
        return {path: section.value() for path, section in self.sections.items()}
