"""Which labels of a project an export writes, and a list of everything it leaves out.

An export that silently took each image's first label layer dropped the cells people had
imported into a second layer ("imported annotations"): the file held 0 annotations for those
images and nothing said so. Here the choice is explicit and the result says what it left out:

- `merged` (default): every label layer of the image, in layer order, later layers on top
  (as the canvas draws them); each layer's cells keep their own ids, renumbered so they never
  collide, and the pixels a later layer covers are reported;
- `first`: each image's first label layer (the old behaviour);
- a layer name: the layer of that name in each image (images without one are left out).

`reviewed_only` keeps reviewed images only. The GUI (File > Export) and `seggui convert
PROJECT` both call `collect_dataset`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seggui.core.annotation import Dataset, ImageAnnotation, LabelClass, label_dtype_for
from seggui.core.document import Document, ImageEntry
from seggui.core.layers import LabelLayer

MERGED = "merged"
FIRST = "first"


@dataclass(frozen=True)
class ExportChoice:
    layers: str = MERGED  # MERGED, FIRST, or a layer name
    reviewed_only: bool = False


def _chosen_layers(entry: ImageEntry, layers: str) -> list[LabelLayer]:
    label_layers = entry.label_layers
    if layers == MERGED:
        return label_layers
    if layers == FIRST:
        return label_layers[:1]
    return [layer for layer in label_layers if layer.name == layers][:1]


def _merge(layers: list[LabelLayer], where: str, report) -> tuple[np.ndarray, dict, dict, list]:
    """One label image from several layers, later ones on top, ids renumbered per layer."""
    if len(layers) == 1:
        layer = layers[0]
        classes = {int(i): layer.class_of(int(i)) for i in layer.instance_ids()}
        return (layer.data.copy(), classes, {k: dict(v) for k, v in layer.instance_info.items()},
                list(layer.vectors))
    total = sum(len(layer.instance_ids()) for layer in layers)
    merged = np.zeros(layers[0].shape, dtype=label_dtype_for(max(total, 1)))
    classes: dict[int, int | None] = {}
    info: dict[int, dict] = {}
    vectors: list = []
    next_id = 1
    for layer in layers:
        ids = [int(i) for i in layer.instance_ids()]
        if not ids:
            vectors.extend(layer.vectors)
            continue
        lookup = np.zeros(int(layer.data.max()) + 1, dtype=merged.dtype)
        for offset, instance in enumerate(ids):
            new_id = next_id + offset
            lookup[instance] = new_id
            classes[new_id] = layer.class_of(instance)
            if instance in layer.instance_info:
                info[new_id] = dict(layer.instance_info[instance])
        painted = layer.data > 0
        covered = int(np.count_nonzero(painted & (merged > 0)))
        if covered:
            report.warnings.append(f"{where}: layer {layer.name!r} covers {covered:,} labelled pixels of the "
                                   "layers below it (the upper layer wins)")
        merged[painted] = lookup[layer.data[painted]]
        next_id += len(ids)
        vectors.extend(layer.vectors)
    # Cells entirely covered by a later layer are gone: keep the class table to what is left.
    present = set(np.unique(merged).tolist()) - {0}
    return (merged, {k: v for k, v in classes.items() if k in present},
            {k: v for k, v in info.items() if k in present}, vectors)


def collect_dataset(document: Document, entries: list[ImageEntry] | None = None,
                    choice: ExportChoice | None = None) -> Dataset:
    """Copy the chosen labels of each image into a Dataset (loading images as needed).

    Every image left out is listed in `dataset.report.skipped` with the reason (not reviewed,
    unreadable, no label layer, no layer of the chosen name); overlaps between merged layers
    are in `dataset.report.warnings`. Classes of different layers are merged by id.
    """
    choice = choice or ExportChoice()
    dataset = Dataset()
    classes: dict[int, LabelClass] = {}
    for entry in entries if entries is not None else document.images:
        if choice.reviewed_only and entry.status != "reviewed":
            dataset.report.skip(entry.name, f"not reviewed (status {entry.status})")
            continue
        try:
            layers = _chosen_layers(entry, choice.layers)
        except Exception as error:  # noqa: BLE001 - an unreadable image: say why, go on
            dataset.report.skip(entry.name, f"cannot be read ({error})")
            continue
        if not layers:
            why = "has no label layer" if choice.layers in (MERGED, FIRST) else \
                f"has no label layer named {choice.layers!r}"
            dataset.report.skip(entry.name, why)
            continue
        for layer in layers:
            for label_class in layer.classes:
                classes.setdefault(label_class.id, label_class)
        labels, instance_classes, info, vectors = _merge(layers, entry.name, dataset.report)
        dataset.images.append(ImageAnnotation(
            image_name=entry.name, height=labels.shape[0], width=labels.shape[1], labels=labels,
            instance_classes=instance_classes, instance_info=info, vectors=vectors,
            image_path=entry.source.path))
    dataset.classes = sorted(classes.values(), key=lambda c: c.id)
    dataset.report.images = len(dataset.images)
    names = {c.id: c.name for c in dataset.classes}
    for image in dataset.images:
        for class_id in image.instance_classes.values():
            name = names.get(class_id, "no class")
            dataset.report.instances_per_class[name] = dataset.report.instances_per_class.get(name, 0) + 1
        dataset.report.vectors += len(image.vectors)
    return dataset


def layer_names(document: Document) -> list[str]:
    """Names of the label layers of loaded images, for a "layer named" choice."""
    names: list[str] = []
    for entry in document.images:
        if entry.loaded:
            for layer in entry.label_layers:
                if layer.name not in names:
                    names.append(layer.name)
    return names
