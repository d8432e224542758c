"""COCO instances JSON in and out.

Import takes polygons (several per instance, rasterised by pycocotools as COCO's own
tools do), uncompressed RLE and compressed RLE. RLE is validated against the image size
in Python before anything is decoded: pycocotools' decoder trusts its input and writes
past its buffer when runs sum to more than height x width. Box-only annotations keep
their box as a vector annotation. Export writes compressed RLE (exact) or polygons;
instances imported with iscrowd=1 are written back as crowds, always as RLE (COCO's rule).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass, VectorShape, default_class_color
from seggui.core.errors import FormatError, SegguiError
from seggui.formats import rasterize
from seggui.formats.canvas import LabelCanvas, class_names_of, finite_points
from seggui.formats.rasterize import Crop
from seggui.formats.safety import dataset_root, find_referenced_image, read_json, write_bytes_atomic

ANNOTATION_CORE_KEYS = {"segmentation", "bbox", "area", "image_id", "category_id"}


def looks_like_coco(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("images"), list) and (
        isinstance(data.get("annotations"), list) or isinstance(data.get("categories"), list)
    )


def coco_files_in(folder: Path) -> list[Path]:
    """COCO JSONs in a dataset folder: top level, annotations/, or one level down (Roboflow)."""
    candidates = sorted(folder.glob("*.json")) + sorted(folder.glob("annotations/*.json")) + sorted(
        folder.glob("*/_annotations.coco.json")
    ) + sorted(folder.glob("*/annotations.json"))
    found = []
    for path in dict.fromkeys(candidates):
        if path.name.startswith(("panoptic", ".")):
            continue
        try:
            if looks_like_coco(read_json(path)):
                found.append(path)
        except FormatError:
            continue
    return found


def read_coco(source: str | Path, images_dir: str | Path | None = None) -> Dataset:
    source = Path(source)
    images_folder = Path(images_dir) if images_dir else None
    if source.is_dir():
        files = coco_files_in(source)
        if not files:
            raise FormatError("no COCO annotation JSON found in this folder", source)
    elif source.is_file():
        files = [source]
    else:
        raise FormatError("no such file or folder", source)
    root = dataset_root(source)  # annotations/instances_val2017.json: the folder above annotations/
    dataset = Dataset()
    for path in files:
        data = read_json(path)
        if not looks_like_coco(data):
            raise FormatError("not a COCO file (needs 'images' and 'annotations' lists)", path)
        _read_file(path, data, dataset, root, images_folder, prefix_split=len(files) > 1)
    return dataset


def _category_map(path: Path, data: dict, dataset: Dataset) -> dict[Any, LabelClass]:
    categories = data.get("categories") or []
    if not isinstance(categories, list):
        raise FormatError("'categories' is not a list", path)
    valid = [c for c in categories if isinstance(c, dict) and isinstance(c.get("id"), int)
             and not isinstance(c.get("id"), bool) and isinstance(c.get("name"), (str, int))]
    if len(valid) != len(categories):
        dataset.report.warnings.append(f"{path.name}: {len(categories) - len(valid)} malformed categories ignored")
    ids = [c["id"] for c in valid]
    names = [str(c["name"]) for c in valid]
    # Keep COCO's ids as class ids (gaps included) when they are usable, so a round trip
    # gives the same ids; otherwise number them in file order.
    keep_ids = all(i >= 1 for i in ids) and len(set(ids)) == len(ids) and len(set(names)) == len(names)
    mapping: dict[Any, LabelClass] = {}
    for category, name in zip(valid, names):
        existing = dataset.class_by_name(name)
        if existing is None and keep_ids and all(c.id != category["id"] for c in dataset.classes):
            color = _color(category.get("color")) or default_class_color(category["id"])
            existing = LabelClass(category["id"], name, color)
            dataset.classes.append(existing)
        elif existing is None:
            existing = dataset.ensure_class(name, _color(category.get("color")))
        mapping[category["id"]] = existing
    dataset.classes.sort(key=lambda c: c.id)
    return mapping


def _color(value: Any) -> tuple[int, int, int] | None:
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            return tuple(int(value[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            return None
    if isinstance(value, list) and len(value) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in value):
        return tuple(value)  # type: ignore[return-value]
    return None


def _read_file(path: Path, data: dict, dataset: Dataset, root: Path, images_folder: Path | None,
               prefix_split: bool) -> None:
    report = dataset.report
    if not isinstance(data.get("annotations") or [], list):
        raise FormatError("'annotations' is not a list", path)
    categories = _category_map(path, data, dataset)
    names = class_names_of(dataset)
    by_image: dict[Any, list[dict]] = {}
    for index, annotation in enumerate(data.get("annotations") or []):
        if not isinstance(annotation, dict) or "image_id" not in annotation:
            report.skip(f"{path.name}: annotation {index}", "not an object with an image_id")
            continue
        try:
            by_image.setdefault(annotation["image_id"], []).append(annotation)
        except TypeError:
            report.skip(f"{path.name}: annotation {index}", "image_id is not a number or string")
    split = path.parent.name if path.name == "_annotations.coco.json" else (
        path.stem.split("_", 1)[1] if path.stem.startswith("instances_") else "")
    # COCO's official layout puts val2017/ beside annotations/; others use images/val2017/ or images/.
    # Folders outside `roots` are listed here but never opened (find_referenced_image checks).
    subfolders = ([split, f"images/{split}"] if split else []) + ["images", "."]
    search = [path.parent] + [base / sub for base in dict.fromkeys((path.parent.parent, root)) for sub in subfolders]
    search += [images_folder] if images_folder else []
    roots = [root] + ([images_folder] if images_folder else [])
    seen_ids = set()
    for index, entry in enumerate(data["images"]):
        where = f"{path.name}: image {index}"
        if not isinstance(entry, dict):
            report.skip(where, "not a JSON object")
            continue
        image_id, file_name = entry.get("id"), entry.get("file_name")
        height, width = entry.get("height"), entry.get("width")
        if not isinstance(file_name, str) or not file_name:
            report.skip(where, "file_name missing")
            continue
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 10**6 for v in (height, width)):
            report.skip(f"{path.name}: {file_name}", f"height/width {height!r}x{width!r} are not positive integers")
            continue
        try:
            if image_id in seen_ids:
                report.skip(f"{path.name}: {file_name}", f"duplicate image id {image_id!r}")
                continue
            seen_ids.add(image_id)
        except TypeError:
            report.skip(f"{path.name}: {file_name}", "image id is not a number or string")
            continue
        image_path, warning = find_referenced_image(file_name, path.parent, roots, [p for p in search if p.is_dir()])
        if warning:
            report.warnings.append(f"{path.name}: {warning}")
        if image_path is not None:
            try:
                from seggui.core.imageio import image_size

                actual = image_size(image_path)
            except SegguiError as error:
                report.warnings.append(f"{file_name}: {error.message}")
                actual = (height, width)
            if actual != (height, width):
                report.skip(f"{path.name}: {file_name}",
                            f"annotation says {width}x{height} but the image is {actual[1]}x{actual[0]}")
                continue
        name = file_name.replace("\\", "/")
        if prefix_split and split:
            name = f"{split}/{name.rsplit('/', 1)[-1]}"
        canvas = LabelCanvas(height, width, f"{path.name}: {file_name}", report, path)
        vectors: list[VectorShape] = []
        annotations = by_image.pop(image_id, [])
        # Crowd regions are drawn first so that the individual instances stay visible on top.
        annotations.sort(key=lambda a: 0 if a.get("iscrowd") else 1)
        for annotation in annotations:
            _add_annotation(annotation, categories, canvas, vectors, path, file_name)
        report.vectors += len(vectors)
        dataset.images.append(canvas.finish(name, names, vectors=vectors, image_path=image_path))
    for image_id, annotations in by_image.items():
        report.skip(f"{path.name}: {len(annotations)} annotation(s)", f"image id {image_id!r} is not in 'images'")


def _add_annotation(annotation: dict, categories: dict, canvas: LabelCanvas, vectors: list[VectorShape],
                    path: Path, file_name: str) -> None:
    report = canvas.report
    where = f"{path.name}: {file_name}: annotation {annotation.get('id', '?')}"
    label_class = categories.get(annotation.get("category_id")) if isinstance(
        annotation.get("category_id"), int) else None
    if label_class is None:
        report.skip(where, f"category_id {annotation.get('category_id')!r} is not in 'categories'")
        return
    info = {key: value for key, value in annotation.items() if key not in ANNOTATION_CORE_KEYS}
    if "id" in info:
        info["coco_id"] = info.pop("id")
    segmentation = annotation.get("segmentation")
    height, width = canvas.height, canvas.width
    if segmentation in (None, [], {}):
        box = finite_points(annotation.get("bbox"), minimum=2)
        if box is None or len(box) != 2:
            report.skip(where, "no segmentation and no usable bbox")
            return
        corners = np.array([box[0], box[0] + box[1]])
        vectors.append(VectorShape("box", corners, label_class.id, label_class.name, info))
        return
    try:
        crop = _segmentation_crop(segmentation, height, width)
    except ValueError as problem:
        report.skip(where, str(problem))
        return
    instance = canvas.new_instance(label_class.id, f"annotation {annotation.get('id', '?')} ({label_class.name})", info)
    canvas.paint(instance, crop)


def _segmentation_crop(segmentation: Any, height: int, width: int) -> Crop | None:
    if isinstance(segmentation, list):
        polygons = []
        for polygon in segmentation:
            points = finite_points(polygon, minimum=3)
            if points is not None:
                polygons.append(points)
        if not polygons:
            raise ValueError("no polygon with at least 3 finite points")
        return rasterize.coco_polygons(polygons, height, width)
    if isinstance(segmentation, dict):
        size = segmentation.get("size")
        if not (isinstance(size, list) and size == [height, width]):
            raise ValueError(f"RLE size {size!r} is not the image size [{height}, {width}]")
        counts = segmentation.get("counts")
        if isinstance(counts, str):
            counts = counts_from_string(counts)
        elif not (isinstance(counts, list) and all(isinstance(c, int) and not isinstance(c, bool) for c in counts)):
            raise ValueError("RLE counts are neither a list of integers nor a string")
        return crop_from_counts(counts, height, width)
    raise ValueError(f"segmentation of type {type(segmentation).__name__} is neither polygons nor RLE")


def counts_from_string(text: str) -> list[int]:
    """Decode COCO's compressed RLE string (6-bit groups, deltas from the count two back)."""
    counts: list[int] = []
    position = 0
    data = text.encode("ascii", "replace")
    while position < len(data):
        value, shift, more = 0, 0, True
        while more:
            if position >= len(data):
                raise ValueError("compressed RLE string ends inside a number")
            chunk = data[position] - 48
            if not 0 <= chunk < 64:
                raise ValueError("compressed RLE string has a character outside its alphabet")
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            position += 1
            shift += 1
            if shift > 7:
                raise ValueError("compressed RLE count too large")
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def crop_from_counts(counts: list[int], height: int, width: int) -> Crop | None:
    """Column-major RLE to a crop spanning only the columns the instance touches."""
    try:
        array = np.asarray(counts, dtype=np.int64)
    except OverflowError:  # a run longer than 2**63: callers report ValueError as a broken RLE
        raise ValueError("RLE has a run too long for any image") from None
    if (array < 0).any():
        raise ValueError("RLE has a negative run")
    if int(array.sum()) != height * width:
        raise ValueError(f"RLE runs sum to {int(array.sum()):,}, not height x width = {height * width:,}")
    ends = np.cumsum(array)
    starts = ends - array
    starts, ends = starts[1::2], ends[1::2]
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if starts.size == 0:
        return None
    first_col, last_col = int(starts[0] // height), int((ends[-1] - 1) // height)
    offset = first_col * height
    flat = np.zeros((last_col - first_col + 1) * height + 1, dtype=np.int8)
    np.add.at(flat, starts - offset, 1)
    np.add.at(flat, ends - offset, -1)
    mask = np.cumsum(flat[:-1]).astype(bool).reshape(last_col - first_col + 1, height).T
    return Crop(mask, 0, first_col)


# --- export ---------------------------------------------------------------------------

def coco_document(dataset: Dataset, polygons: bool = False, images_dir: Path | None = None) -> dict:
    images, annotations = [], []
    names = class_names_of(dataset)
    for image_number, image in enumerate(dataset.images, start=1):
        images.append({"id": image_number, "file_name": _file_name(image, images_dir),
                       "height": int(image.height), "width": int(image.width)})
        annotations.extend(image_annotations(image, image_number, len(annotations) + 1, polygons, names))
    categories = [{"id": c.id, "name": c.name, "supercategory": "", "color": "#%02x%02x%02x" % c.color}
                  for c in sorted(dataset.classes, key=lambda c: c.id)]
    return {"info": {"description": "exported by seggui", "version": "1.0"}, "licenses": [],
            "images": images, "annotations": annotations, "categories": categories}


def image_annotations(image: ImageAnnotation, image_id: int, first_id: int, polygons: bool,
                      names: dict[int, str]) -> list[dict]:
    height, width = image.labels.shape
    boxes = rasterize.instance_boxes(image.labels)
    crowds = {instance for instance in boxes if is_crowd(image.instance_info.get(instance, {}))}
    counts = rasterize.coco_rle_counts(image.labels) if crowds or not polygons else {}
    result = []
    for instance in sorted(boxes):
        rows, cols = boxes[instance]
        class_id = image.instance_classes.get(instance)
        if class_id is None or class_id not in names:
            raise FormatError(f"instance {instance} of {image.image_name} has no class; assign one before export")
        if polygons and instance not in crowds:  # COCO: a crowd region is always RLE
            crop = image.labels[rows, cols] == instance
            area = int(np.count_nonzero(crop))
            segmentation = [
                (ring + [cols.start, rows.start]).ravel().tolist() for ring in rasterize.pixel_edge_polygons(crop)
            ]
        else:
            instance_counts = counts[instance]
            area = int(sum(instance_counts[1::2]))
            segmentation = rasterize.compress_coco_rle(instance_counts, height, width)
        entry = {
            "id": first_id + len(result), "image_id": image_id, "category_id": int(class_id),
            "segmentation": segmentation, "area": area,
            "bbox": [cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start],
            "iscrowd": int(instance in crowds),
        }
        info = image.instance_info.get(instance, {})
        for key in ("score", "attributes"):
            if key in info:
                entry[key] = info[key]
        result.append(entry)
    for vector in image.vectors:
        if vector.kind == "box" and vector.class_id in names and len(vector.points) >= 2:
            (x0, y0), (x1, y1) = np.asarray(vector.points[:2], dtype=float)
            result.append({"id": first_id + len(result), "image_id": image_id, "category_id": vector.class_id,
                           "segmentation": [], "area": float(abs(x1 - x0) * abs(y1 - y0)),
                           "bbox": [float(min(x0, x1)), float(min(y0, y1)), float(abs(x1 - x0)), float(abs(y1 - y0))],
                           "iscrowd": 0})
    return result


def is_crowd(info: dict) -> bool:
    """iscrowd as imported (COCO 0/1, or True); anything else is not a crowd."""
    value = info.get("iscrowd")
    return value is True or (isinstance(value, (int, float)) and not isinstance(value, bool) and value == 1)


def _file_name(image: ImageAnnotation, images_dir: Path | None) -> str:
    if images_dir is not None and image.image_path is not None:
        try:
            return Path(image.image_path).resolve().relative_to(Path(images_dir).resolve()).as_posix()
        except ValueError:
            pass
    return image.image_name


def write_coco(dataset: Dataset, dest: str | Path, polygons: bool = False, images_dir: str | Path | None = None) -> None:
    """Write a COCO instances JSON file atomically."""
    document = coco_document(dataset, polygons, Path(images_dir) if images_dir else None)
    write_bytes_atomic(Path(dest), json.dumps(document, separators=(",", ":")).encode("utf-8"))
