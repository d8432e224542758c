"""`seggui convert SOURCE --to FORMAT --out DEST`: annotation conversion without the GUI."""

from __future__ import annotations

import argparse
import sys

from seggui.formats.convert import EXPORT_FORMATS, IMPORT_FORMATS

MAX_LISTED_SKIPS = 20


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE", help="annotation file or folder")
    parser.add_argument("--to", required=True, choices=EXPORT_FORMATS, help="format to write")
    parser.add_argument("--out", required=True, metavar="DEST",
                        help="output folder (or .json/.xml file for coco/cvat); untouched if conversion fails")
    parser.add_argument("--from", dest="source_format", choices=IMPORT_FORMATS,
                        help="source format (detected when omitted)")
    parser.add_argument("--images", metavar="DIR", help="folder holding the images the annotations refer to")
    parser.add_argument("--polygons", action="store_true",
                        help="write polygons instead of exact masks (coco, labelme, cvat)")


def run(args: argparse.Namespace) -> int:
    from seggui.formats.convert import export_annotations, import_annotations

    dataset = import_annotations(args.source, args.source_format, args.images)
    warnings = export_annotations(dataset, args.out, args.to, polygons=args.polygons, images_dir=args.images)
    report = dataset.report
    # Details go to stderr so that stdout stays the one-line summary scripts can parse.
    for where, why in report.skipped[:MAX_LISTED_SKIPS]:
        print(f"skipped {where}: {why}", file=sys.stderr)
    if len(report.skipped) > MAX_LISTED_SKIPS:
        print(f"... and {len(report.skipped) - MAX_LISTED_SKIPS} more skipped", file=sys.stderr)
    for warning in report.warnings[:MAX_LISTED_SKIPS] + warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(report.summary())
    return 0
