"""Label images in and out: instance label PNG/TIFF, semantic class images, DSB mask folders.

Layouts read:
- seggui's own export: `instances/<stem>.png` (+ `classes/<stem>.png`, `classes.json`);
- a folder of instance label images (uint8/16/32 PNG or TIFF), matched to images by stem;
- a folder of semantic class images (folder named classes, semantic or SegmentationClass):
  each connected region of one class becomes an instance;
- Data Science Bowl folders: `<id>/images/<id>.png` + `<id>/masks/*.png`, one binary mask
  per instance;
- Pascal VOC (CVAT, datumaro, labelme): SegmentationObject + SegmentationClass, class names
  and colours from labelmap.txt or class_names.txt (see voc.py).
Instance ids are kept as stored, so a PNG round trip is bit-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass, label_dtype_for
from seggui.core.errors import FormatError, SegguiError
from seggui.core.imageio import DEFAULT_MAX_PIXELS, image_files, image_size, is_image_file, read_image
from seggui.core.safe_files import UnsafePathError, open_regular
from seggui.formats.canvas import check_label_size, class_names_of, output_stems
from seggui.formats.rasterize import distinct_instance_colors
from seggui.formats.safety import encode_png, read_json, write_bytes_atomic
from seggui.formats.voc import VocLayout, add_classes, class_indices, object_indices, voc_layout

SEMANTIC_FOLDER_NAMES = {"classes", "semantic", "segmentationclass", "segmentationclasspng"}


def read_label_image(path: Path, keep_channels: bool = False) -> np.ndarray:
    """One label image as stored: palette PNGs give their indices, not colours."""
    from PIL import PngImagePlugin

    height, width = image_size(path)
    if height * width > DEFAULT_MAX_PIXELS:
        raise FormatError(f"label image is {width}x{height}, above the pixel limit", path)
    if path.suffix.lower() == ".png":
        try:
            handle = open_regular(path, "label image")
        except UnsafePathError as error:
            raise FormatError(error.message, path) from None
        try:
            # The plugin class, not Image.open: the size is within seggui's limit (checked
            # above), and Pillow's process-wide bomb guard is left on rather than switched off.
            with handle, PngImagePlugin.PngImageFile(handle) as image:
                if image.mode in ("P", "L", "1"):
                    array = np.array(image)
                    return array.astype(np.uint8) if array.dtype == bool else array
        except Exception as error:  # PIL raises SyntaxError, ValueError, EOFError... on broken chunks
            raise FormatError(f"corrupt label image ({type(error).__name__}: {error})", path) from None
    try:
        array = read_image(path).array
    except SegguiError as error:
        raise FormatError(error.message, path) from None
    if array.ndim == 3 and keep_channels:
        return array
    if array.ndim == 3:
        channels = array[..., :3] if array.shape[2] >= 3 else array[..., :1]
        if (channels == channels[..., :1]).all():
            return np.ascontiguousarray(array[..., 0])
        raise FormatError("label image has colour channels that differ; expected one channel of ids", path)
    if array.dtype.kind == "f" or array.dtype.kind == "i" and array.min() < 0:
        raise FormatError(f"label image has {array.dtype} values; expected unsigned integer ids", path)
    return array


def is_dsb_folder(folder: Path) -> bool:
    return (folder / "images").is_dir() and (folder / "masks").is_dir()


def read_masks(source: str | Path, images_dir: str | Path | None = None) -> Dataset:
    source = Path(source)
    images_folder = Path(images_dir) if images_dir else None
    dataset = Dataset()
    if source.is_file():
        if not is_image_file(source):
            raise FormatError("not a label image (expected PNG, TIFF or another image format)", source)
        _read_instance_files([source], None, dataset, images_folder or source.parent)
        return dataset
    if not source.is_dir():
        raise FormatError("no such file or folder", source)
    if is_dsb_folder(source):
        _read_dsb(source, dataset)
        return dataset
    dsb = sorted(folder for folder in source.iterdir() if folder.is_dir() and is_dsb_folder(folder))
    if dsb:
        for folder in dsb:
            try:
                _read_dsb(folder, dataset)
            except SegguiError as error:
                dataset.report.skip(folder.name, error.message)
        return dataset
    layout = voc_layout(source)
    if layout is not None:
        _read_voc(layout, dataset, images_folder)
        return dataset
    if (source / "instances").is_dir():
        classes_json = source / "classes.json"
        if classes_json.is_file():
            _read_class_list(classes_json, dataset)
        files = image_files(source / "instances")
        class_folder = source / "classes" if (source / "classes").is_dir() else None
        _read_instance_files(files, class_folder, dataset, images_folder or source / "images")
        return dataset
    files = image_files(source)
    if not files:
        raise FormatError("no label images (PNG, TIFF, WebP...) in this folder", source)
    if source.name.lower() in SEMANTIC_FOLDER_NAMES:
        _read_semantic_files(files, dataset, images_folder)
    else:
        _read_instance_files(files, None, dataset, images_folder)
    return dataset


def _read_class_list(path: Path, dataset: Dataset) -> None:
    data = read_json(path)
    entries = data.get("classes") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise FormatError("classes.json must hold a list of {id, name, color}", path)
    for entry in entries:
        try:
            label_class = LabelClass.from_json(entry)
        except (KeyError, TypeError, ValueError) as error:
            raise FormatError(f"bad class entry {entry!r} ({error})", path) from None
        if label_class.id < 1 or any(c.id == label_class.id for c in dataset.classes):
            raise FormatError(f"class id {label_class.id} is below 1 or repeated", path)
        dataset.classes.append(label_class)


def _find_image(stem: str, folder: Path | None) -> Path | None:
    if folder is None or not folder.is_dir():
        return None
    for candidate in sorted(folder.glob(f"{stem}.*")):
        if is_image_file(candidate):
            return candidate
    return None


def _finish(dataset: Dataset, name: str, labels: np.ndarray, classes: dict[int, int],
            image_path: Path | None) -> None:
    if image_path is not None:
        try:
            size = image_size(image_path)
        except SegguiError as error:
            dataset.report.warnings.append(f"{name}: {error.message}")
            image_path, size = None, labels.shape
        if tuple(size) != labels.shape:
            raise FormatError(
                f"label image is {labels.shape[1]}x{labels.shape[0]} but {image_path.name} is {size[1]}x{size[0]}",
                image_path,
            )
    names = class_names_of(dataset)
    for class_id in classes.values():
        name_of_class = names.get(class_id, str(class_id))
        dataset.report.instances_per_class[name_of_class] = dataset.report.instances_per_class.get(name_of_class, 0) + 1
    dataset.report.images += 1
    dataset.images.append(ImageAnnotation(
        image_name=image_path.name if image_path else name, height=labels.shape[0], width=labels.shape[1],
        labels=labels, instance_classes=classes, image_path=image_path,
    ))


def _read_voc(layout: VocLayout, dataset: Dataset, images_folder: Path | None) -> None:
    add_classes(dataset, layout.label_map)
    images = images_folder or layout.images

    def read_classes(path: Path) -> np.ndarray:
        return class_indices(read_label_image(path, keep_channels=True), layout.label_map, path)

    def read_objects(path: Path) -> np.ndarray:
        return object_indices(read_label_image(path, keep_channels=True), path)

    folder = layout.objects or layout.classes
    files = image_files(folder)  # type: ignore[arg-type]
    if not files:
        raise FormatError("no label images (PNG) in this folder", folder)
    if layout.objects is not None:
        _read_instance_files(files, layout.classes, dataset, images, read_objects, read_classes)
    else:
        _read_semantic_files(files, dataset, images, read_classes)


def _read_instance_files(files: list[Path], class_folder: Path | None, dataset: Dataset,
                         images_folder: Path | None, read_ids=read_label_image, read_classes=read_label_image) -> None:
    for path in files:
        try:
            labels = read_ids(path)
            if labels.ndim != 2:
                raise FormatError("label image must have one channel", path)
            max_id = int(labels.max()) if labels.size else 0
            labels = labels.astype(label_dtype_for(max_id), copy=False)
            ids = [int(i) for i in np.unique(labels) if i]
            classes = {}
            class_image = None
            if class_folder is not None:
                class_path = _find_image(path.stem, class_folder)
                if class_path is not None:
                    class_image = read_classes(class_path)
                    if class_image.shape != labels.shape:
                        raise FormatError("class image and instance image differ in size", class_path)
            if class_image is None:
                default = dataset.classes[0] if dataset.classes else dataset.ensure_class("object")
                classes = {i: default.id for i in ids}
            else:
                classes = _majority_classes(labels, class_image, dataset, path)
            _finish(dataset, path.name, labels, classes, _find_image(path.stem, images_folder))
        except SegguiError as error:
            if len(files) == 1:
                raise
            dataset.report.skip(path.name, error.message)


def _majority_classes(labels: np.ndarray, class_image: np.ndarray, dataset: Dataset, path: Path) -> dict[int, int]:
    from scipy import ndimage

    ids = np.unique(labels)
    ids = ids[ids != 0]
    classes: dict[int, int] = {}
    if ids.size == 0:
        return classes
    for instance, values in zip(ids.tolist(), ndimage.labeled_comprehension(
            class_image, labels, ids, lambda v: np.bincount(v.astype(np.int64)).argmax(), np.int64, 0)):
        class_id = int(values)
        if class_id == 0:
            dataset.report.warnings.append(f"{path.name}: instance {instance} lies on class 0; given class 'object'")
            class_id = dataset.ensure_class("object").id
        elif all(c.id != class_id for c in dataset.classes):
            dataset.classes.append(LabelClass(class_id, f"class {class_id}", _default_color(class_id)))
        classes[instance] = class_id
    return classes


def _default_color(class_id: int) -> tuple[int, int, int]:
    from seggui.core.annotation import default_class_color

    return default_class_color(class_id)


def _read_semantic_files(files: list[Path], dataset: Dataset, images_folder: Path | None,
                         read_classes=read_label_image) -> None:
    from scipy import ndimage

    for path in files:
        try:
            class_image = read_classes(path)
            labels = np.zeros(class_image.shape, dtype=np.uint32)
            classes: dict[int, int] = {}
            for class_id in [int(c) for c in np.unique(class_image) if c and c != 255]:
                if all(c.id != class_id for c in dataset.classes):
                    dataset.classes.append(LabelClass(class_id, f"class {class_id}", _default_color(class_id)))
                regions, count = ndimage.label(class_image == class_id)
                start = len(classes)
                labels[regions > 0] = regions[regions > 0] + start
                classes.update({start + k: class_id for k in range(1, count + 1)})
            if (class_image == 255).any():
                dataset.report.warnings.append(f"{path.name}: value 255 treated as 'void' (not an instance)")
            labels = labels.astype(label_dtype_for(len(classes)))
            _finish(dataset, path.name, labels, classes, _find_image(path.stem, images_folder))
        except SegguiError as error:
            if len(files) == 1:
                raise
            dataset.report.skip(path.name, error.message)
    dataset.classes.sort(key=lambda c: c.id)


def _read_dsb(folder: Path, dataset: Dataset) -> None:
    images = image_files(folder / "images")
    if not images:
        raise FormatError("no image in images/", folder)
    height, width = image_size(images[0])
    check_label_size(height, width, f"{folder.name}/images/{images[0].name}", images[0])
    labels = np.zeros((height, width), dtype=np.uint32)
    masks = image_files(folder / "masks")
    next_id = 0
    label_class = dataset.ensure_class("nucleus")
    for mask_path in masks:
        mask = read_label_image(mask_path)
        if mask.ndim != 2 or mask.shape != (height, width):
            dataset.report.skip(f"{folder.name}/masks/{mask_path.name}",
                                f"mask size {mask.shape[::-1]} differs from the image {width}x{height}")
            continue
        region = mask > 0
        if not region.any():
            dataset.report.skip(f"{folder.name}/masks/{mask_path.name}", "empty mask")
            continue
        next_id += 1
        labels[region] = next_id  # DSB masks do not overlap; a later mask would win
    labels = labels.astype(label_dtype_for(next_id))
    present = set(np.unique(labels).tolist()) - {0}
    for hidden in sorted(set(range(1, next_id + 1)) - present):
        dataset.report.skip(f"{folder.name}: mask {hidden}", "hidden under masks read after it")
    _finish(dataset, f"{folder.name}/{images[0].name}", labels, {i: label_class.id for i in sorted(present)},
            images[0])
    dataset.images[-1].image_name = f"{folder.name}/{images[0].name}"


# --- export ---------------------------------------------------------------------------

def write_masks(dataset: Dataset, dest: str | Path) -> None:
    """instances/, classes/, overlay/ PNGs and classes.json into the (staged) folder `dest`."""
    dest = Path(dest)
    for sub in ("instances", "classes", "overlay"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
    max_class = max((c.id for c in dataset.classes), default=0)
    class_dtype = np.uint8 if max_class <= 255 else np.uint16
    colors = {c.id: c.color for c in dataset.classes}
    for image, stem in zip(dataset.images, output_stems(dataset.images)):
        labels = image.labels
        if int(labels.max(initial=0)) > 65535:
            raise FormatError(f"{image.image_name} has more than 65,535 instances; PNG holds 16-bit ids")
        write_bytes_atomic(dest / "instances" / f"{stem}.png", encode_png(labels.astype(np.uint16)))
        lookup = np.zeros(int(labels.max(initial=0)) + 1, dtype=class_dtype)
        for instance, class_id in image.instance_classes.items():
            if instance < lookup.size:
                lookup[instance] = class_id
        class_map = lookup[labels]
        write_bytes_atomic(dest / "classes" / f"{stem}.png", encode_png(class_map))
        write_bytes_atomic(dest / "overlay" / f"{stem}.png", encode_png(overlay(image, colors)))
    classes = [c.to_json() for c in sorted(dataset.classes, key=lambda c: c.id)]
    write_bytes_atomic(dest / "classes.json", json.dumps({"classes": classes}, indent=2).encode("utf-8"))


def _display_rgb(image: ImageAnnotation) -> np.ndarray:
    """The image as 8-bit RGB for previews; a dark canvas when the pixels are not at hand."""
    pixels = image.image_data
    if pixels is None and image.image_path is not None:
        try:
            pixels = read_image(image.image_path).array
        except SegguiError:
            pixels = None
    if pixels is None or pixels.shape[:2] != image.labels.shape:
        return np.full(image.labels.shape + (3,), 40, dtype=np.uint8)
    pixels = pixels.astype(np.float32)
    if pixels.ndim == 3:
        pixels = pixels[..., :3] if pixels.shape[2] >= 3 else np.repeat(pixels[..., :1], 3, axis=2)
    else:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    low, high = np.percentile(pixels, (0.5, 99.5))
    scaled = (pixels - low) / max(high - low, 1e-6) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)


# Bright, mutually distinct colours for touching instances (the class colour is not enough:
# two touching nuclei of one class must look different).
OVERLAY_PALETTE = np.array([
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40),
], dtype=np.float32)


def overlay(image: ImageAnnotation, class_colors: dict[int, tuple[int, int, int]] | None = None) -> np.ndarray:
    base = _display_rgb(image).astype(np.float32)
    labels = image.labels
    if not labels.any():
        return base.astype(np.uint8)
    colors = distinct_instance_colors(labels)
    lookup = np.zeros((int(labels.max()) + 1, 3), dtype=np.float32)
    for instance, color_index in colors.items():
        lookup[instance] = OVERLAY_PALETTE[color_index % len(OVERLAY_PALETTE)]
    inside = labels > 0
    base[inside] = base[inside] * 0.5 + lookup[labels[inside]] * 0.5
    return np.clip(base, 0, 255).astype(np.uint8)
