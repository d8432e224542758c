"""Supervisely projects in and out.

A project is `meta.json` (classes with title, shape, colour; tag definitions) plus one
folder per dataset holding `ann/<image name>.json` and `img/<image name>`. Bitmaps are a
base64 zlib-compressed PNG placed at `origin` [x, y]; polygons have an `exterior` and
`interior` holes; rectangles are two inclusive corners. Objects draw in list order.
"""

from __future__ import annotations

import base64
import json
import shutil
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, VectorShape
from seggui.core.errors import FormatError, SegguiError
from seggui.core.imageio import DEFAULT_MAX_PIXELS, image_size
from seggui.formats import rasterize
from seggui.formats.canvas import LabelCanvas, class_names_of, finite_points, instance_masks
from seggui.formats.rasterize import Crop
from seggui.formats.safety import (
    decode_base64,
    decode_image_bytes,
    encode_png,
    inflate,
    png_header_size,
    read_json,
    write_bytes_atomic,
)

BOX_ONLY_KEY = "seggui_box_only"  # a rectangle standing for a box-only annotation
VECTOR_GEOMETRIES = {"point": "point", "line": "polyline", "polyline": "polyline", "graph": "skeleton"}


def is_supervisely_project(folder: Path) -> bool:
    return (folder / "meta.json").is_file() and any(
        (child / "ann").is_dir() for child in folder.iterdir() if child.is_dir()
    )


def read_supervisely(source: str | Path, images_dir: str | Path | None = None) -> Dataset:
    source = Path(source)
    if source.is_file() and source.name == "meta.json":
        source = source.parent
    if not source.is_dir() or not (source / "meta.json").is_file():
        raise FormatError("not a Supervisely project folder (no meta.json)", source)
    meta = read_json(source / "meta.json")
    if not isinstance(meta, dict) or not isinstance(meta.get("classes", []), list):
        raise FormatError("meta.json must be an object with a 'classes' list", source / "meta.json")
    dataset = Dataset()
    for entry in meta.get("classes", []):
        if isinstance(entry, dict) and isinstance(entry.get("title"), str) and entry["title"]:
            dataset.ensure_class(entry["title"], _hex_color(entry.get("color")))
        else:
            dataset.report.warnings.append(f"meta.json: class entry {entry!r} ignored (no title)")
    folders = sorted(child for child in source.iterdir() if child.is_dir() and (child / "ann").is_dir())
    if not folders:
        raise FormatError("no dataset folder with an ann/ subfolder", source)
    for folder in folders:
        for path in sorted(p for p in (folder / "ann").iterdir() if p.suffix.lower() == ".json"):
            try:
                image = _read_annotation(path, folder, dataset, multiple=len(folders) > 1,
                                         images_folder=Path(images_dir) if images_dir else None)
            except SegguiError as error:
                dataset.report.skip(f"{folder.name}/ann/{path.name}", error.message)
                continue
            dataset.images.append(image)
    return dataset


def _hex_color(text: Any) -> tuple[int, int, int] | None:
    if isinstance(text, str) and len(text) == 7 and text.startswith("#"):
        try:
            return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            return None
    return None


def _tags(value: Any) -> dict[str, Any]:
    tags: dict[str, Any] = {}
    for tag in value if isinstance(value, list) else []:
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            tags[tag["name"]] = tag.get("value", True) if tag.get("value") is not None else True
    return tags


def _read_annotation(path: Path, folder: Path, dataset: Dataset, multiple: bool,
                     images_folder: Path | None) -> ImageAnnotation:
    report = dataset.report
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("size"), dict):
        raise FormatError("annotation needs a 'size' object", path)
    height, width = data["size"].get("height"), data["size"].get("width")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 10**6 for v in (height, width)):
        raise FormatError(f"size {height!r}x{width!r} is not positive integers", path)
    image_file_name = path.name[:-5] if path.name.lower().endswith(".json") else path.stem
    image_path = None
    for candidate_folder in (folder / "img", images_folder):
        candidate = candidate_folder / image_file_name if candidate_folder else None
        if candidate is not None and candidate.is_file():
            image_path = candidate
            break
    if image_path is not None:
        actual = image_size(image_path)
        if actual != (height, width):
            raise FormatError(f"annotation says {width}x{height} but the image is {actual[1]}x{actual[0]}", path)
    canvas = LabelCanvas(height, width, f"{folder.name}/{image_file_name}", report, path)
    vectors: list[VectorShape] = []
    objects = data.get("objects", [])
    if not isinstance(objects, list):
        raise FormatError("'objects' is not a list", path)
    for index, item in enumerate(objects):
        where = f"{folder.name}/ann/{path.name}: object {index}"
        if not isinstance(item, dict) or not isinstance(item.get("classTitle"), str) or not item["classTitle"]:
            report.skip(where, "not an object with a classTitle")
            continue
        title, geometry = item["classTitle"], item.get("geometryType")
        info = {key: value for key, value in item.items()
                if key not in ("classTitle", "geometryType", "bitmap", "points", "tags")}
        info["tags"] = _tags(item.get("tags"))
        info["shape_type"] = geometry
        if geometry == "rectangle" and item.get(BOX_ONLY_KEY):
            box = finite_points((item.get("points") or {}).get("exterior"), minimum=2)
            if box is None:
                report.skip(f"{where} ({title})", "rectangle corners malformed")
                continue
            info.pop(BOX_ONLY_KEY, None)
            label_class = dataset.ensure_class(title)
            vectors.append(VectorShape("box", box[:2], label_class.id, title, info))
            continue
        try:
            if geometry in VECTOR_GEOMETRIES:
                points = _vector_points(item)
                label_class = dataset.ensure_class(title)
                vectors.append(VectorShape(VECTOR_GEOMETRIES[geometry], points, label_class.id, title, info))
                continue
            crop = _region(item, geometry, height, width, path)
        except ValueError as problem:
            report.skip(f"{where} ({title})", str(problem))
            continue
        label_class = dataset.ensure_class(title)
        instance = canvas.new_instance(label_class.id, f"{where} ({title})", info)
        canvas.paint(instance, crop)
    report.vectors += len(vectors)
    name = f"{folder.name}/{image_file_name}" if multiple else image_file_name
    flags = _tags(data.get("tags"))
    if isinstance(data.get("description"), str) and data["description"]:
        flags["supervisely.description"] = data["description"]
    return canvas.finish(name, class_names_of(dataset), vectors=vectors, flags=flags, image_path=image_path)


def _vector_points(item: dict) -> np.ndarray:
    if item.get("geometryType") == "graph":
        nodes = item.get("nodes")
        if not isinstance(nodes, dict) or not nodes:
            raise ValueError("graph without nodes")
        coordinates = []
        for node in nodes.values():
            location = node.get("loc") if isinstance(node, dict) else None
            points = finite_points([location] if isinstance(location, list) else None)  # [x, y]
            if points is None:
                raise ValueError("graph node without a finite loc")
            coordinates.append(points[0])
        item.setdefault("node_names", list(nodes.keys()))
        return np.array(coordinates)
    points = finite_points((item.get("points") or {}).get("exterior"))
    if points is None:
        raise ValueError("points.exterior missing, malformed, NaN or infinite")
    return points


def _region(item: dict, geometry: Any, height: int, width: int, path: Path) -> Crop | None:
    if geometry == "bitmap":
        bitmap = item.get("bitmap")
        if not isinstance(bitmap, dict):
            raise ValueError("bitmap object without a 'bitmap'")
        origin = finite_points(bitmap.get("origin"))
        if origin is None or len(origin) != 1:
            raise ValueError("bitmap origin is not [x, y]")
        try:
            raw = decode_base64(bitmap.get("data"), path, "bitmap data", max_bytes=256 * 1024**2)
            # Bound the inflated size: a PNG of the whole image cannot need more than this.
            png = inflate(raw, path, "bitmap data", max_length=min(DEFAULT_MAX_PIXELS, height * width) * 4 + 65536)
            size = png_header_size(png)
            if size is None:
                raise ValueError("bitmap data is not a zlib-compressed PNG")
            if size[0] * size[1] > height * width * 4:
                raise ValueError(f"bitmap is {size[1]}x{size[0]}, larger than the image")
            array = decode_image_bytes(png, path, "bitmap", max_pixels=max(size[0] * size[1], 1))
        except FormatError as error:
            raise ValueError(error.message) from None
        if array.ndim == 3:
            mask = array[..., 3] > 0 if array.shape[2] == 4 else array.any(axis=2)
        else:
            mask = array > 0
        left, top = (int(round(v)) for v in origin[0])
        return Crop(mask, top, left)
    points = item.get("points")
    if not isinstance(points, dict):
        raise ValueError(f"{geometry} object without 'points'")
    exterior = finite_points(points.get("exterior"), minimum=2)
    if exterior is None:
        raise ValueError("exterior missing, malformed, NaN or infinite")
    if geometry == "rectangle":
        (x0, y0), (x1, y1) = np.round(exterior[:2]).astype(int)
        x0, x1, y0, y1 = min(x0, x1), max(x0, x1), min(y0, y1), max(y0, y1)
        return Crop(np.ones((y1 - y0 + 1, x1 - x0 + 1), dtype=bool), y0, x0)
    if geometry == "polygon":
        if len(exterior) < 3:
            raise ValueError(f"polygon with {len(exterior)} points; at least 3 are needed")
        holes = [h for h in (finite_points(hole, minimum=3) for hole in points.get("interior") or []) if h is not None]
        return rasterize.cv_polygon(exterior, holes, height, width)
    raise ValueError(f"geometry {geometry!r} is not supported")


# --- export ---------------------------------------------------------------------------

def bitmap_data(mask: np.ndarray) -> str:
    """base64(zlib(PNG)): a palette PNG whose index 0 is transparent, as Supervisely writes."""
    import io

    from PIL import Image

    image = Image.fromarray(mask.astype(np.uint8), mode="L").convert("P")
    image.putpalette([0, 0, 0, 255, 255, 255])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", transparency=0)
    return base64.b64encode(zlib.compress(buffer.getvalue())).decode("ascii")


def polygon_points(mask: np.ndarray, top: int, left: int) -> dict | None:
    """Supervisely `points` (exterior + interior, integer [x, y] pixel centres) that the SDK's
    Polygon rasteriser draws back into exactly `mask`; None for a cell in several parts
    (one Supervisely polygon has one exterior: such a cell stays one bitmap object)."""
    parts = rasterize.centre_integer_rings(mask)
    if len(parts) != 1:
        return None
    exterior, holes = parts[0]
    shift = np.array([left, top])
    return {"exterior": (exterior + shift).tolist(), "interior": [(hole + shift).tolist() for hole in holes]}


def write_supervisely(dataset: Dataset, dest: str | Path, dataset_name: str = "ds0",
                      polygons: bool = False) -> list[str]:
    """Write a project into the (staged) folder `dest`, copying images into img/.

    Returns one warning per image whose pixels are not available (img/ has no file for it:
    Supervisely cannot open that item). With `polygons`, each cell in one piece is a polygon
    with holes that the SDK draws back exactly; a cell in several pieces stays a bitmap.
    """
    dest = Path(dest)
    names = class_names_of(dataset)
    shapes_used: dict[str, set[str]] = {c.name: set() for c in dataset.classes}
    documents = []
    warnings: list[str] = []
    for image in dataset.images:
        objects = []
        for instance, rows, cols, mask in instance_masks(image):
            class_id = image.instance_classes.get(instance)
            if class_id not in names:
                raise FormatError(f"instance {instance} of {image.image_name} has no class; assign one before export")
            info = image.instance_info.get(instance, {})
            tags = info.get("tags") if isinstance(info.get("tags"), dict) else {}
            entry = {"classTitle": names[class_id], "geometryType": "bitmap",
                     "tags": [{"name": k, "value": (None if v is True else v)} for k, v in tags.items()]}
            points = polygon_points(mask, rows.start, cols.start) if polygons else None
            if points is not None:
                entry["geometryType"] = "polygon"
                entry["points"] = points
            else:
                entry["bitmap"] = {"data": bitmap_data(mask), "origin": [cols.start, rows.start]}
            objects.append(entry)
            shapes_used[names[class_id]].add(entry["geometryType"])
        for vector in image.vectors:
            entry = _vector_object(vector, names)
            objects.append(entry)
            shapes_used.setdefault(entry["classTitle"], set()).add(entry["geometryType"])
        tags = [{"name": k, "value": None} for k, v in image.flags.items() if v is True]
        documents.append((image, {"description": "", "tags": tags,
                                  "size": {"height": int(image.height), "width": int(image.width)},
                                  "objects": objects}))
    colors = {c.name: c.color for c in dataset.classes}
    classes = []
    for title, used in shapes_used.items():
        shape = next(iter(used)) if len(used) == 1 else ("any" if used else "bitmap")
        classes.append({"title": title, "shape": shape, "color": "#%02X%02X%02X" % colors.get(title, (255, 0, 0)),
                        "geometry_config": {}})
    tag_names = sorted({k for image in dataset.images for k, v in image.flags.items() if v is True})
    meta = {"classes": classes, "tags": [{"name": n, "value_type": "none", "color": "#FF0000"} for n in tag_names],
            "projectType": "images"}
    write_bytes_atomic(dest / "meta.json", json.dumps(meta, indent=2).encode("utf-8"))
    used_names: set[str] = set()
    for image, document in documents:
        file_name = Path(image.image_name.replace("\\", "/")).name or "image.png"
        if image.image_path is None and image.image_data is not None:
            file_name = str(Path(file_name).with_suffix(".png"))
        base, number = file_name, 2
        while file_name in used_names:
            file_name = f"{Path(base).stem}_{number}{Path(base).suffix}"
            number += 1
        used_names.add(file_name)
        folder = dest / dataset_name
        write_bytes_atomic(folder / "ann" / f"{file_name}.json", json.dumps(document).encode("utf-8"))
        (folder / "img").mkdir(parents=True, exist_ok=True)
        if image.image_path is not None and Path(image.image_path).is_file():
            shutil.copyfile(image.image_path, folder / "img" / file_name)
        elif image.image_data is not None:
            write_bytes_atomic(folder / "img" / file_name, encode_png(image.image_data))
        else:
            where = f"the image was not found at import ({image.image_path})" if image.image_path else \
                "the image was not found at import"
            warnings.append(f"supervisely: {dataset_name}/img/{file_name} NOT WRITTEN, {where}: copy the image "
                            "there (or import with --images DIR) before opening the project in Supervisely")
    return warnings


def _vector_object(vector: VectorShape, names: dict[int, str]) -> dict:
    title = vector.label or names.get(vector.class_id or 0, "unlabeled")
    points = np.asarray(vector.points, dtype=float).reshape(-1, 2).tolist()
    if vector.kind == "point" or len(points) == 1:
        return {"classTitle": title, "geometryType": "point", "tags": [], "points": {"exterior": points[:1], "interior": []}}
    if vector.kind == "box":
        return {"classTitle": title, "geometryType": "rectangle", "tags": [], BOX_ONLY_KEY: True,
                "points": {"exterior": points[:2], "interior": []}}
    if vector.kind in ("points", "skeleton"):
        nodes = {str(i): {"loc": [x, y]} for i, (x, y) in enumerate(points)}
        return {"classTitle": title, "geometryType": "graph", "tags": [], "nodes": nodes}
    return {"classTitle": title, "geometryType": "line", "tags": [], "points": {"exterior": points, "interior": []}}
