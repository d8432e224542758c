"""seggui from Python: the functions the window and the `seggui` command use, for scripts and
notebooks. No Qt is loaded; long work (prediction, training) runs in the calling thread.

    from seggui import api

    cells = api.segment("plate1.tif", model="nuclei")       # labels, per-cell scores
    with api.open_project("my_project") as project:
        print(project.images())                               # name, status, cells, verified
        project.presegment("nuclei")                          # new images only; never over a person's cells
        labels = project.labels("plate1.tif")                 # the first label layer
        project.set_labels("plate1.tif", corrected, status="reviewed")
        project.save()
        project.export("out/cells.json", "coco", reviewed_only=True)
    card = api.train("models/v2", project="my_project", base="nuclei", minutes=8)

Every function raises a `seggui.core.errors.SegguiError` subclass (ProjectError, ModelError,
TrainingError, FormatError) with a message naming the file and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from seggui.core.document import STATUSES, Document, ImageEntry
from seggui.core.errors import ProjectError
from seggui.core.entry_counts import recount_entry
from seggui.core.layers import LabelLayer
from seggui.core.paint import change_command
from seggui.core.project import Project

__all__ = ["ImageRecord", "ProjectSession", "create_project", "models", "open_project", "segment", "train"]


@dataclass(frozen=True)
class ImageRecord:
    """One image of a project as a script sees it."""

    name: str
    status: str  # new, edited, predicted or reviewed
    cells: int  # instances of the first label layer, as last counted
    verified: int  # cells marked verified in the Review queue
    path: Path
    model: str | None = None  # the model whose proposal was accepted, if any
    id: str = ""  # unique in the project; names repeat when two folders hold phase.png


def segment(image, model: str = "nuclei", device: str = "auto", threads: int | None = None, page: int = 0,
            precision: str = "auto"):
    """Pre-segment one image (a path or an array) with a model name or folder.

    Returns a `seggui.ml.inference.Prediction`: `.labels` (instance ids), `.scores` (cell id ->
    confidence in [0, 1]), `.image_score`, `.probability` (foreground map). The same code as
    `seggui predict` and the Model panel. `precision` "auto" runs bfloat16 on a CPU that computes
    it natively, else float32 (seggui.ml.precision); "float32" insists on float32."""
    from seggui.core.imageio import read_image
    from seggui.ml.inference import PredictOptions
    from seggui.ml.registry import load_model

    array = read_image(Path(image), page=page).array if isinstance(image, (str, Path)) else np.asarray(image)
    return load_model(model, device=device, threads=threads).predict(array, PredictOptions(precision=precision))


def models(project: str | Path | None = None) -> list[str]:
    """Names of the models that can be loaded (with a project: its versions too)."""
    from seggui.ml.registry import list_models

    extra = [Path(project) / "models"] if project is not None and (Path(project) / "models").is_dir() else []
    return [m.name for m in list_models(extra) if m.available]


def train(out: str | Path, project: str | Path | None = None, images: str | Path | None = None,
          masks: str | Path | None = None, base: str | None = "nuclei", minutes: float | None = None,
          epochs: int | None = None, on_event: Callable[[dict], None] | None = None, **options) -> dict:
    """Train (or fine-tune `base`) on a project's reviewed images and verified cells, or on
    `images` + `masks` folders; writes `out/weights.pt` and `out/card.json`, returns the card.

    The defaults are those of `seggui train` and the Training dock; `options` are further
    `seggui.ml.training.TrainConfig` fields (seed, learning_rate, crop_size, threads, ...).
    `on_event` receives the progress events (start, epoch, checkpoint, done)."""
    from seggui.ml.training import TrainConfig
    from seggui.ml.training import train as run_training

    config = TrainConfig(out=Path(out), project=None if project is None else Path(project),
                         images=None if images is None else Path(images), masks=None if masks is None else Path(masks),
                         base=base, minutes=minutes, epochs=epochs, **options)
    config.extra["command"] = "seggui.api.train"
    return run_training(config, on_event=on_event)


def create_project(folder: str | Path, images: Iterable[str | Path] = ()) -> "ProjectSession":
    """A new project folder, with these image files or folders added."""
    session = ProjectSession(Project.create(folder), Document())
    if images:
        session.add_images(images)
        session.save()
    return session


def open_project(folder: str | Path, read_only: bool = False) -> "ProjectSession":
    """An existing project. Use it in a `with` block (or call close()): it holds the project's
    lock, so the window refuses to write the same project meanwhile."""
    project, document = Project.open(folder, read_only=read_only)
    return ProjectSession(project, document)


class ProjectSession:
    """A project open for a script: its images, their labels and statuses, pre-segmenting,
    import and export. Changes are kept in memory until `save()`."""

    def __init__(self, project: Project, document: Document):
        self.project = project
        self.document = document

    def __enter__(self) -> "ProjectSession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def folder(self) -> Path:
        return self.project.folder

    def close(self) -> None:
        self.project.close()

    def save(self) -> None:
        self.project.save(self.document)

    # -- images ----------------------------------------------------------------------
    def images(self) -> list[ImageRecord]:
        for entry in self.document.images:
            recount_entry(entry)  # after presegment or set_labels in this session, not only at save
        return [ImageRecord(e.name, e.status, e.instance_count, e.verified_count, e.source.path, e.status_model, e.id)
                for e in self.document.images]

    def add_images(self, paths: Iterable[str | Path]) -> list[str]:
        """Add image files or folders; returns the names added. Files that cannot be read
        raise a ProjectError naming each one."""
        added, problems = self.project.add_images(self.document, [Path(p) for p in paths])
        if problems:
            raise ProjectError("some images could not be added:\n" + "\n".join(problems), self.folder)
        return [e.name for e in added]

    def entry(self, image: "str | ImageRecord") -> ImageEntry:
        """The image given by an ImageRecord, an id or a name (ProjectError when there is
        none, or when several share the name: then pass the record or its id)."""
        if isinstance(image, ImageRecord):
            image = image.id
        by_id = self.document.image_by_id(image)
        if by_id is not None:
            return by_id
        matches = [e for e in self.document.images if e.name == image]
        if not matches:
            raise ProjectError(f"no image named {image!r} in the project", self.folder)
        if len(matches) > 1:
            raise ProjectError(f"{len(matches)} images are named {image!r}; pass its ImageRecord (from "
                               "images()) or its id instead", self.folder)
        return matches[0]

    def labels(self, image: "str | ImageRecord", layer: int = 0) -> np.ndarray:
        """A copy of an image's label layer (instance ids, 0 = background)."""
        entry = self.entry(image)
        layers = entry.label_layers
        if not layers:
            return np.zeros((entry.source.height, entry.source.width), np.uint16)
        return layers[layer].data.copy()

    def set_labels(self, image: "str | ImageRecord", labels: np.ndarray, status: str = "edited",
                   layer: int = 0) -> None:
        """Replace an image's label layer (one undo step, as a person's edit) and set its status."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        entry = self.entry(image)
        labels = np.asarray(labels)
        if labels.shape != (entry.source.height, entry.source.width) or labels.dtype.kind not in "ui":
            raise ValueError(f"labels must be integer with the image's shape {(entry.source.height, entry.source.width)}, "
                             f"got {labels.dtype} {labels.shape}")
        if not entry.label_layers:
            self.document.add_layer(entry, LabelLayer.empty(labels.shape, name="labels"))
        target = entry.label_layers[layer]
        height, width = target.shape
        self.document.undo_stack.push(change_command(target, (0, 0, height, width), labels, "set labels"),
                                      execute=True)
        self.document.set_status(entry, status)

    def set_status(self, image: "str | ImageRecord", status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        self.document.set_status(self.entry(image), status)

    # -- models ----------------------------------------------------------------------
    def presegment(self, model: str = "nuclei", names: Iterable[str] | None = None, device: str = "auto",
                   threads: int | None = None) -> dict:
        """Pre-segment images with `model`, as the Model panel's batch does: only images still
        `new` change, and where anything is labelled the proposal only fills unlabelled pixels.
        Scores are kept per cell. Returns {"applied": [...], "skipped": [...], "failed": {...}}."""
        from seggui.core.imageio import read_image
        from seggui.core.proposals import accept_proposal, batch_may_change, batch_proposal
        from seggui.ml.batch import predict_each
        from seggui.ml.registry import load_model

        wanted = None if names is None else set(names)
        entries = [e for e in self.document.images if wanted is None or e.name in wanted]
        chosen = [e for e in entries if batch_may_change(e)]
        outcome = {"applied": [], "skipped": [e.name for e in entries if e not in chosen], "failed": {}}
        if not chosen:
            return outcome
        predictor = load_model(model, device=device, threads=threads)
        read = lambda entry: read_image(entry.source.path, page=entry.source.page).array  # noqa: E731
        for result in predict_each(predictor, chosen, read, None, errors=(Exception,)):
            entry = result.item
            if result.error is not None:
                outcome["failed"][entry.name] = str(result.error) or type(result.error).__name__
                continue
            mode, proposal = batch_proposal(entry, result.prediction.labels)
            accept_proposal(self.document, entry, proposal, mode, predictor.name, scores=result.prediction.scores)
            self.document.model_maps.put(entry.id, result.prediction.probability)
            outcome["applied"].append(entry.name)
        return outcome

    # -- other tools' formats --------------------------------------------------------
    def import_annotations(self, source: str | Path, format: str | None = None, layer_name: str = "imported"):
        """LabelMe, CVAT, Supervisely, COCO, QuPath GeoJSON or masks: one new label layer per
        annotated image (images the project lacks are added when their file is found)."""
        from seggui.core.project_exchange import apply_dataset
        from seggui.formats import import_annotations

        return apply_dataset(self.project, self.document, import_annotations(source, format), layer_name)

    def export(self, dest: str | Path, format: str, layers: str = "merged", reviewed_only: bool = False,
               polygons: bool = False) -> list[str]:
        """Export labels (every label layer merged, "first", or a layer's name) as the Export
        dialog does; returns warnings, including images left out and why."""
        from seggui.core.export_selection import ExportChoice, collect_dataset
        from seggui.formats import export_annotations

        dataset = collect_dataset(self.document, choice=ExportChoice(layers, reviewed_only))
        left_out = [f"{name}: left out, {why}" for name, why in dataset.report.skipped]
        return left_out + list(dataset.report.warnings) + export_annotations(dataset, dest, format, polygons=polygons)

