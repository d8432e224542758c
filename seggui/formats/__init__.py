"""Annotation interchange: LabelMe, CVAT, Supervisely, COCO and label masks, in and out.

Pure functions with no Qt and no torch, shared by the GUI's File > Import/Export and by
`seggui convert`:

    dataset = import_annotations("labels/", format=None, images_dir=None)
    warnings = export_annotations(dataset, "out/", "coco", polygons=False)
    detect_format(path) -> "labelme" | "cvat" | "supervisely" | "coco" | "coco-panoptic" | "masks"
    FORMATS: FormatInfo(key, name, file_filter, can_import, can_export, destination, polygons)
"""

from seggui.formats.convert import (
    EXPORT_FORMATS,
    FORMATS,
    IMPORT_FORMATS,
    FormatInfo,
    export_annotations,
    import_annotations,
)
from seggui.formats.detect import detect_format

__all__ = [
    "EXPORT_FORMATS",
    "FORMATS",
    "IMPORT_FORMATS",
    "FormatInfo",
    "detect_format",
    "export_annotations",
    "import_annotations",
]
