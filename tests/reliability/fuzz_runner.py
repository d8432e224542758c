"""Feed thousands of mutated real files to every importer and to the image reader.

Run as its own process (a decoder crash must not take the test runner with it):

    python -m tests.reliability.fuzz_runner --cases 2400 --seed 11 --workdir /tmp/fuzz [--data ../shared/data]

It prints one JSON line per case as it finishes ({"case", "target", "mutation", "outcome",
...}) and a summary line last. Outcomes: "ok" (imported), "refused" (a SegguiError that
names the file), and the failures "unnamed" (a SegguiError that names no file), "exception"
(any other exception), "timeout" (over the per-case alarm) and "partial" (a failed export
changed its destination). A hard crash ends the process: the parent names the case from
the last "start" line.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sys
import time
import traceback
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from seggui.core.errors import SegguiError
from seggui.core.imageio import image_size, read_image
from seggui.formats import export_annotations, import_annotations

PER_CASE_SECONDS = 5.0
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA = Path(os.environ.get("SEGGUI_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@dataclass
class Seed:
    """A real file to mutate and how to feed it: target is an importer key or "image"."""

    path: Path
    target: str  # labelme, coco, cvat, mit-xml, masks, image
    images_dir: Path | None = None


def collect_seeds(data: Path) -> list[Seed]:
    seeds: list[Seed] = []
    for path in sorted((data / "labelme").rglob("*.json")):
        if path.stat().st_size > 20_000 or "dataset_coco" in str(path):
            continue  # small files keep each case fast; the big tutorial file adds nothing new
        seeds.append(Seed(path, "labelme", path.parent))
    for path in sorted((data / "coco").rglob("*.json")):
        images = path.parent if "roboflow" in str(path) else data / "coco/coco_instances/images" / (
            "train" if "train" in path.name else "val")
        seeds.append(Seed(path, "coco", images))
    for path in sorted((data / "cvat").rglob("*.xml")):
        images = path.parent / "images"
        seeds.append(Seed(path, "cvat", images if images.is_dir() else None))
    for path in sorted((data / "mit-labelme-xml").rglob("*.xml"))[:2]:
        seeds.append(Seed(path, "mit-xml", None))
    dsb = sorted((data / "cells" / "dsb2018").iterdir())[:3]
    for folder in dsb:
        seeds.extend(Seed(p, "image") for p in sorted((folder / "images").glob("*.png"))[:1])
        seeds.extend(Seed(p, "masks") for p in sorted((folder / "masks").glob("*.png"))[:2])
    seeds.append(Seed(data / "cells/usiigaci/train/set1/instances_ids.png", "masks"))
    seeds.append(Seed(data / "cells/stardist/mask2d.tif", "masks"))
    seeds.append(Seed(data / "cells/stardist/img3d.tif", "image"))
    seeds.append(Seed(data / "cells/stardist/histo.jpg", "image"))
    return [seed for seed in seeds if seed.path.is_file()]


# -- mutations ---------------------------------------------------------------------------

ODD_VALUES = [None, True, False, "", "text", -1, 0, 1, 2**31, 2**63, 2**64 + 1, -(2**63), 1e308, -1e308,
              1.5, [], {}, [[]], [1], {"a": 1}, "../../../../etc/passwd", "/etc/passwd",
              "C:\\Windows\\win.ini", "x" * 5000, "\u0000", "é\u202e", [1e308, -1e308, 1e308]]
ODD_TEXTS = ["", "-1", "0", "1e308", "-1e308", "nan", "inf", "abc", "99999999999999999999999",
             "../../../../etc/passwd", "1,2;3", "0.0,0.0", "\u00e9", "x" * 3000]


def mutate_bytes(data: bytes, generator: random.Random) -> tuple[bytes, str]:
    choice = generator.choice(["truncate", "flip", "insert", "delete", "duplicate", "zero_head"])
    size = max(len(data), 1)
    if choice == "truncate":
        return data[:generator.randrange(size)], choice
    if choice == "flip":
        out = bytearray(data)
        for _ in range(generator.randint(1, 8)):
            # Headers hold the sizes and offsets decoders trust: bias flips towards them.
            position = generator.randrange(min(size, 256)) if generator.random() < 0.5 else generator.randrange(size)
            if position < len(out):
                out[position] ^= generator.randrange(1, 256)
        return bytes(out), choice
    position = generator.randrange(size)
    if choice == "insert":
        return data[:position] + bytes(generator.randrange(256) for _ in range(generator.randint(1, 64))) \
            + data[position:], choice
    if choice == "delete":
        return data[:position] + data[position + generator.randint(1, 256):], choice
    if choice == "duplicate":
        return data[:position] + data[position:position + 512] * generator.randint(2, 20) + data[position:], choice
    return bytes(min(len(data), 32)) + data[32:], choice


def _nodes(value, path=()):
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _nodes(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value[:50]):
            yield from _nodes(child, path + (index,))


def _set(document, path, value):
    if not path:
        return value
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


def _delete(document, path):
    if not path:
        return document
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return document


def mutate_json(data: bytes, generator: random.Random) -> tuple[bytes, str]:
    document = json.loads(data)
    nodes = list(_nodes(document))
    path, value = generator.choice(nodes)
    choice = generator.choice(["remove", "retype", "retype", "huge", "nest", "grow", "encoding"])
    if choice == "remove" and path:
        document = _delete(document, path)
    elif choice in ("retype", "remove"):
        document = _set(document, path, generator.choice(ODD_VALUES))
    elif choice == "huge":
        numbers = [p for p, v in nodes if isinstance(v, (int, float)) and not isinstance(v, bool)]
        target = generator.choice(numbers) if numbers else path
        document = _set(document, target, generator.choice([10**30, -(10**30), 1e300, 2**53 + 1, 65536, 1e-300]))
    elif choice == "nest":
        depth = generator.choice([50, 500, 5000, 100_000])
        text = json.dumps(document)
        marker = '"__nest__"'
        document = _set(document, path, "__nest__")
        return json.dumps(document).replace(marker, "[" * depth + "1" + "]" * depth, 1).encode(), "nest"
    elif choice == "grow":
        lists = [p for p, v in nodes if isinstance(v, list) and v]
        if lists:
            target = generator.choice(lists)
            parent = document
            for key in target:
                parent = parent[key]
            parent.extend(parent[:1] * generator.randint(50, 300))
    else:
        text = json.dumps(document, ensure_ascii=False).replace('"', '"\u00e9', 1)
        encoding = generator.choice(["utf-16", "utf-32", "latin-1", "cp1252"])
        prefix = generator.choice([b"", b"\xef\xbb\xbf", b"\x00\x00"])
        return prefix + text.encode(encoding, errors="replace"), f"encoding-{encoding}"
    return json.dumps(document).encode(), choice


def mutate_xml(data: bytes, generator: random.Random) -> tuple[bytes, str]:
    root = ElementTree.fromstring(data)  # the unmutated file is a trusted fixture
    elements = list(root.iter())
    element = generator.choice(elements)
    choice = generator.choice(["attribute", "attribute", "remove_attribute", "remove", "duplicate",
                               "nest", "text", "entity", "encoding"])
    if choice in ("attribute", "remove_attribute") and element.attrib:
        key = generator.choice(sorted(element.attrib))
        if choice == "remove_attribute":
            del element.attrib[key]
        else:
            element.set(key, generator.choice(ODD_TEXTS))
    elif choice == "remove":
        parents = [e for e in elements if len(e)]
        if parents:
            parent = generator.choice(parents)
            parent.remove(generator.choice(list(parent)))
    elif choice == "duplicate":
        parents = [e for e in elements if len(e)]
        if parents:
            parent = generator.choice(parents)
            for _ in range(generator.randint(2, 200)):
                parent.append(generator.choice(list(parent)))
    elif choice == "nest":
        element.append(ElementTree.Element("__nest__"))
    elif choice == "text":
        element.text = generator.choice(ODD_TEXTS)
    text = ElementTree.tostring(root, encoding="unicode")
    if choice == "nest":  # built as text: ElementTree itself recurses when serialising deep trees
        depth = generator.choice([100, 3000, 50_000])
        return text.replace("<__nest__ />", "<box>" * depth + "</box>" * depth, 1).encode(), "nest"
    if choice == "entity":
        bomb = ('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
                '<!ENTITY c "&b;&b;&b;&b;&b;&b;"><!ENTITY e SYSTEM "file:///etc/passwd">]>')
        return (bomb + text.replace(">", ">&c;&e;", 1)).encode(), "entity"
    if choice == "encoding":
        encoding = generator.choice(["utf-16", "latin-1"])
        declared = generator.choice(["utf-8", "utf-16", "latin-1", "bogus"])
        body = text.replace(">", ">\u00e9", 1)
        return (f'<?xml version="1.0" encoding="{declared}"?>' + body).encode(encoding, errors="replace"), \
            f"encoding-{encoding}-as-{declared}"
    return text.encode(), choice


def mutate_png_size(data: bytes, generator: random.Random) -> tuple[bytes, str]:
    """A PNG whose header declares a huge size with a valid CRC: the pixel limit must stop it."""
    import struct
    import zlib

    if not data.startswith(b"\x89PNG") or data[12:16] != b"IHDR":
        return mutate_bytes(data, generator)
    width, height = generator.choice([(100_000, 100_000), (2**31 - 1, 2), (1, 2**31 - 1), (0, 10), (70_000, 70_000)])
    ihdr = b"IHDR" + struct.pack(">II", width, height) + data[24:29]
    return data[:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + data[33:], "png-huge-size"


def mutate(seed: Seed, data: bytes, generator: random.Random) -> tuple[bytes, str]:
    structured = generator.random() < 0.6
    if seed.path.suffix == ".json" and structured:
        return mutate_json(data, generator)
    if seed.path.suffix == ".xml" and structured:
        return mutate_xml(data, generator)
    if seed.path.suffix == ".png" and generator.random() < 0.1:
        return mutate_png_size(data, generator)
    return mutate_bytes(data, generator)


# -- running one case --------------------------------------------------------------------

class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout()


def _names_file(error: SegguiError, case_file: Path) -> bool:
    text = str(error)
    return case_file.name in text or str(case_file.parent) in text


def _snapshot_tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def check_export(dataset, case_folder: Path) -> str | None:
    """Export a successful import over an existing destination; a failure must leave it untouched."""
    destination = case_folder / "export"
    destination.mkdir()
    (destination / "keep.txt").write_text("previous export")
    before = _snapshot_tree(case_folder)
    try:
        export_annotations(dataset, destination, "labelme")
    except SegguiError:
        if _snapshot_tree(case_folder) != before:
            return "a failed export changed its destination"
    return None


def run_case(seed: Seed, case_file: Path, format_given: bool, export: bool) -> tuple[str, str]:
    """Returns (outcome, detail)."""
    try:
        if seed.target == "image":
            image_size(case_file)
            read_image(case_file)
            return "ok", ""
        key = {"mit-xml": None}.get(seed.target, seed.target) if format_given else None
        dataset = import_annotations(case_file, format=key, images_dir=seed.images_dir)
        if export:
            problem = check_export(dataset, case_file.parent)
            if problem:
                return "partial", problem
        return "ok", f"{len(dataset.images)} images"
    except CaseTimeout:
        return "timeout", f"over {PER_CASE_SECONDS} s"
    except SegguiError as error:
        if not _names_file(error, case_file):
            return "unnamed", f"{type(error).__name__}: {error}"
        return "refused", type(error).__name__
    except RecursionError as error:
        return "exception", f"RecursionError: {error}"
    except Exception as error:  # the failures this fuzzer exists to find
        tail = traceback.format_exc().strip().splitlines()[-4:]
        return "exception", f"{type(error).__name__}: {error} | " + " | ".join(tail)


def run(cases: int, seed_number: int, workdir: Path, data: Path) -> dict:
    import logging

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)  # broken tags log a line each: noise here
    seeds = collect_seeds(data)
    if not seeds:
        raise SystemExit(f"no real files found under {data}")
    generator = random.Random(seed_number)
    signal.signal(signal.SIGALRM, _alarm)
    counts: dict[str, int] = {}
    by_target: dict[str, int] = {}
    failures = []
    started = time.monotonic()
    originals = {seed.path: seed.path.read_bytes() for seed in seeds}
    for case in range(cases):
        seed = seeds[case % len(seeds)] if case < len(seeds) else generator.choice(seeds)
        data_bytes, mutation = mutate(seed, originals[seed.path], generator)
        case_folder = workdir / f"case{case:05d}"
        case_folder.mkdir(parents=True)
        case_file = case_folder / seed.path.name
        case_file.write_bytes(data_bytes)
        print(json.dumps({"start": case}), flush=True)
        case_started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, PER_CASE_SECONDS)
        try:
            outcome, detail = run_case(seed, case_file, format_given=generator.random() < 0.5,
                                       export=generator.random() < 0.1)
        except CaseTimeout:  # the alarm fired between the case and its bookkeeping
            outcome, detail = "timeout", f"over {PER_CASE_SECONDS} s"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        record = {"case": case, "target": seed.target, "source": seed.path.name, "mutation": mutation,
                  "outcome": outcome, "seconds": round(time.monotonic() - case_started, 3)}
        if outcome not in ("ok", "refused"):
            record["detail"] = detail
            failures.append(record)
        print(json.dumps(record), flush=True)
        counts[outcome] = counts.get(outcome, 0) + 1
        by_target[seed.target] = by_target.get(seed.target, 0) + 1
        if outcome in ("ok", "refused"):
            shutil.rmtree(case_folder, ignore_errors=True)  # keep failing cases for inspection
    return {"benchmark": "fuzz", "cases": cases, "seed": seed_number, "outcomes": counts, "targets": by_target,
            "seeds": len(seeds), "failures": len(failures), "seconds": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=2400)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    arguments = parser.parse_args(argv)
    summary = run(arguments.cases, arguments.seed, arguments.workdir, arguments.data)
    print(json.dumps(summary), flush=True)
    return 0 if summary["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
