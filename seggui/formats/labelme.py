"""LabelMe JSON (wkentaro/labelme), every version seen in the wild, in and out.

Old files (no `version`, no `shape_type`) hold polygons; 3.x adds per-shape colours and
may lack the image size; 5.x adds `description` and embedded images; 5.7 adds `mask`
shapes (a PNG cropped to the integer box in `points`); later versions add
`oriented_rectangle` (four corners, drawn as a polygon). Polygons, rectangles and circles
are drawn with Pillow exactly as LabelMe's own exporters draw them, in file order.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, VectorShape
from seggui.core.errors import FormatError, SegguiError
from seggui.core.imageio import image_size
from seggui.formats import rasterize
from seggui.formats.canvas import LabelCanvas, class_names_of, finite_points, instance_masks, output_stems
from seggui.formats.rasterize import Crop
from seggui.formats.safety import (
    decode_base64,
    decode_image_bytes,
    encode_png,
    dataset_root,
    find_referenced_image,
    path_name,
    write_bytes_atomic,
)

REGION_TYPES = ("polygon", "oriented_rectangle", "rectangle", "circle", "mask")
VECTOR_TYPES = {"line": "line", "linestrip": "linestrip", "point": "point", "points": "points", "box": "box"}
# Marks a rectangle that stands for a box-only annotation, so it does not become a region.
BOX_ONLY_KEY = "seggui_box_only"
# Keys LabelMe itself writes; anything else in a file is kept in the image's flags under
# "labelme.<key>" and written back, so LabelMe-compatible tools' extras survive.
KNOWN_TOP_KEYS = {"version", "flags", "shapes", "imagePath", "imageData", "imageHeight", "imageWidth",
                  "lineColor", "fillColor"}
SHAPE_CORE_KEYS = {"label", "points", "shape_type", "mask"}
EXTRA_PREFIX = "labelme."
WRITE_VERSION = "5.7.0"


def looks_like_labelme(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("shapes"), list)


def read_labelme(source: str | Path, images_dir: str | Path | None = None) -> Dataset:
    """Import one LabelMe JSON file or every JSON file in a folder."""
    from seggui.formats.safety import read_json

    source = Path(source)
    images_folder = Path(images_dir) if images_dir else None
    dataset = Dataset()
    if source.is_dir():
        files = sorted(path for path in source.iterdir() if path.suffix.lower() == ".json" and path.is_file())
    elif source.is_file():
        files = [source]
    else:
        raise FormatError("no such file or folder", source)
    # imagePath is relative to the JSON; "../images/x.png" from an annotations/ folder stays inside the root.
    root = dataset_root(source)
    roots = [root] + ([images_folder] if images_folder else [])
    for path in files:
        try:
            data = read_json(path)
            if not looks_like_labelme(data):
                raise FormatError("not a LabelMe file (no 'shapes' list)", path)
            image = _read_image_annotation(path, data, dataset, roots, images_folder)
        except SegguiError as error:
            if len(files) == 1:
                raise
            dataset.report.skip(path.name, error.message)
            continue
        dataset.images.append(image)
    if files and not dataset.images and len(files) > 1:
        raise FormatError(f"none of the {len(files)} JSON files could be imported; first problem: "
                          f"{dataset.report.skipped[0][1]}", source)
    return dataset


def _read_image_annotation(path: Path, data: dict, dataset: Dataset, roots: list[Path],
                           images_folder: Path | None) -> ImageAnnotation:
    report = dataset.report
    reference = data.get("imagePath")
    search = [path.parent] + ([images_folder] if images_folder else [])
    image_path, warning = find_referenced_image(
        reference if isinstance(reference, str) else None, path.parent, roots, search
    )
    if warning:
        report.warnings.append(f"{path.name}: {warning}")
    if image_path is not None and image_path.resolve() == path.resolve():
        image_path = None  # imagePath names the JSON itself: the pixels live in imageData
    embedded = None
    if isinstance(data.get("imageData"), str) and data["imageData"]:
        embedded = decode_image_bytes(decode_base64(data["imageData"], path, "imageData"), path, "imageData")
    height, width = _image_size(path, data, embedded, image_path)
    flags = dict(data["flags"]) if isinstance(data.get("flags"), dict) else {}
    for key, value in data.items():
        if key not in KNOWN_TOP_KEYS:
            flags[EXTRA_PREFIX + key] = value
    canvas = LabelCanvas(height, width, path.name, report, path)
    groups: dict[tuple[str, Any], int] = {}
    vectors: list[VectorShape] = []
    for index, shape in enumerate(data["shapes"]):
        where = f"{path.name}: shape {index}"
        if not isinstance(shape, dict):
            report.skip(where, "not a JSON object")
            continue
        label = shape.get("label")
        if not isinstance(label, str) or not label:
            report.skip(where, f"label {label!r} is not a non-empty string")
            continue
        shape_type = shape.get("shape_type") or "polygon"  # old files: polygons only
        if not isinstance(shape_type, str):
            report.skip(where, f"shape_type {shape_type!r} is not a string")
            continue
        points = finite_points(shape.get("points"))
        if points is None:
            report.skip(f"{where} ({label})", "points missing, malformed, NaN or infinite")
            continue
        info = {key: value for key, value in shape.items() if key not in SHAPE_CORE_KEYS and key != BOX_ONLY_KEY}
        if shape_type == "rectangle" and shape.get(BOX_ONLY_KEY):
            shape_type = "box"  # a box with no region (COCO bbox-only) written by seggui
        if shape_type in VECTOR_TYPES:
            label_class = dataset.ensure_class(label, _shape_color(shape))
            vectors.append(VectorShape(VECTOR_TYPES[shape_type], points, label_class.id, label, info))
            continue
        if shape_type not in REGION_TYPES:
            report.skip(f"{where} ({label})", f"unknown shape_type {shape_type!r}")
            continue
        try:
            crop = _region(shape_type, points, shape, height, width, path)
        except _ShapeProblem as problem:
            report.skip(f"{where} ({label})", str(problem))
            continue
        group_id = shape.get("group_id")
        if not isinstance(group_id, (int, str, type(None))) or isinstance(group_id, bool):
            report.warnings.append(f"{where}: group_id {group_id!r} ignored (not a number or string)")
            group_id = None
        key = (label, group_id) if group_id is not None else (label, ("shape", index))
        instance = groups.get(key)
        if instance is None:
            label_class = dataset.ensure_class(label, _shape_color(shape))
            info["shape_type"] = shape_type
            instance = canvas.new_instance(label_class.id, f"{where} ({label})", info)
            groups[key] = instance
        canvas.paint(instance, crop)
    image = canvas.finish(
        _image_name(path, reference, image_path),
        class_names_of(dataset),
        vectors=vectors,
        flags=flags,
        image_path=image_path,
        image_data=embedded,
    )
    report.vectors += len(vectors)
    return image


def _image_name(path: Path, reference: Any, image_path: Path | None) -> str:
    if image_path is not None:
        return image_path.name
    name = path_name(reference) if isinstance(reference, str) else ""
    if not name or name in (".", "..") or name.lower().endswith(".json"):
        return path.with_suffix(".png").name  # the image only exists inside the JSON
    return name


class _ShapeProblem(Exception):
    pass


def _region(shape_type: str, points: np.ndarray, shape: dict, height: int, width: int, path: Path) -> Crop | None:
    if shape_type == "polygon":
        if len(points) < 3:
            raise _ShapeProblem(f"polygon with {len(points)} point(s); at least 3 are needed")
        return rasterize.pil_polygon(points, height, width)
    if shape_type == "oriented_rectangle":  # labelme draws its four corners as a polygon
        if len(points) != 4:
            raise _ShapeProblem(f"oriented_rectangle with {len(points)} point(s); it needs 4")
        return rasterize.pil_polygon(points, height, width)
    if len(points) < 2:
        raise _ShapeProblem(f"{shape_type} needs 2 points, has {len(points)}")
    if shape_type == "rectangle":
        return rasterize.pil_rectangle(points[:2], height, width)
    if shape_type == "circle":
        return rasterize.pil_circle(points[0], points[1], height, width)
    # mask: a PNG covering the integer box points[0]..points[1], both ends included.
    (left, top), (right, bottom) = np.asarray(points[:2], dtype=float).astype(int)
    box_h, box_w = bottom - top + 1, right - left + 1
    if box_h <= 0 or box_w <= 0 or box_h * box_w > height * width * 4 + 16:
        raise _ShapeProblem(f"mask box {box_w}x{box_h} is empty or far larger than the image")
    try:
        raw = decode_base64(shape.get("mask"), path, "mask", max_bytes=64 * 1024**2)
        mask = decode_image_bytes(raw, path, "mask", max_pixels=max(box_h * box_w, 1), grayscale=True)
    except FormatError as error:
        raise _ShapeProblem(error.message) from None
    if mask.shape != (box_h, box_w):
        raise _ShapeProblem(f"mask is {mask.shape[1]}x{mask.shape[0]} but its box is {box_w}x{box_h}")
    return Crop(mask > 0, int(top), int(left))


def _shape_color(shape: dict) -> tuple[int, int, int] | None:
    color = shape.get("fill_color") or shape.get("line_color")
    if isinstance(color, (list, tuple)) and len(color) >= 3:
        try:
            rgb = tuple(int(c) for c in color[:3])
        except (TypeError, ValueError):
            return None
        if all(0 <= c <= 255 for c in rgb):
            return rgb  # type: ignore[return-value]
    return None


def _image_size(path: Path, data: dict, embedded: np.ndarray | None, image_path: Path | None) -> tuple[int, int]:
    declared = None
    height, width = data.get("imageHeight"), data.get("imageWidth")
    if height is not None or width is not None:
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v == int(v) and 0 < v < 10**6
                   for v in (height, width)):
            raise FormatError(f"imageHeight/imageWidth {height!r}x{width!r} are not positive integers", path)
        declared = (int(height), int(width))
    actual = None
    source = "imageData"
    if embedded is not None:
        actual = embedded.shape[:2]
    elif image_path is not None:
        actual = image_size(image_path)
        source = image_path.name
    if declared and actual and tuple(actual) != declared:
        raise FormatError(
            f"the annotation says the image is {declared[1]}x{declared[0]} but {source} is "
            f"{actual[1]}x{actual[0]}",
            path,
        )
    size = declared or actual
    if size is None:
        raise FormatError("image size unknown: no imageHeight/imageWidth, no imageData, image file not found", path)
    return int(size[0]), int(size[1])


# --- export ---------------------------------------------------------------------------

def write_labelme(dataset: Dataset, dest: str | Path, polygons: bool = False,
                  final_dest: str | Path | None = None) -> list[str]:
    """Write one LabelMe JSON per image into the folder `dest` (which must be staged by the caller).

    imagePath is relative to `final_dest` (where the staged folder will be renamed to; `dest`
    itself when not given). Returns one warning per file whose imagePath names no existing
    image and which carries no imageData: LabelMe refuses to open such a file.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    names = class_names_of(dataset)
    warnings = []
    for image, stem in zip(dataset.images, output_stems(dataset.images)):
        document = labelme_document(image, names, Path(final_dest) if final_dest else dest, polygons)
        if document["imageData"] is None and not (image.image_path is not None and Path(image.image_path).is_file()):
            warnings.append(f"labelme: {stem}.json names imagePath {document['imagePath']!r} but no such image "
                            "was found at import and no imageData is embedded: LabelMe will refuse to open it "
                            "until the image is placed there")
        text = json.dumps(document, indent=2, ensure_ascii=False)
        write_bytes_atomic(dest / f"{stem}.json", text.encode("utf-8"))
    return warnings


def labelme_document(image: ImageAnnotation, names: dict[int, str], dest: Path, polygons: bool) -> dict:
    shapes: list[dict] = []
    for instance, rows, cols, mask in instance_masks(image):
        label = names.get(image.instance_classes.get(instance, 0), "object")
        info = dict(image.instance_info.get(instance, {}))
        extras = {k: v for k, v in info.items() if k not in ("shape_type", "group_id", "flags", "description")}
        base = {
            "label": label,
            "group_id": None,
            "description": info.get("description") or "",
            "flags": info.get("flags") if isinstance(info.get("flags"), dict) else {},
        }
        # LabelMe's Pillow fill is not even-odd, so a cell with a hole (or a part Pillow cannot
        # redraw, such as a one-pixel diagonal) is written as a mask shape: as a polygon it
        # would cover whatever lies in its hole.
        rings = rasterize.pil_exact_polygons(mask) if polygons else None
        if rings is not None:
            if len(rings) > 1:
                base["group_id"] = instance  # several parts: LabelMe joins shapes by (label, group_id)
            for exterior in rings:
                exterior = exterior + [cols.start, rows.start]
                shapes.append({**base, "points": exterior.tolist(), "shape_type": "polygon", "mask": None, **extras})
        else:
            box = [[float(cols.start), float(rows.start)], [float(cols.stop - 1), float(rows.stop - 1)]]
            payload = base64.b64encode(encode_png(mask.astype(np.uint8) * 255)).decode("ascii")
            shapes.append({**base, "points": box, "shape_type": "mask", "mask": payload, **extras})
    for vector in image.vectors:
        shapes.extend(_vector_shapes(vector, names))
    flags = {k: v for k, v in image.flags.items() if not k.startswith(EXTRA_PREFIX)}
    document: dict[str, Any] = {"version": WRITE_VERSION, "flags": flags, "shapes": shapes}
    document["imagePath"] = _image_reference(image, dest)
    document["imageData"] = None
    if image.image_path is None and image.image_data is not None:
        document["imageData"] = base64.b64encode(encode_png(image.image_data)).decode("ascii")
    document["imageHeight"] = int(image.height)
    document["imageWidth"] = int(image.width)
    for key, value in image.flags.items():
        if key.startswith(EXTRA_PREFIX) and key[len(EXTRA_PREFIX):] not in document:
            document[key[len(EXTRA_PREFIX):]] = value
    return document


def _vector_shapes(vector: VectorShape, names: dict[int, str]) -> list[dict]:
    label = vector.label or names.get(vector.class_id or 0, "object")
    points = np.asarray(vector.points, dtype=float).reshape(-1, 2)
    extras = {k: v for k, v in vector.attributes.items() if k not in SHAPE_CORE_KEYS}
    extras.setdefault("group_id", None)
    extras.setdefault("flags", {})
    kind = vector.kind
    if kind == "point" or (kind in ("points", "skeleton") and len(points) == 1):
        return [{"label": label, "points": points[:1].tolist(), "shape_type": "point", **extras}]
    if kind in ("points", "skeleton"):
        return [{"label": label, "points": points.tolist(), "shape_type": "points", **extras}]
    if kind == "line" and len(points) == 2:
        return [{"label": label, "points": points.tolist(), "shape_type": "line", **extras}]
    if kind == "box":
        return [{"label": label, "points": points[:2].tolist(), "shape_type": "rectangle", **extras,
                 BOX_ONLY_KEY: True}]
    return [{"label": label, "points": points.tolist(), "shape_type": "linestrip", **extras}]


def _image_reference(image: ImageAnnotation, dest: Path) -> str:
    import os

    if image.image_path is not None:
        try:
            return Path(os.path.relpath(Path(image.image_path).resolve(), dest.resolve())).as_posix()
        except ValueError:  # another drive on Windows
            return Path(image.image_path).name
    return image.image_name
