"""The bundled sample project: a writable copy built from seggui/resources/sample.

The package's files are never modified: the images and annotation files are copied into
the chosen folder, a project is created there, the LabelMe and CVAT files are imported
through the same importers the GUI uses, and statuses are set from the manifest.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from seggui.core.annotation import LabelClass, default_class_color
from seggui.core.document import Document
from seggui.core.errors import ProjectError
from seggui.core.paths import user_data_dir
from seggui.core.project import Project
from seggui.formats import import_annotations

SAMPLE_RESOURCES = Path(__file__).resolve().parent / "resources" / "sample"


def default_demo_folder() -> Path:
    configured = os.environ.get("SEGGUI_DEMO_DIR")
    return Path(configured) if configured else user_data_dir() / "demo"


def build_sample_project(folder: str | Path, reset: bool = False) -> Path:
    """Create (or reuse) the sample project under `folder`; returns the project folder."""
    folder = Path(folder).resolve()
    project_folder = folder / "project"
    if project_folder.exists() and not reset:
        return project_folder
    if reset and folder.exists():
        if not (folder / "sample.json").is_file():
            raise ProjectError("refusing to reset a folder that is not a seggui demo copy", folder)
        shutil.rmtree(folder)
    if folder.exists():
        raise ProjectError("exists but holds no sample project; choose another folder or use --reset", folder)
    manifest = json.loads((SAMPLE_RESOURCES / "sample.json").read_text())
    temporary = folder.with_name(folder.name + ".partial")
    if temporary.exists():
        shutil.rmtree(temporary)
    # Build next to the target and rename at the end: an interrupted build leaves no
    # half-made demo that a later run would take for a finished one.
    shutil.copytree(SAMPLE_RESOURCES, temporary)
    project = Project.create(temporary / "project")
    document = Document()
    try:
        images = [temporary / item["file"] for item in manifest["images"]]
        added, problems = project.add_images(document, images)
        if problems:
            raise ProjectError("sample images could not be added: " + "; ".join(problems), temporary)
        for entry, item in zip(added, manifest["images"]):
            # Every image starts with its modality's class, so accepted model proposals are
            # named like the imported annotations ("nucleus", "cell").
            entry.label_layers[0].set_classes([LabelClass(1, item["class"], default_class_color(1))])
        for item in manifest["imports"]:
            dataset = import_annotations(temporary / item["path"], format=item["format"],
                                         images_dir=temporary / "images")
            by_name = {entry.source.path.name: entry for entry in document.images}
            for annotation in dataset.images:
                entry = by_name[Path(annotation.image_name).name]
                layer = entry.label_layers[0]
                layer.set_classes(dataset.classes)
                layer.replace_data(annotation.labels)
                layer.instance_classes = dict(annotation.instance_classes)
                layer.instance_info = dict(annotation.instance_info)
                layer.vectors = list(annotation.vectors)
        for entry, item in zip(added, manifest["images"]):
            if item["status"] != "new":
                document.set_status(entry, item["status"])
        project.save(document)
    finally:
        project.close()
    # Absolute image paths recorded in the catalogue would point into the temporary
    # folder; relative ones (images/ beside project/) survive the rename.
    os.replace(temporary, folder)
    return project_folder
