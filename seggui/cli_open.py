"""`seggui open PATH...`: open a project folder or images in the GUI."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="*", metavar="PATH",
                        help="a project folder, or image files / folders to add to a project")


def run(args: argparse.Namespace) -> int:
    from seggui.core.errors import SegguiError

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        raise SegguiError("no such file or folder", missing[0])
    from seggui.app import run_gui

    return run_gui(list(args.paths))
