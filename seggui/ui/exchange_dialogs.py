"""File > Import annotations… and File > Export annotations…: a small form each, the work
on a background job with a progress dialog and Cancel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QWidget,
)

from seggui.core.export_selection import FIRST, MERGED, ExportChoice, layer_names
from seggui.formats import FORMATS, export_annotations, import_annotations
from seggui.jobs import Job, JobContext
from seggui.ui.dialogs import JobProgressDialog, show_error
from seggui.core.project_exchange import apply_dataset, collect_dataset

if TYPE_CHECKING:
    from seggui.ui.main_window import MainWindow

AUTO = "Detect automatically"


class _PathField(QWidget):
    """A path line edit with File… and/or Folder… buttons."""

    def __init__(self, title: str, start: str, files: bool, folders: bool, save: bool = False, parent=None):
        super().__init__(parent)
        self.title, self.start, self.save = title, start, save
        self.filter = "All files (*)"
        self.edit = QLineEdit(self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.edit, 1)
        if files:
            button = QPushButton("File…", self)
            button.clicked.connect(self._choose_file)
            layout.addWidget(button)
        if folders:
            button = QPushButton("Folder…", self)
            button.clicked.connect(self._choose_folder)
            layout.addWidget(button)

    def path(self) -> str:
        return self.edit.text().strip()

    def _choose_file(self) -> None:
        chooser = QFileDialog.getSaveFileName if self.save else QFileDialog.getOpenFileName
        path, _ = chooser(self, self.title, self.path() or self.start, self.filter)
        if path:
            self.edit.setText(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, self.title, self.path() or self.start)
        if path:
            self.edit.setText(path)


class ImportDialog(QDialog):
    def __init__(self, start_folder: str, parent: QWidget | None = None, last_format: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Import annotations")
        self.format_box = QComboBox(self)
        self.format_box.addItem(AUTO, None)
        for info in FORMATS:
            if info.can_import:
                self.format_box.addItem(info.name, info.key)
        if last_format and self.format_box.findData(last_format) >= 0:
            self.format_box.setCurrentIndex(self.format_box.findData(last_format))
        self.source = _PathField("Annotations to import", start_folder, files=True, folders=True, parent=self)
        self.source.filter = ";;".join([f.file_filter for f in FORMATS if f.can_import] + ["All files (*)"])
        self.images = _PathField("Folder of the annotated images", start_folder, files=False, folders=True,
                                 parent=self)
        self.images.edit.setPlaceholderText("optional: where the images are, if not next to the annotations")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Annotations (file or folder)", self.source)
        form.addRow("Format", self.format_box)
        form.addRow("Images folder", self.images)
        form.addRow(buttons)
        self.resize(640, self.sizeHint().height())

    def _accept(self) -> None:
        if not self.source.path() or not Path(self.source.path()).exists():
            QMessageBox.warning(self, "Import annotations", "Choose an existing annotation file or folder.")
            return
        self.accept()


class ExportDialog(QDialog):
    def __init__(self, start_folder: str, parent: QWidget | None = None, names: list[str] | None = None,
                 last_format: str = ""):
        super().__init__(parent)
        self.setWindowTitle("Export annotations")
        self.format_box = QComboBox(self)
        for info in FORMATS:
            if info.can_export:
                self.format_box.addItem(info.name, info)
        remembered = next((i for i in range(self.format_box.count())
                           if self.format_box.itemData(i).key == last_format), -1)
        if remembered >= 0:
            self.format_box.setCurrentIndex(remembered)
        self.layers_box = QComboBox(self)
        self.layers_box.addItem("All label layers, merged (upper layers on top)", MERGED)
        self.layers_box.addItem("First label layer of each image", FIRST)
        for name in names or []:
            self.layers_box.addItem(f"Only the layer named '{name}'", name)
        self.layers_box.setToolTip("Which labels each image contributes; images left out are listed afterwards")
        self.reviewed_only = QCheckBox("Reviewed images only", self)
        self.destination = _PathField("Export to", start_folder, files=True, folders=True, save=True, parent=self)
        self.destination.edit.setPlaceholderText("a new or empty folder (or a .json / .xml file for COCO, CVAT)")
        self.polygons = QCheckBox("Write polygons instead of exact masks", self)
        self.polygons.setToolTip("Polygons trace pixel edges, so COCO and CVAT tools rasterise them back exactly; "
                                 "LabelMe gets a mask shape where no polygon can be exact (holes)")
        self.format_box.currentIndexChanged.connect(self._on_format)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Format", self.format_box)
        form.addRow("Destination", self.destination)
        form.addRow("Labels", self.layers_box)
        form.addRow(self.reviewed_only)
        form.addRow(self.polygons)
        form.addRow(buttons)
        self._on_format()
        self.resize(640, self.sizeHint().height())

    def _on_format(self) -> None:
        info = self.format_box.currentData()
        self.polygons.setEnabled(bool(info and info.polygons))
        self.destination.filter = f"{info.file_filter};;All files (*)" if info else "All files (*)"

    def _accept(self) -> None:
        if not self.destination.path():
            QMessageBox.warning(self, "Export annotations", "Choose where to export.")
            return
        self.accept()

    def choice(self) -> ExportChoice:
        return ExportChoice(self.layers_box.currentData(), self.reviewed_only.isChecked())


def _import_job(context: JobContext, source: str, format_key: str | None, images_dir: str | None):
    context.progress(0, 0, f"Reading {Path(source).name}…")
    return import_annotations(source, format=format_key, images_dir=images_dir)


def run_import(window: "MainWindow") -> Job | None:
    dialog = ImportDialog(window.settings.last_folder("import"), window,
                          str(window.settings.value("exchange/import_format", "") or ""))
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    source = dialog.source.path()
    window.settings.set_last_folder("import", source)
    format_key = dialog.format_box.currentData()
    window.settings.set_value("exchange/import_format", format_key or "")
    images_dir = dialog.images.path() or None
    job = Job(_import_job, source, format_key, images_dir, name="import")
    JobProgressDialog(job, "Importing annotations…", window)

    def imported(dataset) -> None:
        if window.project is None or window.document is None:
            return
        outcome = apply_dataset(window.project, window.document, dataset,
                                layer_name=f"imported {format_key or 'annotations'}")
        lines = [outcome.summary(), f"Read: {dataset.report.summary()}"]
        lines += [f"{where}: {why}" for where, why in (outcome.skipped + dataset.report.skipped)[:12]]
        lines += dataset.report.warnings[:5]
        QMessageBox.information(window, "Import finished", "\n".join(lines))

    job.succeeded.connect(imported)
    job.failed.connect(lambda error: show_error(window, "Import failed", error))
    job.cancelled.connect(lambda: window.status.showMessage("Import cancelled", 5000))
    return job.start()


def _export_job(context: JobContext, dataset, destination: str, format_key: str, polygons: bool):
    context.progress(0, 0, f"Writing {len(dataset.images)} image(s) as {format_key}…")
    context.check_cancelled()
    return export_annotations(dataset, destination, format_key, polygons=polygons)


def run_export(window: "MainWindow") -> Job | None:
    if window.document is None:
        return None
    dialog = ExportDialog(window.settings.last_folder("export"), window, layer_names(window.document),
                          str(window.settings.value("exchange/export_format", "")))
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    info = dialog.format_box.currentData()
    destination = dialog.destination.path()
    window.settings.set_last_folder("export", destination)
    window.settings.set_value("exchange/export_format", info.key)
    # Copies, so the user can keep editing meanwhile.
    dataset = collect_dataset(window.document, choice=dialog.choice())
    left_out = [f"{where}: {why}" for where, why in dataset.report.skipped]
    if not dataset.images:
        show_error(window, "Nothing to export", "No image has labels to export with these choices.\n"
                   + "\n".join(left_out[:12]))
        return None
    job = Job(_export_job, dataset, destination, info.key, dialog.polygons.isChecked() and info.polygons,
              name="export")
    JobProgressDialog(job, "Exporting annotations…", window)

    def exported(warnings) -> None:
        text = f"Exported {len(dataset.images)} image(s) to {destination}."
        if left_out:
            text += f"\n\nLeft out {len(left_out)} image(s):\n" + "\n".join(left_out[:12])
            if len(left_out) > 12:
                text += f"\n… and {len(left_out) - 12} more"
        notes = dataset.report.warnings + list(warnings)
        if notes:
            text += "\n\n" + "\n".join(notes[:12])
        QMessageBox.information(window, "Export finished", text)

    job.succeeded.connect(exported)
    job.failed.connect(lambda error: show_error(window, "Export failed", error))
    job.cancelled.connect(lambda: window.status.showMessage("Export cancelled", 5000))
    return job.start()
