"""The old MIT LabelMe XML format (LabelMe web tool, 2008-2014), and Pascal VOC XML.

Both use an <annotation> root, unlike CVAT's <annotations>. Neither is imported: MIT
LabelMe XML stores masks and scribbles in side folders with its own conventions, and VOC
XML holds boxes only. They are recognised so the user is told what the file is rather
than being shown a parse error.
"""

from __future__ import annotations

from pathlib import Path

from seggui.core.errors import FormatError
from seggui.formats.safety import parse_xml


def xml_kind(root) -> str | None:
    """'mit-labelme', 'pascal-voc' or None for an <annotation> root."""
    if root.tag != "annotation":
        return None
    if root.find("imagesize") is not None or root.find("object/polygon/pt") is not None or \
            root.find("object/segm") is not None:
        return "mit-labelme"
    if root.find("size") is not None or root.find("object/bndbox") is not None:
        return "pascal-voc"
    if root.find("filename") is not None and root.find("object") is not None:
        return "mit-labelme"
    return None


def refuse(path: Path, kind: str) -> FormatError:
    if kind == "mit-labelme":
        return FormatError(
            "this is the old MIT LabelMe XML format (the LabelMe web tool), not LabelMe JSON "
            "(wkentaro/labelme); it is not supported. Convert it to COCO or CVAT first, "
            "for example with datumaro ('datum convert -if label_me -f coco')",
            path,
        )
    return FormatError(
        "this is Pascal VOC XML (bounding boxes only), which seggui does not import; "
        "it holds no masks to segment with",
        path,
    )


def read_mit_xml(source: str | Path, images_dir: str | Path | None = None):
    source = Path(source)
    files = sorted(source.rglob("*.xml")) if source.is_dir() else [source]
    for path in files:
        kind = xml_kind(parse_xml(path))
        if kind:
            raise refuse(path, kind)
    raise FormatError("no MIT LabelMe XML file found", source)
