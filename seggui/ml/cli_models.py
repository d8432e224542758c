"""`seggui models`: list the models seggui knows, and why any is unavailable."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--folder", type=Path, action="append", default=[],
                        help="extra folder of models (e.g. a project's fine-tuned versions)")


def run(args) -> int:
    from seggui.ml.registry import list_models, user_models_dir

    models = list_models(args.folder)
    if args.json:
        print(json.dumps([{
            "name": m.name, "kind": m.kind, "task": m.task, "source": m.source,
            "weights": None if m.weights is None else str(m.weights), "available": m.available,
            "unavailable_reason": m.unavailable_reason, "description": m.description,
        } for m in models], indent=2))
        return 0
    for m in models:
        state = "available" if m.available else "unavailable"
        print(f"{m.name:<32} {m.kind:<30} {m.source:<18} {state}")
        if m.description:
            print(f"    {m.description}")
        if not m.available:
            print(f"    {m.unavailable_reason}")
    print(f"user models folder: {user_models_dir()}")
    return 0
