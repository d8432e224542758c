"""Feed mutated microscope-like files and COCO panoptic sets to the readers, as fuzz_runner does.

Run as its own process (a decoder crash must not take the test runner with it):

    python -m tests.reliability.fuzz_microscopy --cases 600 --seed 5 --workdir /tmp/fuzz [--data ../shared/data]

Seeds: small OME-TIFFs written here with tifffile (T/Z stacks with a pixel size, channels,
RGB, tiled and compressed), copies of the real CZI and LIF files from the shared data (only
ever copied into the work folder), and a COCO panoptic set written here from the spec.
Mutations: bytes (fuzz_runner's), same-length edits of OME-XML and CZI/LIF XML attribute
values (offsets stay valid, so the metadata itself is what is hostile), and JSON edits of
the panoptic file. Each image case lists its planes (describe_pages), reads the header
size, page 0 and one other plane; each panoptic case imports the set.

Outcomes as in fuzz_runner ("ok", "refused" = a SegguiError naming the file; failures
"unnamed", "exception", "timeout"). The address space is limited (--memory-mb), so an
allocation a broken header asks for shows up as a refusal or an exception here, never as
the machine swapping; the summary gives the peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seggui.core.errors import SegguiError
from seggui.core.imageio import describe_pages, image_size, read_image
from tests.reliability.fuzz_runner import DEFAULT_DATA, CaseTimeout, mutate_bytes, mutate_json

PER_CASE_SECONDS = 5.0
MICROSCOPY_FILES = ("RGB-8bit.czi", "s_1_t_1_c_1_z_1.czi", "xz-example.lif")
_ATTRIBUTE = re.compile(rb'([A-Za-z]+)="([^"<>]{1,40})"')
_ATTRIBUTE_UTF16 = re.compile(rb'((?:[A-Za-z]\x00)+)=\x00"\x00((?:[^"<>\x00]\x00){1,40})"\x00')  # LIF: UTF-16LE XML
_SAME_LENGTH_VALUES = [b"0", b"-1", b"9", b"nan", b"inf", b"-inf", b"1e308", b"99999999999", b"x", b"",
                       b"0.0", b"-0", b"2147483648", b"\xc3\xa9", b"1;2", b"%s"]


@dataclass
class Seed:
    path: Path
    target: str  # "image" or "panoptic"


def write_tiff_seeds(folder: Path) -> list[Seed]:
    import tifffile

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    seeds = []

    def write(name: str, data: np.ndarray, **options) -> None:
        tifffile.imwrite(folder / name, data, **options)
        seeds.append(Seed(folder / name, "image"))

    write("tz.ome.tif", rng.integers(0, 4000, (2, 3, 24, 32), dtype=np.uint16), photometric="minisblack",
          metadata={"axes": "TZYX", "PhysicalSizeX": 0.325, "PhysicalSizeY": 0.325, "PhysicalSizeXUnit": "µm"})
    write("czyx.ome.tif", rng.integers(0, 255, (2, 3, 20, 20), dtype=np.uint8), photometric="minisblack",
          metadata={"axes": "CZYX", "Channel": {"Name": ["DAPI", "GFP"]}, "PhysicalSizeX": 200,
                    "PhysicalSizeXUnit": "nm"})
    write("rgb.ome.tif", rng.integers(0, 255, (24, 30, 3), dtype=np.uint8), photometric="rgb",
          metadata={"axes": "YXS", "PhysicalSizeX": 1.5})
    write("tiled.ome.tif", rng.integers(0, 60000, (3, 64, 64), dtype=np.uint16), photometric="minisblack",
          tile=(32, 32), compression="zlib", metadata={"axes": "ZYX", "PhysicalSizeX": 0.1})
    write("float.ome.tif", rng.random((2, 16, 16)).astype(np.float32), photometric="minisblack",
          metadata={"axes": "TYX"})
    return seeds


def write_panoptic_seed(folder: Path) -> Seed:
    """The layout of the COCO tools, from the spec: id = R + 256 G + 256^2 B."""
    import cv2

    annotations = folder / "annotations"
    (annotations / "panoptic_val").mkdir(parents=True, exist_ok=True)
    ids = np.zeros((20, 30), np.int64)
    ids[2:8, 3:9], ids[10:18, 12:20], ids[1:4, 25:29] = 7, 300, 70000
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    cv2.imwrite(str(annotations / "panoptic_val" / "cells_1.png"), rgb[:, :, ::-1])
    segments = [{"id": int(i), "category_id": 1 if i < 300 else 2, "area": int((ids == i).sum()),
                 "bbox": [0, 0, 1, 1], "iscrowd": 0} for i in np.unique(ids) if i]
    document = {"licenses": [], "info": {},
                "categories": [{"id": 1, "name": "nucleus", "isthing": 1, "color": [10, 20, 30]},
                               {"id": 2, "name": "cytoplasm", "isthing": 0, "color": [40, 50, 60]}],
                "images": [{"id": 5, "file_name": "cells_1.jpg", "height": 20, "width": 30}],
                "annotations": [{"image_id": 5, "file_name": "cells_1.png", "segments_info": segments}]}
    (annotations / "panoptic_val.json").write_text(json.dumps(document))
    return Seed(annotations / "panoptic_val.json", "panoptic")


def collect_seeds(data: Path, workdir: Path) -> list[Seed]:
    seeds = write_tiff_seeds(workdir / "seeds")
    for name in MICROSCOPY_FILES:  # read from the shared folder; only mutated copies are written
        if (data / "microscopy" / name).is_file():
            seeds.append(Seed(data / "microscopy" / name, "image"))
    seeds.append(write_panoptic_seed(workdir / "seeds" / "panoptic"))
    return seeds


def mutate_attributes(data: bytes, generator: random.Random) -> tuple[bytes, str]:
    """Same-length edits of XML attribute values (OME-XML in a TIFF, CZI/LIF metadata)."""
    wide = False
    matches = list(_ATTRIBUTE.finditer(data[:4_000_000]))
    if not matches:
        wide, matches = True, list(_ATTRIBUTE_UTF16.finditer(data[:4_000_000]))
    if not matches:
        return mutate_bytes(data, generator)
    out = bytearray(data)
    for match in generator.sample(matches, min(len(matches), generator.randint(1, 4))):
        start, end = match.span(2)
        length = (end - start) // 2 if wide else end - start
        if wide:  # one UTF-16 unit per character keeps the length
            text = generator.choice(["0", "-1", "9", "nan", "inf", "1e308", "99999999999", "x", "é", " "])
            out[start:end] = (text * length)[:length].ljust(length).encode("utf-16-le")
        else:
            value = generator.choice(_SAME_LENGTH_VALUES)
            out[start:end] = (value * length)[:length].ljust(length, b" ")
    return bytes(out), "xml-attribute"


def mutate(seed: Seed, data: bytes, generator: random.Random) -> tuple[bytes, str]:
    if seed.target == "panoptic":
        return mutate_json(data, generator) if generator.random() < 0.7 else mutate_bytes(data, generator)
    if generator.random() < 0.4:
        return mutate_attributes(data, generator)
    return mutate_bytes(data, generator)


def _alarm(signum, frame):
    raise CaseTimeout()


def _names_file(error: SegguiError, case_file: Path) -> bool:
    text = str(error)
    return case_file.name in text or str(case_file.parent) in text


def run_case(seed: Seed, case_file: Path, generator: random.Random) -> tuple[str, str]:
    from seggui.formats import import_annotations

    try:
        if seed.target == "panoptic":
            dataset = import_annotations(case_file, format="coco-panoptic" if generator.random() < 0.5 else None)
            return "ok", f"{len(dataset.images)} images"
        pages = describe_pages(case_file)
        image_size(case_file)
        read_image(case_file)
        other = generator.randrange(len(pages))
        if other:
            read_image(case_file, page=other)
        return "ok", f"{len(pages)} pages"
    except CaseTimeout:
        return "timeout", f"over {PER_CASE_SECONDS} s"
    except SegguiError as error:
        if not _names_file(error, case_file):
            return "unnamed", f"{type(error).__name__}: {error}"
        return "refused", type(error).__name__
    except RecursionError as error:
        return "exception", f"RecursionError: {error}"
    except Exception as error:
        tail = traceback.format_exc().strip().splitlines()[-4:]
        return "exception", f"{type(error).__name__}: {error} | " + " | ".join(tail)


def _case_file(seed: Seed, case_folder: Path, data: bytes) -> Path:
    if seed.target == "panoptic":  # the set is a folder: copy it, then put the mutation in place
        root = seed.path.parent.parent
        shutil.copytree(root, case_folder / root.name)
        target = case_folder / root.name / seed.path.relative_to(root)
        if data is not None:
            target.write_bytes(data)
        return target
    target = case_folder / seed.path.name
    target.write_bytes(data)
    return target


def run(cases: int, seed_number: int, workdir: Path, data: Path, memory_mb: int) -> dict:
    import logging

    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    logging.getLogger("bioio").setLevel(logging.CRITICAL)
    seeds = collect_seeds(data, workdir)
    generator = random.Random(seed_number)
    originals = {seed.path: seed.path.read_bytes() for seed in seeds}
    panoptic_png = next(s for s in seeds if s.target == "panoptic").path.parent / "panoptic_val" / "cells_1.png"
    for seed in seeds:  # warm the readers' imports before the address space is limited
        try:
            describe_pages(seed.path) if seed.target == "image" else None
        except SegguiError:
            pass
    if memory_mb:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (memory_mb * 2**20, hard))
    signal.signal(signal.SIGALRM, _alarm)
    counts: dict[str, int] = {}
    by_source: dict[str, int] = {}
    failures = []
    started = time.monotonic()
    for case in range(cases):
        seed = seeds[case % len(seeds)] if case < len(seeds) else generator.choice(seeds)
        case_folder = workdir / f"case{case:05d}"
        case_folder.mkdir(parents=True)
        if seed.target == "panoptic" and generator.random() < 0.3:  # mutate the PNG instead of the JSON
            case_file = _case_file(seed, case_folder, None)
            png = case_file.parent / "panoptic_val" / "cells_1.png"
            mutated, mutation = mutate_bytes(panoptic_png.read_bytes(), generator)
            png.write_bytes(mutated)
            mutation = f"png-{mutation}"
        else:
            mutated, mutation = mutate(seed, originals[seed.path], generator)
            case_file = _case_file(seed, case_folder, mutated)
        print(json.dumps({"start": case}), flush=True)
        case_started = time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, PER_CASE_SECONDS)
        try:
            outcome, detail = run_case(seed, case_file, generator)
        except CaseTimeout:
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
        by_source[seed.path.name] = by_source.get(seed.path.name, 0) + 1
        if outcome in ("ok", "refused"):
            shutil.rmtree(case_folder, ignore_errors=True)  # keep failing cases for inspection
    peak_mb = _own_peak_mb()
    return {"benchmark": "fuzz-microscopy", "cases": cases, "seed": seed_number, "outcomes": counts,
            "sources": by_source, "failures": len(failures), "peak_rss_mb": round(peak_mb),
            "seconds": round(time.monotonic() - started, 1)}


def _own_peak_mb() -> float:
    """This process's own peak resident memory: VmHWM starts afresh at exec, while ru_maxrss
    keeps the size of the (large) pytest process this one was forked from."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=600)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space limit (0: none)")
    arguments = parser.parse_args(argv)
    summary = run(arguments.cases, arguments.seed, arguments.workdir, arguments.data, arguments.memory_mb)
    print(json.dumps(summary), flush=True)
    return 0 if summary["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
