"""Which images of a project may train a model: the reviewed ones, read from the catalogue.

The training child process reads this straight from disk (no GUI, no Document), so the
GUI saves the project before it starts a job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from seggui.core import catalogue as cat
from seggui.core.errors import ProjectError, TrainingError
from seggui.core.project import MASKS_FOLDER


@dataclass(frozen=True)
class TrainingSample:
    name: str  # image name as shown in the project
    image_path: Path
    page: int
    mask_path: Path  # instance labels of the image's first label layer
    image_sha256: str


def reviewed_samples(project_folder: str | Path) -> list[TrainingSample]:
    """Reviewed images with their first label layer, in project order.

    Raises TrainingError when an image file is missing: silently training on fewer images
    than the user reviewed would be a surprise.
    """
    folder = Path(project_folder).resolve()
    connection = cat.connect(folder)
    try:
        images = connection.execute(
            "SELECT * FROM images WHERE status='reviewed' ORDER BY position").fetchall()
        samples = []
        for row in images:
            layer = connection.execute(
                "SELECT mask_file FROM layers WHERE image_id=? AND kind='labels' ORDER BY position LIMIT 1",
                (row["id"],)).fetchone()
            if layer is None or not layer["mask_file"]:
                raise TrainingError(f"reviewed image {row['name']} has no saved labels; save the project first",
                                    folder)
            path = Path(row["path_absolute"])
            if row["path_relative"] and (folder / row["path_relative"]).exists():
                path = (folder / row["path_relative"]).resolve()
            if not path.is_file():
                raise TrainingError(f"image of reviewed entry {row['name']} not found", path)
            samples.append(TrainingSample(row["name"], path, row["page"],
                                          folder / MASKS_FOLDER / layer["mask_file"], row["sha256"]))
        return samples
    except ProjectError:
        raise
    finally:
        connection.close()
