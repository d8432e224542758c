"""QuPath GeoJSON in and out: one FeatureCollection per image, one Feature per object.

Coordinates are pixel corners, as QuPath uses them: pixel (0, 0) covers [0, 1] x [0, 1],
and an object holds the pixels whose centres lie inside it. Exports trace the pixel edges
(`rasterize.pixel_edge_rings`), so no pixel centre lies on an edge and any pixel-centre
rasteriser (QuPath's, skimage's, pycocotools') gives every cell back bit for bit. Rings are
closed (first point repeated) and oriented as RFC 7946 says for y-up data: the shoelace area
of the numbers as written is positive for exteriors and negative for holes (on screen, with
y down, exteriors therefore run clockwise; QuPath itself ignores orientation).

The file does not name its image: it is found by stem (`a.geojson` -> `a.tif` beside it or
in --images; QuPath scripts also write `a.tif.geojson`). seggui adds a foreign member
`"seggui": {"imageName", "imageHeight", "imageWidth"}` (RFC 7946 section 6.1; QuPath ignores
it) so that a re-import without the images keeps the image size.
"""

from __future__ import annotations

import json
import math
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, VectorShape
from seggui.core.errors import FormatError, ImageReadError, SegguiError
from seggui.core.image_limits import ImageHeader, check_limits
from seggui.core.imageio import image_size, is_image_file
from seggui.formats import rasterize
from seggui.formats.canvas import LabelCanvas, class_names_of, finite_points, instance_masks, output_stems
from seggui.formats.safety import find_referenced_image, path_name, read_annotation_bytes, write_bytes_atomic

SEGGUI_KEY = "seggui"
BOX_ONLY_KEY = "seggui_box_only"  # a rectangle standing for a box-only annotation
UNCLASSIFIED = "Unclassified"
OBJECT_TYPES = ("annotation", "detection")  # what export writes
# QuPath 0.2 named the object's Java class in the Feature's "id" instead of properties.objectType.
LEGACY_OBJECT_IDS = {"PathAnnotationObject": "annotation", "PathDetectionObject": "detection",
                     "PathCellObject": "cell", "PathTileObject": "tile"}
PROPERTY_CORE_KEYS = {"objectType", "classification", "measurements", "isLocked", BOX_ONLY_KEY}
VECTOR_KINDS = {"Point": "point", "MultiPoint": "points", "LineString": "polyline", "MultiLineString": "polyline"}
MAX_POINTS_PER_FEATURE = 2_000_000
MAX_COLLECTION_DEPTH = 8


def looks_like_geojson(data: Any) -> bool:
    if isinstance(data, dict):
        return data.get("type") in ("FeatureCollection", "Feature")
    return isinstance(data, list) and bool(data) and all(
        isinstance(item, dict) and item.get("type") == "Feature" for item in data[:5])


def load_geojson(path: Path) -> Any:
    """Parse a GeoJSON file. Unlike `safety.read_json`, bare NaN is accepted (as None): QuPath's
    Gson writes NaN measurements that way; a NaN coordinate still fails as a malformed point."""
    raw = read_annotation_bytes(path, "GeoJSON file")
    try:
        return json.loads(raw.decode("utf-8-sig"), parse_constant=lambda name: None)
    except UnicodeDecodeError as error:
        raise FormatError(f"not UTF-8 text (byte {error.start})", path) from None
    except json.JSONDecodeError as error:
        raise FormatError(f"malformed JSON ({error.msg} at line {error.lineno})", path) from None
    except RecursionError:
        raise FormatError("malformed JSON (nested too deeply)", path) from None


def read_geojson(source: str | Path, images_dir: str | Path | None = None) -> Dataset:
    """Import one GeoJSON file or every .geojson (and GeoJSON .json) file in a folder."""
    source = Path(source)
    images_folder = Path(images_dir) if images_dir else None
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".geojson", ".json") and p.is_file())
        root = source
    elif source.is_file():
        files, root = [source], source.parent
    else:
        raise FormatError("no such file or folder", source)
    dataset = Dataset()
    roots = [root] + ([images_folder] if images_folder else [])
    listings: dict[Path, dict[str, list[str]]] = {}
    for path in files:
        try:
            data = load_geojson(path)
            if not looks_like_geojson(data):
                if path.suffix.lower() == ".json" and len(files) > 1:
                    continue  # another format's JSON beside the GeoJSON files
                raise FormatError("not GeoJSON (no FeatureCollection, Feature or list of Features)", path)
            search = [path.parent] + ([images_folder] if images_folder else [])
            image = _read_file(path, data, dataset, roots, search, listings)
        except SegguiError as error:
            if len(files) == 1:
                raise
            dataset.report.skip(path.name, error.message)
            continue
        dataset.images.append(image)
    return dataset


class _Skip(ValueError):
    """One feature (or one part of it) cannot be used; the message says why."""


def _read_file(path: Path, data: Any, dataset: Dataset, roots: list[Path], search: list[Path],
               listings: dict) -> ImageAnnotation:
    report = dataset.report
    if isinstance(data, list):
        features = data
    elif data.get("type") == "Feature":
        features = [data]
    else:
        features = data.get("features")
        if not isinstance(features, list):
            raise FormatError("FeatureCollection without a 'features' list", path)
    declared = data.get(SEGGUI_KEY) if isinstance(data, dict) and isinstance(data.get(SEGGUI_KEY), dict) else {}
    stem = path.name[:-len(path.suffix)] if path.suffix else path.name
    image_path = _find_image(path, stem, declared.get("imageName"), roots, search, listings)
    parsed = []
    for index, feature in enumerate(features):
        where = f"{path.name}: feature {index}"
        try:
            parsed.append(_parse_feature(feature, where, report))
        except _Skip as problem:
            report.skip(where, str(problem))
    height, width = _image_size(path, image_path, declared, parsed, report)
    name = image_path.name if image_path else (
        path_name(declared["imageName"]) if isinstance(declared.get("imageName"), str) else stem)
    canvas = LabelCanvas(height, width, path.name, report)
    vectors: list[VectorShape] = []
    for where, class_name, color, info, polygons, shapes in parsed:
        label_class = dataset.ensure_class(class_name, color)
        vectors.extend(VectorShape(kind, points, label_class.id, class_name, dict(info)) for kind, points in shapes)
        if not polygons:
            continue
        instance = canvas.new_instance(label_class.id, f"{where} ({class_name})", info)
        for rings in polygons:
            try:
                canvas.paint(instance, rasterize.centre_fill(rings, height, width))
            except ValueError as problem:
                report.skip(f"{where} ({class_name})", f"part not drawn: {problem}")
    report.vectors += len(vectors)
    return canvas.finish(name, class_names_of(dataset), vectors=vectors, image_path=image_path)


def _find_image(path: Path, stem: str, declared: Any, roots: list[Path], search: list[Path],
                listings: dict) -> Path | None:
    names = [declared] if isinstance(declared, str) else []
    if is_image_file(stem):
        names.append(stem)  # "slide.tif.geojson"
    for folder in search:
        if folder not in listings:  # list each folder once, not once per GeoJSON file
            listings[folder] = {}
            try:
                for candidate in sorted(folder.iterdir()):
                    if is_image_file(candidate):
                        listings[folder].setdefault(candidate.stem, []).append(candidate.name)
            except OSError:
                pass
        names.extend(listings[folder].get(stem, []))
    for name in names:
        found, _ = find_referenced_image(name, path.parent, roots, search)
        if found is not None:
            return found
    return None


def _image_size(path: Path, image_path: Path | None, declared: dict, parsed: list, report) -> tuple[int, int]:
    size = None
    if image_path is not None:
        try:
            size = image_size(image_path)
        except ImageReadError as error:
            report.warnings.append(f"{path.name}: image {image_path.name} unreadable ({error.message})")
    given = declared.get("imageHeight"), declared.get("imageWidth")
    if all(isinstance(v, int) and not isinstance(v, bool) for v in given):
        if size is not None and size != given:
            report.warnings.append(f"{path.name}: says {given[1]}x{given[0]} but the image is {size[1]}x{size[0]}")
        size = size or given
    if size is None:
        points = [ring for item in parsed for rings in item[4] for ring in rings]
        points += [shape for item in parsed for _, shape in item[5]]
        if not points:
            raise FormatError("no image found beside it and no geometry to size one from", path)
        extent = np.concatenate(points).max(axis=0)
        size = (int(math.ceil(extent[1])), int(math.ceil(extent[0])))
        report.warnings.append(f"{path.name}: no image named {path.stem}.* found; image size "
                               f"{size[1]}x{size[0]} taken from the objects' extent (use --images)")
    try:
        check_limits(ImageHeader(*size), path)
    except ImageReadError as error:
        raise FormatError(error.message, path) from None
    return size


def _parse_feature(feature: Any, where: str, report) -> tuple:
    """(where, class name, colour, info, polygons [[ring, ...], ...], vectors [(kind, points)])."""
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise _Skip("not a GeoJSON Feature object")
    properties = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
    object_type = properties.get("objectType")
    identifier = feature.get("id") if isinstance(feature.get("id"), str) else None
    if not isinstance(object_type, str):
        object_type = LEGACY_OBJECT_IDS.get(identifier or "", "annotation")
    class_name, color = _classification(properties.get("classification"))
    info: dict[str, Any] = {key: value for key, value in properties.items() if key not in PROPERTY_CORE_KEYS}
    info["objectType"] = object_type
    if identifier is not None and identifier not in LEGACY_OBJECT_IDS:
        info["id"] = identifier
    measurements = _measurements(properties.get("measurements"))
    if measurements:
        info["measurements"] = measurements
    if feature.get("nucleusGeometry") is not None:
        report.skip(f"{where} ({class_name}) nucleus",
                    "a QuPath cell's nucleus is not imported: it lies inside its cell, and a label image "
                    "holds one object per pixel (the cell outline is imported)")
    budget = [MAX_POINTS_PER_FEATURE]
    polygons, vectors = _geometry(feature.get("geometry"), 0, budget)
    if properties.get(BOX_ONLY_KEY) and len(polygons) == 1:
        ring = polygons[0][0]
        polygons, vectors = [], vectors + [("box", np.array([ring.min(axis=0), ring.max(axis=0)]))]
    return where, class_name, color, info, polygons, vectors


def _classification(value: Any) -> tuple[str, tuple[int, int, int] | None]:
    if isinstance(value, str) and value:
        return value, None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
        return UNCLASSIFIED, None
    color = value.get("color", value.get("colorRGB"))
    if isinstance(color, int) and not isinstance(color, bool):
        # Older QuPath packs colours as Java's signed ARGB int.
        return value["name"], ((color >> 16) & 255, (color >> 8) & 255, color & 255)
    if (isinstance(color, list) and len(color) == 3
            and all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in color)):
        return value["name"], tuple(color)  # type: ignore[return-value]
    return value["name"], None


def _measurements(value: Any) -> dict[str, float]:
    """QuPath >= 0.3 writes {name: value}; 0.2 wrote [{"name", "value"}]. NaN (None) means missing."""
    if isinstance(value, list):
        value = {item["name"]: item.get("value") for item in value
                 if isinstance(item, dict) and isinstance(item.get("name"), str)}
    if not isinstance(value, dict):
        return {}
    return {str(name): number for name, number in value.items()
            if isinstance(number, (int, float)) and not isinstance(number, bool) and math.isfinite(number)}


def _positions(value: Any, minimum: int, budget: list[int]) -> np.ndarray:
    """(N, 2) x, y from GeoJSON positions (a third, z value is dropped)."""
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        raise _Skip("coordinates are not a list of [x, y] numbers") from None
    if array.ndim == 2 and array.shape[1] > 2:
        array = array[:, :2]
    budget[0] -= array.size // 2
    if budget[0] < 0:
        raise _Skip(f"more than {MAX_POINTS_PER_FEATURE:,} points in one feature")
    points = finite_points(array if array.ndim == 2 else None, minimum=minimum)
    if points is None:
        raise _Skip(f"coordinates malformed, NaN, beyond 1e7 or fewer than {minimum} positions")
    return points


def _ring(value: Any, budget: list[int]) -> np.ndarray:
    points = _positions(value, 1, budget)
    if len(points) > 1 and np.array_equal(points[0], points[-1]):
        points = points[:-1]  # GeoJSON rings repeat their first position at the end
    if len(points) < 3:
        raise _Skip(f"a ring with {len(points)} distinct positions; at least 3 are needed")
    return points


def _polygon(value: Any, budget: list[int]) -> list[np.ndarray]:
    if not isinstance(value, list) or not value:
        raise _Skip("Polygon coordinates are not a list of rings")
    return [_ring(ring, budget) for ring in value]


def _geometry(geometry: Any, depth: int, budget: list[int]) -> tuple[list, list]:
    if not isinstance(geometry, dict):
        raise _Skip("no geometry object")
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        return [_polygon(coordinates, budget)], []
    if kind == "MultiPolygon":
        if not isinstance(coordinates, list) or not coordinates:
            raise _Skip("MultiPolygon coordinates are not a list of polygons")
        return [_polygon(polygon, budget) for polygon in coordinates], []
    if kind == "Point":
        return [], [("point", _positions([coordinates], 1, budget))]
    if kind in ("MultiPoint", "LineString"):
        return [], [(VECTOR_KINDS[kind], _positions(coordinates, 1 if kind == "MultiPoint" else 2, budget))]
    if kind == "MultiLineString":
        if not isinstance(coordinates, list):
            raise _Skip("MultiLineString coordinates are not a list of lines")
        return [], [("polyline", _positions(line, 2, budget)) for line in coordinates]
    if kind == "GeometryCollection":
        parts = geometry.get("geometries")
        if depth >= MAX_COLLECTION_DEPTH or not isinstance(parts, list):
            raise _Skip("GeometryCollection nested too deeply or without a 'geometries' list")
        polygons: list = []
        vectors: list = []
        for part in parts:  # the regions of one Feature are one object, as in QuPath
            more_polygons, more_vectors = _geometry(part, depth + 1, budget)
            polygons += more_polygons
            vectors += more_vectors
        return polygons, vectors
    raise _Skip(f"geometry type {str(kind)[:40]!r} is not supported")


# --- export ---------------------------------------------------------------------------

def write_geojson(dataset: Dataset, dest: str | Path, object_type: str | None = None) -> None:
    """One `<image stem>.geojson` per image in the (staged) folder `dest`.

    `object_type` ("annotation" or "detection") applies to every cell; by default each keeps
    the type it was imported with (QuPath cells become detections), others are annotations.
    """
    if object_type is not None and object_type not in OBJECT_TYPES:
        raise FormatError(f"QuPath object type {object_type!r}; choose from {', '.join(OBJECT_TYPES)}")
    dest = Path(dest)
    names = class_names_of(dataset)
    colors = {c.id: c.color for c in dataset.classes}
    for image, stem in zip(dataset.images, output_stems(dataset.images)):
        features = []
        for instance, rows, cols, mask in instance_masks(image):
            class_id = image.instance_classes.get(instance)
            if class_id not in names:
                raise FormatError(f"instance {instance} of {image.image_name} has no class; assign one before export")
            offset = np.array([cols.start, rows.start], dtype=float)
            polygons = [[_closed(exterior + offset, 1)] + [_closed(hole + offset, -1) for hole in holes]
                        for exterior, holes in rasterize.pixel_edge_rings(mask)]
            geometry = ({"type": "Polygon", "coordinates": polygons[0]} if len(polygons) == 1
                        else {"type": "MultiPolygon", "coordinates": polygons})
            info = image.instance_info.get(instance, {})
            kind = object_type or ("detection" if info.get("objectType") in ("detection", "cell") else "annotation")
            features.append(_feature(geometry, info, kind, names[class_id], colors[class_id]))
        for vector in image.vectors:
            label = vector.label or names.get(vector.class_id or 0, UNCLASSIFIED)
            color = colors.get(vector.class_id or 0) or (dataset.class_by_name(label) or _NoClass).color
            feature = _feature(_vector_geometry(vector), vector.attributes, "annotation", label, color)
            if vector.kind == "box":
                feature["properties"][BOX_ONLY_KEY] = True
            features.append(feature)
        document = {"type": "FeatureCollection",
                    SEGGUI_KEY: {"imageName": image.image_name, "imageHeight": int(image.height),
                                 "imageWidth": int(image.width)},
                    "features": features}
        write_bytes_atomic(dest / f"{stem}.geojson", json.dumps(document, allow_nan=False).encode("utf-8"))


class _NoClass:
    color = (255, 0, 0)


def _closed(ring: np.ndarray, sign: int) -> list[list[float]]:
    """Closed ring whose shoelace area (y up, RFC 7946) has the given sign: 1 exterior, -1 hole."""
    x, y = ring[:, 0], ring[:, 1]
    area = float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    if area * sign < 0:
        ring = ring[::-1]
    return [[_number(a), _number(b)] for a, b in np.concatenate([ring, ring[:1]]).tolist()]


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value  # "12" rather than "12.0": smaller files


def _vector_geometry(vector: VectorShape) -> dict:
    points = [[_number(a), _number(b)] for a, b in np.asarray(vector.points, dtype=float).reshape(-1, 2).tolist()]
    if vector.kind == "box" and len(points) >= 2:
        (x0, y0), (x1, y1) = points[:2]
        ring = [[x0, y0], [x0, y1], [x1, y1], [x1, y0]]
        return {"type": "Polygon", "coordinates": [_closed(np.array(ring, dtype=float), 1)]}
    if vector.kind == "point" or len(points) == 1:
        return {"type": "Point", "coordinates": points[0]}
    if vector.kind in ("points", "skeleton"):
        return {"type": "MultiPoint", "coordinates": points}
    return {"type": "LineString", "coordinates": points}


def _feature(geometry: dict, info: dict, object_type: str, class_name: str, color) -> dict:
    """QuPath's layout: numbers go to `measurements`, anything else stays a property."""
    properties: dict[str, Any] = {"objectType": object_type,
                                  "classification": {"name": class_name, "color": [int(c) for c in color]},
                                  "isLocked": False}
    measurements: dict[str, float] = {}
    flat: list[tuple[str, Any]] = []
    for key, value in info.items():
        if key in ("measurements", "attributes") and isinstance(value, dict):
            flat.extend((str(k), v) for k, v in value.items())
        elif key not in ("objectType", "id", "shape_type", BOX_ONLY_KEY):
            flat.append((str(key), value))
    for key, value in flat:
        if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
            if math.isfinite(float(value)):
                measurements[key] = value.item() if isinstance(value, np.number) else value
        elif value is not None and key not in properties:
            properties[key] = _plain(value)
    if measurements:
        properties["measurements"] = measurements
    identifier = info.get("id")
    return {"type": "Feature", "id": identifier if _is_uuid(identifier) else str(uuid.uuid4()),
            "geometry": geometry, "properties": properties}


def _is_uuid(value: Any) -> bool:
    try:
        return isinstance(value, str) and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def _plain(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become null, numpy values plain numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)
