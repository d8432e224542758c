"""`seggui convert SOURCE --to FORMAT --out DEST`: annotation conversion without the GUI."""

from __future__ import annotations

import argparse
import sys

from seggui.formats.convert import EXPORT_FORMATS, IMPORT_FORMATS

MAX_LISTED_SKIPS = 20


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE",
                        help="annotation file or folder, or a seggui project folder (exports its labels)")
    parser.add_argument("--to", required=True, choices=EXPORT_FORMATS, help="format to write")
    parser.add_argument("--out", required=True, metavar="DEST",
                        help="output folder (or .json/.xml file for coco/cvat); untouched if conversion fails")
    parser.add_argument("--from", dest="source_format", choices=IMPORT_FORMATS,
                        help="source format (detected when omitted)")
    parser.add_argument("--images", metavar="DIR", help="folder holding the images the annotations refer to")
    parser.add_argument("--polygons", action="store_true",
                        help="write polygons instead of exact masks (coco, labelme, cvat, supervisely)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="say where each image was found (default: one line per folder)")
    parser.add_argument("--qupath-object", choices=("annotation", "detection"),
                        help="geojson: QuPath object type of every cell (default: as imported, else annotation)")
    project = parser.add_argument_group("exporting a seggui project (SOURCE is a project folder)")
    project.add_argument("--layers", default="merged", metavar="merged|first|NAME",
                         help="which label layers each image contributes: all of them merged in layer order "
                              "(upper layers on top; default), the first one, or the layer named NAME")
    project.add_argument("--reviewed-only", action="store_true", help="only images marked reviewed")


def run(args: argparse.Namespace) -> int:
    from seggui.formats.convert import export_annotations, image_locations, import_annotations

    dataset = _project_dataset(args) if _is_project(args.source) else \
        import_annotations(args.source, args.source_format, args.images)
    warnings = export_annotations(dataset, args.out, args.to, polygons=args.polygons, images_dir=args.images,
                                  qupath_object=args.qupath_object)
    report = dataset.report
    # Details go to stderr so that stdout stays the one-line summary scripts can parse.
    for where, why in report.skipped[:MAX_LISTED_SKIPS]:
        print(f"skipped {where}: {why}", file=sys.stderr)
    if len(report.skipped) > MAX_LISTED_SKIPS:
        print(f"... and {len(report.skipped) - MAX_LISTED_SKIPS} more skipped", file=sys.stderr)
    if not _is_project(args.source):
        for line in image_locations(dataset, verbose=args.verbose):
            print(line, file=sys.stderr)
    for warning in report.warnings[:MAX_LISTED_SKIPS] + warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    return 0


def _is_project(source: str) -> bool:
    from pathlib import Path

    from seggui.core.catalogue import CATALOGUE_NAME

    path = Path(source)
    return (path / CATALOGUE_NAME).is_file() or path.name == CATALOGUE_NAME


def _project_dataset(args: argparse.Namespace):
    """The labels of a project, chosen as the GUI's export dialog chooses them."""
    from seggui.core.export_selection import ExportChoice, collect_dataset
    from seggui.core.project import Project

    project, document = Project.open(args.source)
    try:
        return collect_dataset(document, choice=ExportChoice(args.layers, args.reviewed_only))
    finally:
        project.close()

