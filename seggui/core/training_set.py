"""Which images of a project may train a model, read from the catalogue: the reviewed ones
whole, and of any other image only the cells a person marked verified (the review queue's
`instance_info[id]["verified"]`), the loss masked elsewhere (seggui.ml.training.data).

The training child process reads this straight from disk (no GUI, no Document), so the
GUI saves the project before it starts a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seggui.core import catalogue as cat
from seggui.core.errors import ProjectError, TrainingError
from seggui.core.annotation import ignore_instance_ids
from seggui.core.catalogue_check import check_rows
from seggui.core.document import STATUSES
from seggui.core.project_files import check_mask_file, mask_path
from seggui.core.safe_files import UnsafePathError, check_regular


@dataclass(frozen=True)
class TrainingSample:
    name: str  # image name as shown in the project
    image_path: Path
    page: int
    mask_path: Path  # instance labels of the image's first label layer
    image_sha256: str
    image_id: str = ""
    ignore_ids: tuple[int, ...] = ()  # instances of an ignore class (__ignore__): no loss, no metric
    # None: the whole image is known (reviewed). Otherwise only these cells (and a ring of
    # background around them) are: an image a person has verified a few cells of.
    verified_ids: tuple[int, ...] | None = None


def verified_ids(info: dict) -> tuple[int, ...]:
    """Ids marked verified in a label layer's `instance_info` (keys as ints or strings)."""
    found = []
    for key, value in (info or {}).items():
        if isinstance(value, dict) and value.get("verified") is True:
            try:
                found.append(int(key))
            except (TypeError, ValueError):
                continue
    return tuple(sorted(found))


def reviewed_samples(project_folder: str | Path, with_verified_cells: bool = True) -> list[TrainingSample]:
    """Reviewed images with their first label layer, in project order, and (unless
    `with_verified_cells` is False) the other images that have verified cells.

    Raises TrainingError when an image file is missing: silently training on fewer images
    than the user reviewed would be a surprise.
    """
    folder = Path(project_folder).resolve()
    connection = cat.connect(folder)
    try:
        check_rows(connection, folder / cat.CATALOGUE_NAME, STATUSES)
        images = connection.execute("SELECT * FROM images ORDER BY position").fetchall()
        samples = []
        for row in images:
            reviewed = row["status"] == "reviewed"
            if not reviewed and not with_verified_cells:
                continue
            layer = connection.execute(
                "SELECT id, mask_file, classes, instances FROM layers WHERE image_id=? AND kind='labels' "
                "ORDER BY position LIMIT 1",
                (row["id"],)).fetchone()
            verified = None
            if not reviewed:
                if layer is None or not layer["mask_file"]:
                    continue
                verified = verified_ids((cat.loads(layer["instances"], {}) or {}).get("info", {}))
                if not verified:
                    continue
            if layer is None or not layer["mask_file"]:
                raise TrainingError(f"reviewed image {row['name']} has no saved labels; save the project first",
                                    folder)
            path = Path(row["path_absolute"])
            if row["path_relative"] and (folder / row["path_relative"]).exists():
                path = (folder / row["path_relative"]).resolve()
            try:
                check_regular(path, f"image of reviewed entry {row['name']}")
            except UnsafePathError as error:
                raise TrainingError(error.message, path) from None
            labels = mask_path(folder, layer["mask_file"], layer["id"])  # inside masks/, never a link
            check_mask_file(labels)
            instances = cat.loads(layer["instances"], {}) or {}
            ignored = ignore_instance_ids(cat.loads(layer["classes"], []) or [], instances.get("classes", {}))
            samples.append(TrainingSample(row["name"], path, row["page"], labels, row["sha256"], row["id"],
                                          tuple(sorted(ignored)), verified))
        return samples
    except ProjectError:
        raise
    finally:
        connection.close()


@dataclass(frozen=True)
class ProjectSplit:
    training: list[TrainingSample]
    validation: list[TrainingSample]  # empty: base and new version cannot be compared honestly
    unmeasured_reason: str = ""


def project_split(project_folder: str | Path, update: bool = True) -> ProjectSplit:
    """Reviewed images split into training and the project's fixed validation set.

    `update` places images reviewed since the last run first (validation_set); the GUI
    does that before it starts the child, so the child's own update changes nothing. The
    images of the validation set are never trained on, even when they no longer qualify.
    """
    from seggui.core import validation_set

    folder = Path(project_folder).resolve()
    samples = reviewed_samples(folder)
    connection = cat.connect(folder)
    try:
        stored = (validation_set.update_validation_set(connection, folder) if update
                  else validation_set.stored_validation(connection))
        rows = {row["id"]: row for row in connection.execute("SELECT id, status_model FROM images")}
        honest = {i for i in stored if i in rows and validation_set.is_eligible(connection, folder, rows[i])}
    finally:
        connection.close()
    training = [s for s in samples if s.image_id not in stored]
    # Validation scores whole images: only reviewed ones, never a partly verified image.
    validation = [s for s in samples if s.image_id in honest and s.verified_ids is None]
    reason = "" if validation else (
        "no validation image: that needs a reviewed image whose labels a person made, corrected or "
        "imported (an accepted proposal nobody changed favours the model that drew it), besides one to train on")
    return ProjectSplit(training, validation, reason)


@dataclass(frozen=True)
class TrainingMaterial:
    """What a training run of the project would learn from, as the Training dock says it."""

    reviewed_images: int
    verified_cells: int  # on images that are not reviewed
    partial_images: int  # images with verified cells that are not reviewed

    @property
    def empty(self) -> bool:
        return not self.reviewed_images and not self.verified_cells

    def describe(self) -> str:
        parts = [f"All reviewed images ({self.reviewed_images})"] if self.reviewed_images else []
        if self.verified_cells:
            images = "image" if self.partial_images == 1 else "images"
            parts.append(f"{self.verified_cells} verified cells on {self.partial_images} other {images}")
        return " and ".join(parts)


def training_material(entries) -> TrainingMaterial:
    """Count reviewed images and, elsewhere, verified cells: from the layers of images in
    memory (edits since the last save included), else from what the project last saved."""
    reviewed = cells = partial = 0
    for entry in entries:
        if entry.status == "reviewed":
            reviewed += 1
            continue
        if entry.loaded:
            layers = entry.label_layers
            count = len(verified_ids(layers[0].instance_info)) if layers else 0
        else:
            count = entry.verified_count
        if count:
            cells += count
            partial += 1
    return TrainingMaterial(reviewed, cells, partial)
