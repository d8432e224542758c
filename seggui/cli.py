"""The `seggui` command: the GUI by default, subcommands for headless work.

Each subcommand lives in its own module exposing `configure(parser)` and `run(args) -> int`,
imported only when that subcommand runs, so `seggui --help` stays fast and headless
commands never load Qt.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from seggui import __version__
from seggui.core.errors import SegguiError

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "open": ("seggui.cli_open", "open a project folder or images in the GUI"),
    "demo": ("seggui.cli_demo", "open a writable copy of the bundled sample project"),
    "convert": ("seggui.formats.cli_convert", "convert annotations between LabelMe, CVAT, Supervisely, COCO, QuPath GeoJSON and PNG masks"),
    "predict": ("seggui.ml.cli_predict", "pre-segment images with a model, writing instance label PNGs"),
    "train": ("seggui.ml.cli_train", "fine-tune or train a model on annotated images"),
    "evaluate": ("seggui.ml.cli_evaluate", "compare predicted and ground-truth label images (AP, F1, Dice)"),
    "models": ("seggui.ml.cli_models", "list the available models"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seggui",
        description="Annotate microscopy images, correct model proposals, fine-tune a U-Net. "
        "Without a subcommand the GUI starts.",
    )
    parser.add_argument("--version", action="version", version=f"seggui {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors (in the GUI: under Show Details)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        # SUPPRESS: `seggui --debug open` keeps the flag given before the subcommand.
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show full tracebacks on errors (in the GUI: under Show Details)")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:
                raise
            sub.set_defaults(_unavailable=name)
            continue
        module.configure(sub)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    from seggui.core import logs

    logs.set_debug(debug)  # the GUI's error dialogs show tracebacks only with --debug
    try:
        if args.command is None:
            from seggui.app import run_gui

            return run_gui([])
        if getattr(args, "_unavailable", None):
            print(f"seggui {args._unavailable}: not available in this version", file=sys.stderr)
            return 2
        return int(args._run(args) or 0)
    except SegguiError as error:
        if debug:
            traceback.print_exc()
        print(f"seggui: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seggui: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as error:
        # Bad paths and values from the command line: a message, not a traceback.
        if debug:
            traceback.print_exc()
        print(f"seggui: error: {error}", file=sys.stderr)
        return 2
