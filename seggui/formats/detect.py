"""Which format a file or folder holds, from its content rather than its name alone."""

from __future__ import annotations

from pathlib import Path

from seggui.core.errors import FormatError
from seggui.core.imageio import image_files, is_image_file

# A JSON larger than this is only sniffed from its start (a big COCO file is not read twice).
SNIFF_WHOLE_BYTES = 16 * 1024**2


def _json_kind(path: Path) -> str | None:
    from seggui.formats.coco import looks_like_coco
    from seggui.formats.geojson import load_geojson, looks_like_geojson
    from seggui.formats.labelme import looks_like_labelme
    from seggui.formats.safety import read_json

    try:
        if path.stat().st_size > SNIFF_WHOLE_BYTES:
            with open(path, "rb") as handle:
                head = handle.read(1024**2).decode("utf-8", "replace")
            if '"segments_info"' in head:
                return "coco-panoptic"
            if '"images"' in head or '"annotations"' in head:
                return "coco"
            if '"shapes"' in head:
                return "labelme"
            if '"FeatureCollection"' in head or '"Feature"' in head:
                return "geojson"
            return None
        data = read_json(path)
    except (OSError, FormatError):
        try:  # QuPath writes NaN measurements, which read_json refuses
            return "geojson" if looks_like_geojson(load_geojson(path)) else None
        except (OSError, FormatError):
            return None
    if looks_like_geojson(data):
        return "geojson"
    if looks_like_labelme(data):
        return "labelme"
    if looks_like_coco(data):
        annotations = data.get("annotations") or []
        if annotations and isinstance(annotations[0], dict) and "segments_info" in annotations[0]:
            return "coco-panoptic"
        return "coco"
    if isinstance(data, dict) and isinstance(data.get("size"), dict) and "objects" in data:
        return "supervisely"
    if isinstance(data, dict) and "classes" in data and path.name == "meta.json":
        return "supervisely"
    return None


def _xml_kind(path: Path) -> str:
    from seggui.formats.cvat import looks_like_cvat
    from seggui.formats.mit_xml import refuse, xml_kind
    from seggui.formats.safety import parse_xml

    root = parse_xml(path)
    if looks_like_cvat(root):
        return "cvat"
    kind = xml_kind(root)
    if kind:
        raise refuse(path, kind)
    raise FormatError(f"unknown XML annotation format (root element <{root.tag}>)", path)


def detect_format(path: str | Path) -> str:
    """'labelme', 'cvat', 'supervisely', 'coco', 'coco-panoptic', 'geojson' or 'masks'; FormatError otherwise."""
    from seggui.formats.masks import is_dsb_folder
    from seggui.formats.supervisely import is_supervisely_project

    path = Path(path)
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".json":
            kind = _json_kind(path)
            if kind == "supervisely" and path.name != "meta.json":
                raise FormatError("a single Supervisely annotation: import the project folder "
                                  "(the one holding meta.json) instead", path)
            if kind:
                return kind
            raise FormatError("JSON file in no known annotation format (LabelMe, COCO, Supervisely, GeoJSON)", path)
        if suffix == ".xml":
            return _xml_kind(path)
        if suffix == ".geojson":
            return "geojson"
        if is_image_file(path):
            return "masks"
        raise FormatError("not an annotation file (expected .json, .xml or a label image)", path)
    if not path.is_dir():
        raise FormatError("no such file or folder", path)
    if is_supervisely_project(path):
        return "supervisely"
    from seggui.formats.voc import voc_layout

    if is_dsb_folder(path) or (path / "instances").is_dir() or voc_layout(path) is not None:
        return "masks"
    if (path / "panoptic.json").is_file():
        return "coco-panoptic"
    xml_files = sorted(path.glob("*.xml"))
    if xml_files:
        return _xml_kind(xml_files[0])
    mit = sorted(path.glob("Annotations/**/*.xml"))
    if mit:
        _xml_kind(mit[0])  # raises the "old MIT LabelMe XML" message when it is that
    if any(p.suffix.lower() == ".geojson" for p in path.iterdir()):
        return "geojson"  # before images: QuPath exports sit beside the slides they outline
    kinds = {_json_kind(p) for p in sorted(path.glob("*.json"))[:50]} - {None}
    if "labelme" in kinds:
        return "labelme"
    if kinds & {"coco"}:
        return "coco"
    if "geojson" in kinds:
        return "geojson"
    from seggui.formats.coco import coco_files_in

    if coco_files_in(path):
        return "coco"  # before panoptic: datumaro's COCO export holds instances_*.json and panoptic_*.json
    from seggui.formats.coco_panoptic import panoptic_files_in

    if any(_json_kind(p) == "coco-panoptic" for p in panoptic_files_in(path)[:5]):
        return "coco-panoptic"
    children = [c for c in path.iterdir() if c.is_dir()]
    if any(is_dsb_folder(c) for c in children[:50]):
        return "masks"
    if image_files(path):
        return "masks"
    hint = _subfolder_hint(children)
    raise FormatError("no annotations found (LabelMe, CVAT, Supervisely, COCO or label masks)" + hint, path)


def _subfolder_hint(children: list[Path]) -> str:
    """Users often pick the folder above their annotations: name the subfolders that hold some."""
    found = []
    for child in sorted(children)[:50]:
        kinds = {_json_kind(p) for p in sorted(child.glob("*.json"))[:3]} - {None}
        if any(child.glob("*.xml")):
            kinds.add("XML")
        if kinds:
            found.append(f"{child.name} ({', '.join(sorted(kinds))})")
    if not found:
        return ""
    return "; these subfolders hold annotation files, import one of them: " + ", ".join(found[:5])
