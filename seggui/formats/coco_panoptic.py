"""COCO panoptic: one PNG per image whose RGB encodes segment ids (id = R + 256 G + 256² B),
plus a JSON with `segments_info` per image.

Export writes `panoptic.json` + `panoptic/`. Import also takes the layout of the COCO
tools and datumaro (`annotations/panoptic_<split>.json` + `annotations/panoptic_<split>/`):
as in panopticapi, the PNG folder is the JSON's path without `.json`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seggui.core.annotation import Dataset, LabelClass, default_class_color, label_dtype_for
from seggui.core.errors import FormatError, SegguiError
from seggui.core.imageio import image_size
from seggui.formats import rasterize
from seggui.formats.canvas import check_label_size, class_names_of, output_stems
from seggui.formats.coco import is_crowd
from seggui.formats.masks import read_label_image
from seggui.formats.safety import encode_png, find_referenced_image, read_json, write_bytes_atomic

JSON_NAME = "panoptic.json"
PNG_FOLDER = "panoptic"


def write_coco_panoptic(dataset: Dataset, dest: str | Path) -> None:
    """panoptic.json + panoptic/<stem>.png into the (staged) folder `dest`."""
    dest = Path(dest)
    names = class_names_of(dataset)
    images, annotations = [], []
    for number, (image, stem) in enumerate(zip(dataset.images, output_stems(dataset.images)), start=1):
        labels = image.labels.astype(np.uint32)
        if int(labels.max(initial=0)) >= 256**3:
            raise FormatError(f"{image.image_name}: instance ids above 16,777,215 do not fit in RGB")
        rgb = np.stack([labels & 255, (labels >> 8) & 255, (labels >> 16) & 255], axis=-1).astype(np.uint8)
        write_bytes_atomic(dest / PNG_FOLDER / f"{stem}.png", encode_png(rgb))
        segments = []
        for instance, (rows, cols) in sorted(rasterize.instance_boxes(image.labels).items()):
            class_id = image.instance_classes.get(instance)
            if class_id not in names:
                raise FormatError(f"instance {instance} of {image.image_name} has no class; assign one before export")
            area = int(np.count_nonzero(image.labels[rows, cols] == instance))
            crowd = int(is_crowd(image.instance_info.get(instance, {})))
            segments.append({"id": int(instance), "category_id": int(class_id), "iscrowd": crowd, "area": area,
                             "bbox": [cols.start, rows.start, cols.stop - cols.start, rows.stop - rows.start]})
        images.append({"id": number, "file_name": image.image_name, "height": int(image.height),
                       "width": int(image.width)})
        annotations.append({"image_id": number, "file_name": f"{stem}.png", "segments_info": segments})
    categories = [{"id": c.id, "name": c.name, "supercategory": "", "isthing": 1, "color": list(c.color)}
                  for c in sorted(dataset.classes, key=lambda c: c.id)]
    document = {"info": {"description": "exported by seggui"}, "licenses": [], "images": images,
                "annotations": annotations, "categories": categories}
    write_bytes_atomic(dest / JSON_NAME, json.dumps(document).encode("utf-8"))


def panoptic_files_in(folder: Path) -> list[Path]:
    """seggui's panoptic.json, else panoptic_*.json at the top or in annotations/ (COCO layout)."""
    if (folder / JSON_NAME).is_file():
        return [folder / JSON_NAME]
    return sorted(folder.glob("panoptic_*.json")) + sorted(folder.glob("annotations/panoptic_*.json"))


def png_folder_of(path: Path) -> Path:
    """panopticapi's default: the JSON's path without its suffix; else a `panoptic/` beside it."""
    beside = path.with_suffix("")
    return beside if beside.is_dir() else path.parent / PNG_FOLDER


def read_coco_panoptic(source: str | Path, images_dir: str | Path | None = None) -> Dataset:
    source = Path(source)
    if source.is_dir():
        files = panoptic_files_in(source)
        if not files:
            raise FormatError("no panoptic.json or annotations/panoptic_*.json in this folder", source)
    else:
        files = [source]
    dataset = Dataset()
    for path in files:
        # Images are opened only inside the chosen folder, or the dataset folder above annotations/.
        root = source if source.is_dir() else path.parent
        root = root.parent if root.name == "annotations" else root
        _read_file(path, dataset, root, Path(images_dir) if images_dir else None, prefix_split=len(files) > 1)
    return dataset


def _read_file(path: Path, dataset: Dataset, root: Path, images_dir: Path | None, prefix_split: bool) -> None:
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise FormatError("not a COCO panoptic file (no 'annotations' list)", path)
    for category in _list(data.get("categories")):
        try:
            class_id, name = int(category["id"]), str(category["name"])
        except (KeyError, TypeError, ValueError):
            dataset.report.warnings.append(f"{path.name}: malformed category {category!r} ignored")
            continue
        if all(c.id != class_id for c in dataset.classes):  # several splits share their categories
            dataset.classes.append(LabelClass(class_id, name, _color(category.get("color"))
                                              or default_class_color(class_id)))
    known = {c.id for c in dataset.classes}
    images = {entry.get("id"): entry for entry in _list(data.get("images"))
              if isinstance(entry, dict) and isinstance(entry.get("id"), (int, str))}
    png_folder = png_folder_of(path)
    split = path.stem[len("panoptic_"):] if path.stem.startswith("panoptic_") else ""
    search = [p for p in (images_dir, path.parent.parent / "images" / split, path.parent.parent / "images",
                          path.parent) if p is not None and p.is_dir()]
    roots = [root] + ([images_dir] if images_dir else [])
    names = class_names_of(dataset)
    for annotation in data["annotations"]:
        if not isinstance(annotation, dict) or not isinstance(annotation.get("file_name"), str):
            dataset.report.skip(path.name, "annotation without a file_name")
            continue
        png = png_folder / Path(annotation["file_name"]).name
        try:
            rgb = read_label_image(png, keep_channels=True)
            check_label_size(rgb.shape[0], rgb.shape[1], f"{path.name}: {png.name}", png)
            rgb = rgb.astype(np.uint32)
        except SegguiError as error:  # missing or unreadable PNG: skip this image, say why
            dataset.report.skip(annotation["file_name"], error.message)
            continue
        if rgb.ndim != 3 or rgb.shape[2] < 3:
            dataset.report.skip(annotation["file_name"], "panoptic PNG is not RGB")
            continue
        ids = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
        classes, info = {}, {}
        for segment in _list(annotation.get("segments_info")):
            if (isinstance(segment, dict) and isinstance(segment.get("category_id"), int)
                    and segment["category_id"] in known and isinstance(segment.get("id"), int)):
                classes[segment["id"]] = segment["category_id"]
                info[segment["id"]] = {"iscrowd": 1} if is_crowd(segment) else {}
        present = {int(i) for i in np.unique(ids) if i}
        for orphan in sorted(present - set(classes)):
            dataset.report.skip(f"{annotation['file_name']}: segment {orphan}", "not in segments_info; left as background")
            ids[ids == orphan] = 0
        image_id = annotation.get("image_id")
        entry = images.get(image_id, {}) if isinstance(image_id, (int, str)) else {}
        from seggui.core.annotation import ImageAnnotation

        labels = ids.astype(label_dtype_for(int(ids.max(initial=0))))
        for class_id in classes.values():
            name = names.get(class_id, str(class_id))
            dataset.report.instances_per_class[name] = dataset.report.instances_per_class.get(name, 0) + 1
        dataset.report.images += 1
        image_name = str(entry.get("file_name") or png.name)
        image_path, warning = find_referenced_image(image_name, path.parent, roots, search)
        if warning:
            dataset.report.warnings.append(f"{path.name}: {warning}")
        if image_path is not None and _size_or_none(image_path) != labels.shape:
            dataset.report.warnings.append(f"{image_name}: {image_path.name} is unreadable or not the PNG's size; "
                                           "not used")
            image_path = None
        if prefix_split and split:  # splits may reuse file names
            image_name = f"{split}/{image_name.rsplit('/', 1)[-1]}"
        dataset.images.append(ImageAnnotation(
            image_name=image_name, height=labels.shape[0],
            width=labels.shape[1], labels=labels, instance_classes={k: v for k, v in classes.items() if k in present},
            instance_info={k: v for k, v in info.items() if k in present},
            image_path=image_path))


def _list(value) -> list:
    """A JSON value that should be a list; anything else (a number, an object) holds nothing."""
    return value if isinstance(value, list) else []


def _size_or_none(path: Path) -> tuple[int, int] | None:
    try:
        return tuple(image_size(path))  # type: ignore[return-value]
    except SegguiError:
        return None


def _color(value) -> tuple[int, int, int] | None:
    if isinstance(value, list) and len(value) == 3 and all(isinstance(c, int) and 0 <= c <= 255 for c in value):
        return tuple(value)  # type: ignore[return-value]
    return None
