"""Between the project and other tools' formats (Qt-free, so it is testable headless).

`collect_dataset` (from seggui.core.export_selection, shared with `seggui convert PROJECT`)
copies the chosen labels into the interchange model on the GUI thread (the export then runs
on a worker); `apply_dataset` turns an imported dataset into new, undoable label layers of
the matching project images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from seggui.core.annotation import Dataset, ImageAnnotation
from seggui.core.document import Document, ImageEntry, label_layer_from_annotation
from seggui.core.export_selection import collect_dataset  # noqa: F401 - the export half of this module
from seggui.core.project import Project


@dataclass
class ImportOutcome:
    layers_added: int = 0
    images_added: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (image, why)

    def summary(self) -> str:
        text = f"{self.layers_added} label layer(s) imported"
        if self.images_added:
            text += f", {self.images_added} image(s) added to the project"
        if self.skipped:
            text += f", {len(self.skipped)} skipped"
        return text


def find_entry(document: Document, annotation: ImageAnnotation) -> ImageEntry | None:
    """The project image an annotation belongs to: same file first, else same file name."""
    if annotation.image_path is not None:
        wanted = Path(annotation.image_path).resolve()
        for entry in document.images:
            if entry.source.path == wanted:
                return entry
    name = Path(annotation.image_name).name
    matches = [e for e in document.images if e.source.path.name == name or e.name == name]
    return matches[0] if len(matches) == 1 else None


def apply_dataset(project: Project, document: Document, dataset: Dataset,
                  layer_name: str = "imported") -> ImportOutcome:
    """Add one label layer per annotated image (adding images the project lacks when their
    file was found). Every layer is an undoable step."""
    outcome = ImportOutcome()
    for annotation in dataset.images:
        entry = find_entry(document, annotation)
        if entry is None and annotation.image_path is not None and Path(annotation.image_path).is_file():
            added, problems = project.add_images(document, [annotation.image_path])
            if added:
                entry = added[0]
                outcome.images_added += 1
            elif problems:
                outcome.skipped.append((annotation.image_name, problems[0]))
                continue
        if entry is None:
            outcome.skipped.append((annotation.image_name, "no project image of that name, and the image "
                                                           "file was not found (add the images first)"))
            continue
        if (entry.source.height, entry.source.width) != annotation.labels.shape:
            outcome.skipped.append((annotation.image_name,
                                    f"labels are {annotation.width}x{annotation.height}, the image is "
                                    f"{entry.source.width}x{entry.source.height}"))
            continue
        names = {layer.name for layer in entry.layers}
        name, number = layer_name, 1
        while name in names:
            number += 1
            name = f"{layer_name} {number}"
        document.add_layer(entry, label_layer_from_annotation(annotation, dataset.classes, name=name))
        outcome.layers_added += 1
    return outcome
