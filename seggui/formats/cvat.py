"""CVAT XML 1.1, "for images" and "for video", in; "for images" out.

Boxes, polygons, ellipses and masks become instances, drawn by `z_order` (higher on top)
and then document order; shapes of one label sharing a nonzero `group_id` are one instance
(polygon export writes each multi-part cell as such a group). Polylines, points and
skeletons are kept as vector annotations; tags become image flags. Polygons and boxes are rasterised with pycocotools, as CVAT's
own dataset tooling (datumaro) does. Mask RLE runs alternate background/foreground, row by
row inside the box `left, top, width, height`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, VectorShape
from seggui.core.errors import FormatError, SegguiError
from seggui.formats import rasterize
from seggui.formats.canvas import LabelCanvas, class_names_of, instance_masks
from seggui.formats.rasterize import Crop
from seggui.formats.safety import find_referenced_image, parse_xml, write_bytes_atomic

REGION_TAGS = ("box", "polygon", "ellipse", "mask")
VECTOR_TAGS = {"polyline": "polyline", "points": "points", "skeleton": "skeleton"}
MAX_FRAMES = 1_000_000
# Marks a box that stands for a box-only annotation (COCO bbox without segmentation).
BOX_ONLY_ATTRIBUTE = "seggui_box_only"


def _safe(element, name: str) -> float:
    try:
        return _number(element, name)
    except ValueError:
        return float("nan")


def looks_like_cvat(root) -> bool:
    return root.tag == "annotations" and (root.find("version") is not None or root.find("meta") is not None
                                          or root.find("image") is not None or root.find("track") is not None)


def read_cvat(source: str | Path, images_dir: str | Path | None = None) -> Dataset:
    source = Path(source)
    if source.is_dir():
        files = sorted(p for p in source.glob("*.xml"))
        root_folder = source
    elif source.is_file():
        files, root_folder = [source], source.parent
    else:
        raise FormatError("no such file or folder", source)
    if not files:
        raise FormatError("no CVAT XML file in this folder", source)
    dataset = Dataset()
    images_folder = Path(images_dir) if images_dir else None
    for path in files:
        root = parse_xml(path)
        if not looks_like_cvat(root):
            raise FormatError(f"not a CVAT XML file (root element <{root.tag}>)", path)
        version = (root.findtext("version") or "1.1").strip()
        if version not in ("1.0", "1.1"):
            dataset.report.warnings.append(f"{path.name}: CVAT XML version {version}, read as 1.1")
        _read_document(path, root, dataset, root_folder, images_folder)
    return dataset


def _read_meta(path: Path, root, dataset: Dataset) -> dict[str, dict[str, str]]:
    """Classes with their colours from <meta>; returns label -> attribute name -> input type."""
    attribute_types: dict[str, dict[str, str]] = {}
    meta = root.find("meta")
    if meta is None:
        return attribute_types
    for label in meta.iter("label"):
        name = (label.findtext("name") or "").strip()
        if not name or label.findtext("parent"):
            continue  # skeleton nodes are parts of their skeleton, not classes
        dataset.ensure_class(name, _hex_color(label.findtext("color")))
        types = attribute_types.setdefault(name, {})
        for attribute in label.iter("attribute"):
            types[(attribute.findtext("name") or "").strip()] = (attribute.findtext("input_type") or "text").strip()
    return attribute_types


def _hex_color(text: str | None) -> tuple[int, int, int] | None:
    text = (text or "").strip()
    if len(text) == 7 and text.startswith("#"):
        try:
            return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]
        except ValueError:
            return None
    return None


def _attributes(element, types: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attribute in element.findall("attribute"):
        name = attribute.get("name", "")
        text = attribute.text or ""
        kind = types.get(name, "text")
        if kind == "checkbox":
            values[name] = text.strip().lower() == "true"
        elif kind == "number":
            try:
                number = float(text)
                values[name] = int(number) if number.is_integer() else number
            except ValueError:
                values[name] = text
        else:
            values[name] = text
    return values


def _read_document(path: Path, root, dataset: Dataset, root_folder: Path, images_folder: Path | None) -> None:
    report = dataset.report
    types = _read_meta(path, root, dataset)
    roots = [root_folder] + ([images_folder] if images_folder else [])
    search = [p for p in (images_folder, path.parent / "images", path.parent) if p and p.is_dir()]
    for element in root.findall("image"):
        name = element.get("name") or ""
        where = f"{path.name}: image {name or element.get('id', '?')}"
        try:
            height, width = int(element.get("height", "")), int(element.get("width", ""))
        except ValueError:
            report.skip(where, "width/height missing or not integers")
            continue
        if not (0 < height < 10**6 and 0 < width < 10**6) or not name:
            report.skip(where, "no name or a size that is not positive")
            continue
        subset = element.get("subset")
        reference = f"{subset}/{name}" if subset and not name.startswith(subset + "/") else name
        image_path, warning = find_referenced_image(reference, path.parent / "images", roots, search)
        if image_path is None and subset:
            for folder in search:
                candidate, _ = find_referenced_image(reference, folder, roots, [])
                image_path = image_path or candidate
        if warning:
            report.warnings.append(f"{path.name}: {warning}")
        shapes = [(child, {}) for child in element]
        try:
            image = _build_image(path, reference, height, width, shapes, dataset, types)
        except SegguiError as error:
            report.skip(where, error.message)
            continue
        image.image_path = image_path
        dataset.images.append(image)
    tracks = root.findall("track")
    if tracks:
        _read_video(path, root, tracks, dataset, types, roots, search)


def _frame_range(root) -> list[int]:
    task = root.find("meta/task")
    if task is None:
        return []
    try:
        start = int(task.findtext("start_frame") or 0)
        stop = int(task.findtext("stop_frame") or -1)
        step = 1
        for part in (task.findtext("frame_filter") or "").split(","):
            if part.strip().startswith("step="):
                step = max(int(part.strip()[5:]), 1)
    except ValueError:
        return []
    frames = list(range(start, stop + 1, step))
    return frames[:MAX_FRAMES]


def _read_video(path: Path, root, tracks, dataset: Dataset, types, roots, search) -> None:
    report = dataset.report
    size = root.find("meta/task/original_size")
    try:
        width, height = int(size.findtext("width")), int(size.findtext("height"))  # type: ignore[union-attr]
    except (AttributeError, TypeError, ValueError):
        raise FormatError("video annotations need <original_size> (width, height) in <meta>", path) from None
    per_frame: dict[int, list] = {frame: [] for frame in _frame_range(root)}
    for track in tracks:
        label = track.get("label", "")
        node_tracks = track.findall("track")  # a skeleton track nests one track per node
        for shape in track:
            if shape.tag == "track":
                continue
            try:
                frame = int(shape.get("frame", ""))
            except ValueError:
                report.skip(f"{path.name}: track {track.get('id')}", "shape without a frame number")
                continue
            if shape.get("outside") == "1":
                continue  # the object has left the view from this frame on
            if len(per_frame) >= MAX_FRAMES and frame not in per_frame:
                continue
            extra = {"label": label, "track_id": track.get("id"), "keyframe": shape.get("keyframe") == "1"}
            if node_tracks:
                extra["nodes"] = [node.get("label", "") for node in node_tracks]
            if track.get("group_id"):
                extra["group_id"] = track.get("group_id")
            per_frame.setdefault(frame, []).append((shape, extra))
    for frame in sorted(per_frame):
        stem = f"frame_{frame:06d}"
        image_path = None
        for folder in search:
            for candidate in sorted(folder.glob(stem + ".*")):
                image_path = candidate
                break
            if image_path:
                break
        name = image_path.name if image_path else f"{stem}.png"
        try:
            image = _build_image(path, name, height, width, per_frame[frame], dataset, types)
        except SegguiError as error:
            report.skip(f"{path.name}: frame {frame}", error.message)
            continue
        image.image_path = image_path
        image.flags.setdefault("frame", frame)
        dataset.images.append(image)


def _points(text: str | None) -> np.ndarray | None:
    try:
        pairs = [pair.split(",") for pair in (text or "").strip().split(";") if pair.strip()]
        array = np.array([[float(x), float(y)] for x, y in pairs], dtype=float).reshape(-1, 2)
    except ValueError:
        return None
    if not np.isfinite(array).all() or (np.abs(array) > 1e7).any():
        return None
    return array


def _build_image(path: Path, name: str, height: int, width: int, shapes: list, dataset: Dataset,
                 types: dict) -> ImageAnnotation:
    report = dataset.report
    canvas = LabelCanvas(height, width, f"{path.name}: {name}", report, path)
    regions = []
    vectors: list[VectorShape] = []
    flags: dict[str, Any] = {}
    for order, (element, extra) in enumerate(shapes):
        tag = element.tag
        label = extra.get("label") or element.get("label") or ""
        where = f"{tag} {order} ({label or 'no label'})"
        info: dict[str, Any] = {key: value for key, value in extra.items() if key != "label"}
        info.update({
            "occluded": element.get("occluded") == "1",
            "source": element.get("source", "manual"),
            "attributes": _attributes(element, types.get(label, {})),
            "shape_type": tag,
        })
        if element.get("group_id"):
            info["group_id"] = element.get("group_id")
        try:
            info["z_order"] = int(float(element.get("z_order", "0")))
        except ValueError:
            info["z_order"] = 0
        if tag == "tag":
            flags[label] = info["attributes"] or True
            continue
        if not label:
            label = "unlabeled"
            report.warnings.append(f"{path.name}: {name}: {tag} {order} has no label; class 'unlabeled' used")
        if tag == "box" and element.get(BOX_ONLY_ATTRIBUTE) == "1":
            box = np.array([[_safe(element, "xtl"), _safe(element, "ytl")], [_safe(element, "xbr"), _safe(element, "ybr")]])
            if np.isfinite(box).all():
                label_class = dataset.ensure_class(label)
                vectors.append(VectorShape("box", box, label_class.id, label, info))
            else:
                report.skip(f"{path.name}: {name}: {where}", "box corners missing or not numbers")
            continue
        if tag in VECTOR_TAGS:
            points = _skeleton_points(element, info) if tag == "skeleton" else _points(element.get("points"))
            if points is None or len(points) == 0:
                report.skip(f"{path.name}: {name}: {where}", "points missing or malformed")
                continue
            label_class = dataset.ensure_class(label)
            vectors.append(VectorShape(VECTOR_TAGS[tag], points, label_class.id, label, info))
            continue
        if tag not in REGION_TAGS:
            report.skip(f"{path.name}: {name}: {where}", f"<{tag}> is not supported")
            continue
        try:
            crop = _region(element, tag, height, width)
        except ValueError as problem:
            report.skip(f"{path.name}: {name}: {where}", str(problem))
            continue
        regions.append((info["z_order"], order, label, crop, info, where))
    regions.sort(key=lambda item: (item[0], item[1]))  # higher z_order draws on top
    groups: dict[tuple[str, int], int] = {}
    for _z, order, label, crop, info, where in regions:
        # Shapes of one label sharing a nonzero group_id are the parts of one object (CVAT's
        # "group"; datumaro merges a group into one COCO instance the same way).
        key = (label, _group_number(info.get("group_id")) or -1 - order)
        instance = groups.get(key)
        if instance is None:
            label_class = dataset.ensure_class(label)
            instance = groups[key] = canvas.new_instance(label_class.id, where, info)
        canvas.paint(instance, crop)
    report.vectors += len(vectors)
    return canvas.finish(name, class_names_of(dataset), vectors=vectors, flags=flags)


def _group_number(value: Any) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        return 0
    return number if number > 0 else 0


def _skeleton_points(element, info: dict) -> np.ndarray | None:
    nodes, occluded, outside, coordinates = [], [], [], []
    if not element.findall("points"):
        return _points(element.get("points"))  # video skeletons carry their nodes' points inline
    for node in element.findall("points"):
        points = _points(node.get("points"))
        if points is None or len(points) != 1:
            return None
        nodes.append(node.get("label", ""))
        occluded.append(node.get("occluded") == "1")
        outside.append(node.get("outside") == "1")
        coordinates.append(points[0])
    info.update({"nodes": nodes, "nodes_occluded": occluded, "nodes_outside": outside})
    return np.array(coordinates, dtype=float).reshape(-1, 2)


def _number(element, name: str) -> float:
    try:
        value = float(element.get(name, ""))
    except ValueError:
        raise ValueError(f"attribute {name!r} missing or not a number") from None
    if not np.isfinite(value) or abs(value) > 1e7:
        raise ValueError(f"attribute {name!r} is not a finite coordinate")
    return value


def _rotate(points: np.ndarray, degrees: float) -> np.ndarray:
    if not degrees:
        return points
    center = points.mean(axis=0)
    angle = np.deg2rad(degrees)
    matrix = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (points - center) @ matrix.T + center


def _region(element, tag: str, height: int, width: int) -> Crop | None:
    if tag == "box":
        x0, y0, x1, y1 = (_number(element, key) for key in ("xtl", "ytl", "xbr", "ybr"))
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        corners = _rotate(corners, float(element.get("rotation", "0") or 0))
        return rasterize.coco_polygons([corners], height, width)
    if tag == "polygon":
        points = _points(element.get("points"))
        if points is None:
            raise ValueError("points malformed, NaN or infinite")
        if len(points) < 3:
            raise ValueError(f"polygon with {len(points)} point(s); at least 3 are needed")
        return rasterize.coco_polygons([points], height, width)
    if tag == "ellipse":
        cx, cy, rx, ry = (_number(element, key) for key in ("cx", "cy", "rx", "ry"))
        return rasterize.cv_ellipse(cx, cy, rx, ry, float(element.get("rotation", "0") or 0), height, width)
    # mask
    try:
        left, top, box_w, box_h = (int(float(element.get(key, ""))) for key in ("left", "top", "width", "height"))
        counts = [int(part) for part in (element.get("rle") or "").split(",") if part.strip()]
    except ValueError:
        raise ValueError("mask needs integer rle, left, top, width and height") from None
    if box_w <= 0 or box_h <= 0 or box_w * box_h > 4 * height * width + 16:
        raise ValueError(f"mask box {box_w}x{box_h} is empty or far larger than the image")
    mask = rasterize.decode_rowmajor_rle(counts, box_h, box_w)
    if mask is None:
        raise ValueError(f"mask RLE sums to {sum(counts):,}, not width x height = {box_w * box_h:,}")
    return Crop(mask, top, left)


# --- export ---------------------------------------------------------------------------

def cvat_document(dataset: Dataset, polygons: bool = False) -> str:
    names = class_names_of(dataset)
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
             "  <meta>", "    <task>", f"      <size>{len(dataset.images)}</size>",
             "      <mode>annotation</mode>", "      <labels>"]
    seen = _attribute_values(dataset)
    for label_class in sorted(dataset.classes, key=lambda c: c.id):
        lines += ["        <label>", f"          <name>{escape(label_class.name)}</name>",
                  "          <color>#%02x%02x%02x</color>" % label_class.color,
                  "          <type>any</type>", "          <attributes>"]
        for name, values in seen.get(label_class.id, {}).items():
            kind, default, allowed = _attribute_spec(values)
            lines += ["            <attribute>", f"              <name>{escape(name)}</name>",
                      "              <mutable>False</mutable>", f"              <input_type>{kind}</input_type>",
                      f"              <default_value>{escape(default)}</default_value>",
                      f"              <values>{escape(allowed)}</values>", "            </attribute>"]
        lines += ["          </attributes>", "        </label>"]
    lines += ["      </labels>", "    </task>", "  </meta>"]
    for index, image in enumerate(dataset.images):
        lines.append(f'  <image id="{index}" name={quoteattr(image.image_name)} '
                     f'width="{int(image.width)}" height="{int(image.height)}">')
        groups = 0
        for instance, rows, cols, mask in instance_masks(image):
            class_id = image.instance_classes.get(instance)
            if class_id not in names:
                raise FormatError(f"instance {instance} of {image.image_name} has no class; assign one before export")
            info = image.instance_info.get(instance, {})
            common = (f'label={quoteattr(names[class_id])} source={quoteattr(str(info.get("source", "manual")))} '
                      f'occluded="{1 if info.get("occluded") else 0}" z_order="{_z_order(info)}"')
            body = _attribute_lines(info.get("attributes"))
            if polygons:
                rings = rasterize.pixel_edge_polygons(mask)
                if len(rings) > 1:  # the parts of one cell: one group, as CVAT marks them
                    groups += 1
                    common += f' group_id="{groups}"'
                for ring in rings:
                    ring = ring + [cols.start, rows.start]
                    lines.append(f"    <polygon {common} points=\"{_format_points(ring)}\">{body}</polygon>")
            else:
                rle = ", ".join(str(c) for c in rasterize.encode_rowmajor_rle(mask))
                lines.append(f'    <mask {common} rle="{rle}" left="{cols.start}" top="{rows.start}" '
                             f'width="{cols.stop - cols.start}" height="{rows.stop - rows.start}">{body}</mask>')
        for vector in image.vectors:
            lines.append(_vector_line(vector, names))
        for tag, value in image.flags.items():
            if value is True or isinstance(value, dict):
                lines.append(f'    <tag label={quoteattr(str(tag))} source="manual">'
                             f'{_attribute_lines(value if isinstance(value, dict) else None)}</tag>')
        lines.append("  </image>")
    lines.append("</annotations>")
    return "\n".join(lines) + "\n"


def _attribute_values(dataset: Dataset) -> dict[int, dict[str, list]]:
    """class id -> attribute name -> the values its shapes carry, in first-seen order."""
    seen: dict[int, dict[str, list]] = {}
    for image in dataset.images:
        owners = [(image.instance_classes.get(i), info.get("attributes")) for i, info in image.instance_info.items()]
        owners += [(vector.class_id, vector.attributes.get("attributes")) for vector in image.vectors]
        for class_id, attributes in owners:
            if class_id is not None and isinstance(attributes, dict):
                for name, value in attributes.items():
                    seen.setdefault(class_id, {}).setdefault(str(name), []).append(value)
    return seen


def _attribute_spec(values: list) -> tuple[str, str, str]:
    """(input_type, default_value, values) as CVAT's <meta> holds them; `values` is newline-separated
    (checkbox: false/true; number: min, max, step; text: the default)."""
    if all(isinstance(v, bool) for v in values):
        return "checkbox", "false", "false\ntrue"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in values):
        decimals = max((len(repr(float(v)).split(".")[1].rstrip("0")) for v in values if v != int(v)), default=0)
        step = 10.0 ** -min(decimals, 6) if decimals else 1
        low, high = min(values), max(values)
        return "number", _number_text(low), "\n".join(_number_text(v) for v in (low, high, step))
    return "text", "", ""


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _z_order(info: dict) -> int:
    value = info.get("z_order", 0)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value) else 0


def _attribute_lines(attributes: Any) -> str:
    if not isinstance(attributes, dict) or not attributes:
        return ""
    parts = []
    for name, value in attributes.items():
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        parts.append(f"<attribute name={quoteattr(str(name))}>{escape(text)}</attribute>")
    return "".join(parts)


def _format_points(points: np.ndarray) -> str:
    return ";".join(f"{x:.2f},{y:.2f}" for x, y in np.asarray(points, dtype=float).reshape(-1, 2))


def _vector_line(vector: VectorShape, names: dict[int, str]) -> str:
    label = quoteattr(vector.label or names.get(vector.class_id or 0, "unlabeled"))
    points = np.asarray(vector.points, dtype=float).reshape(-1, 2)
    occluded = 1 if vector.attributes.get("occluded") is True else 0
    body = _attribute_lines(vector.attributes.get("attributes"))
    z_order = _z_order(vector.attributes)
    if vector.kind == "box" and len(points) >= 2:
        (x0, y0), (x1, y1) = points[:2]
        return (f'    <box label={label} occluded="{occluded}" xtl="{min(x0, x1):.2f}" ytl="{min(y0, y1):.2f}" '
                f'xbr="{max(x0, x1):.2f}" ybr="{max(y0, y1):.2f}" z_order="{z_order}" {BOX_ONLY_ATTRIBUTE}="1">{body}</box>')
    if vector.kind in ("point", "points", "skeleton") or len(points) < 2:
        return f'    <points label={label} occluded="{occluded}" points="{_format_points(points)}" z_order="{z_order}">{body}</points>'
    return f'    <polyline label={label} occluded="{occluded}" points="{_format_points(points)}" z_order="{z_order}">{body}</polyline>'


def write_cvat(dataset: Dataset, dest: str | Path, polygons: bool = False) -> None:
    write_bytes_atomic(Path(dest), cvat_document(dataset, polygons).encode("utf-8"))
