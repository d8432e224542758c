"""The public entry points: import any supported format, export to any, with atomic output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from seggui.core.annotation import Dataset
from seggui.core.errors import FormatError
from seggui.formats.safety import staged_folder


@dataclass(frozen=True)
class FormatInfo:
    """A format as the File > Import / Export menus show it."""

    key: str  # what --from/--to and format= take
    name: str  # human name
    file_filter: str  # Qt-style filter for file dialogs
    can_import: bool
    can_export: bool
    destination: str  # "folder", or "file" when exporting writes one file (a folder DEST also works)
    polygons: bool  # whether export offers polygons instead of exact masks


FORMATS: tuple[FormatInfo, ...] = (
    FormatInfo("labelme", "LabelMe JSON", "LabelMe JSON (*.json)", True, True, "folder", True),
    FormatInfo("cvat", "CVAT for images 1.1 XML", "CVAT XML (*.xml)", True, True, "file", True),
    FormatInfo("supervisely", "Supervisely project", "Supervisely meta.json (meta.json)", True, True, "folder", True),
    FormatInfo("coco", "COCO instances JSON", "COCO JSON (*.json)", True, True, "file", True),
    FormatInfo("coco-panoptic", "COCO panoptic (PNG + JSON)", "COCO panoptic JSON (*.json)", True, True, "folder", False),
    FormatInfo("geojson", "QuPath GeoJSON", "GeoJSON (*.geojson *.json)", True, True, "folder", False),
    FormatInfo("masks", "Label masks (PNG/TIFF, DSB folders)", "Label images (*.png *.tif *.tiff)", True, False,
               "folder", False),
    FormatInfo("png", "PNG masks (instances, classes, overlay)", "Folder", False, True, "folder", False),
)
IMPORT_FORMATS = tuple(f.key for f in FORMATS if f.can_import)
EXPORT_FORMATS = tuple(f.key for f in FORMATS if f.can_export)


def _importer(key: str) -> Callable[..., Dataset]:
    if key == "labelme":
        from seggui.formats.labelme import read_labelme as reader
    elif key == "cvat":
        from seggui.formats.cvat import read_cvat as reader
    elif key == "supervisely":
        from seggui.formats.supervisely import read_supervisely as reader
    elif key == "coco":
        from seggui.formats.coco import read_coco as reader
    elif key == "coco-panoptic":
        from seggui.formats.coco_panoptic import read_coco_panoptic as reader
    elif key == "geojson":
        from seggui.formats.geojson import read_geojson as reader
    elif key in ("masks", "png"):
        from seggui.formats.masks import read_masks as reader
    else:
        raise FormatError(f"unknown import format {key!r}; choose from {', '.join(IMPORT_FORMATS)}")
    return reader


def import_annotations(source: str | Path, format: str | None = None,
                       images_dir: str | Path | None = None) -> Dataset:
    """Read annotations from a file or folder; the format is detected when not given."""
    from seggui.formats.detect import detect_format

    source = Path(source)
    if not source.exists():
        raise FormatError("no such file or folder", source)
    if images_dir is not None and not Path(images_dir).is_dir():
        raise FormatError("images folder not found", images_dir)
    key = format or detect_format(source)
    dataset = _importer(key)(source, images_dir=images_dir)
    if not dataset.images:
        detail = f"; first problem: {dataset.report.skipped[0][0]}: {dataset.report.skipped[0][1]}" \
            if dataset.report.skipped else ""
        raise FormatError(f"no annotated image could be imported as {key}{detail}", source)
    return dataset


def image_locations(dataset: Dataset, verbose: bool = False) -> list[str]:
    """Where the imported images were found: a line per distinct folder (how many images it gave),
    the images embedded in annotation files, and those not found; with `verbose`, a line per image."""
    from collections import Counter

    if verbose:
        lines = []
        for image in dataset.images:
            where = str(image.image_path) if image.image_path is not None else (
                "embedded in the annotation file" if image.image_data is not None else "NOT FOUND")
            lines.append(f"image {image.image_name}: {where}")
        return lines
    folders = Counter(str(Path(image.image_path).parent) for image in dataset.images if image.image_path is not None)
    lines = [f"images found in {folder}: {count}" for folder, count in sorted(folders.items())]
    embedded = sum(1 for image in dataset.images if image.image_path is None and image.image_data is not None)
    if embedded:
        lines.append(f"images embedded in the annotation files: {embedded}")
    missing = [image.image_name for image in dataset.images if image.image_path is None and image.image_data is None]
    if missing:
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        lines.append(f"images not found: {len(missing)} ({shown}); give --images DIR if they are elsewhere")
    return lines


def export_annotations(dataset: Dataset, dest: str | Path, format: str, polygons: bool = False,
                       images_dir: str | Path | None = None, qupath_object: str | None = None) -> list[str]:
    """Write `dataset` to `dest`; nothing at `dest` changes unless the whole export succeeds.

    Returns warnings about content the target format cannot hold (nothing is dropped silently).
    """
    dest = Path(dest)
    if format not in EXPORT_FORMATS:
        raise FormatError(f"unknown export format {format!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if not dataset.images:
        raise FormatError("nothing to export: the dataset has no images")
    warnings = _lost_content(dataset, format, polygons)
    if format in ("coco", "cvat") and dest.suffix.lower() in (".json", ".xml"):
        if dest.is_dir():
            raise FormatError("destination is a folder; give a file name or a new folder", dest)
        _write_file(dataset, dest, format, polygons, images_dir)
        return warnings
    if dest.exists() and not dest.is_dir():
        raise FormatError("destination exists and is not a folder", dest)
    with staged_folder(dest) as stage:
        if format == "coco":
            _write_file(dataset, stage / "annotations.json", format, polygons, images_dir)
        elif format == "cvat":
            _write_file(dataset, stage / "annotations.xml", format, polygons, images_dir)
        elif format == "labelme":
            from seggui.formats.labelme import write_labelme

            warnings += write_labelme(dataset, stage, polygons, final_dest=dest)
        elif format == "supervisely":
            from seggui.formats.supervisely import write_supervisely

            warnings += write_supervisely(dataset, stage, polygons=polygons)
        elif format == "coco-panoptic":
            from seggui.formats.coco_panoptic import write_coco_panoptic

            write_coco_panoptic(dataset, stage)
        elif format == "geojson":
            from seggui.formats.geojson import write_geojson

            write_geojson(dataset, stage, qupath_object)
        else:
            from seggui.formats.masks import write_masks

            write_masks(dataset, stage)
    return warnings


def _write_file(dataset: Dataset, path: Path, format: str, polygons: bool, images_dir) -> None:
    if format == "coco":
        from seggui.formats.coco import write_coco

        write_coco(dataset, path, polygons, images_dir)
    else:
        from seggui.formats.cvat import write_cvat

        write_cvat(dataset, path, polygons)


def _lost_content(dataset: Dataset, format: str, polygons: bool) -> list[str]:
    warnings = []
    vectors = sum(len(image.vectors) for image in dataset.images)
    if format in ("png", "coco-panoptic") and vectors:
        warnings.append(f"{vectors} vector annotations (points, lines, boxes) have no place in {format} "
                        "and were not written")
    if format == "coco":
        others = sum(1 for image in dataset.images for v in image.vectors if v.kind != "box")
        if others:
            warnings.append(f"{others} vector annotations (points, lines, skeletons) have no place in COCO "
                            "instances and were not written")
    if polygons and format != "supervisely":  # Supervisely polygons are drawn back exactly
        warnings.append("polygons approximate the masks; use the default mask export for exact pixels")
    return warnings
