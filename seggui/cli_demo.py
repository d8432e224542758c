"""`seggui demo`: open a writable copy of the bundled sample project."""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", type=Path,
                        help="where the writable copy lives (default: the user data folder, "
                             "or $SEGGUI_DEMO_DIR)")
    parser.add_argument("--reset", action="store_true", help="start again from the bundled files")
    parser.add_argument("--no-gui", action="store_true", help="only build the copy and print its path")


def run(args) -> int:
    from seggui.sample_project import build_sample_project, default_demo_folder

    project = build_sample_project(args.folder or default_demo_folder(), reset=args.reset)
    if args.no_gui:
        print(project)
        return 0
    from seggui.app import run_gui

    return run_gui([str(project)])
