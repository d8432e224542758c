"""`seggui predict`: segment images with a model, writing DIR/<stem>.png instance labels
(and with --scores DIR/<stem>.json: the image's and every cell's confidence). --page N or
--all-pages choose planes of multi-page files; a plane other than 0 is DIR/<stem>_page<N>.png."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("inputs", nargs="+", type=Path, metavar="IMAGES_OR_FOLDERS")
    parser.add_argument("--model", default="nuclei", help="model name or folder (see `seggui models`)")
    parser.add_argument("--out", type=Path, required=True, help="output folder for <stem>.png label images")
    parser.add_argument("--tile", type=int, default=1024, help="tile size in pixels (default 1024)")
    parser.add_argument("--overlap", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])
    parser.add_argument("--flips", action=argparse.BooleanOptionalAction, default=None,
                        help="test-time flips (4x the network time); default: on a GPU, and on a CPU for "
                             "images up to 512 x 768 pixels")
    parser.add_argument("--precision", choices=["auto", "float32", "bfloat16"], default="auto",
                        help="network arithmetic on a CPU (default auto: bfloat16 where the processor computes "
                             "it natively, about 3x faster; else float32; SEGGUI_PRECISION overrides auto)")
    parser.add_argument("--threads", type=int, help="CPU threads (default: all available)")
    parser.add_argument("--scores", action="store_true",
                        help="also write OUT/<stem>.json: {\"image_score\": s, \"instances\": {\"<label id>\": s}}, "
                             "confidences in [0, 1], higher = more likely right")
    parser.add_argument("--score-flip", action="store_true",
                        help="confidence also from agreement with a horizontally flipped pass (2x network time)")
    pages = parser.add_mutually_exclusive_group()
    pages.add_argument("--page", type=int, default=0, metavar="N",
                       help="plane N (from 0) of multi-page files: microscope files number their scenes' planes in "
                            "turn (scenes, then T, then Z), TIFF stacks their pages; written as OUT/<stem>_page<N>.png")
    pages.add_argument("--all-pages", action="store_true",
                       help="every plane of multi-page files, each written as OUT/<stem>_page<N>.png "
                            "(plane 0 as OUT/<stem>.png)")


def collect_images(inputs: list[Path]) -> list[Path]:
    from seggui.core.errors import ImageReadError
    from seggui.core.imageio import image_files, is_zarr_folder

    images: list[Path] = []
    for item in inputs:
        if item.is_dir() and not is_zarr_folder(item):  # an OME-Zarr image is a folder
            images.extend(image_files(item))
        elif item.exists():
            images.append(item)
        else:
            raise ImageReadError("no such image or folder", item)
    if not images:
        raise ImageReadError("no image files found in the given folders", inputs[0])
    return images


def planes_of(images: list[Path], page: int = 0, all_pages: bool = False) -> tuple[list[tuple[Path, int]], list[str]]:
    """(image, page) pairs to segment, and problems of files whose planes cannot be listed."""
    if not all_pages:
        return [(path, page) for path in images], []
    from seggui.core.errors import SegguiError
    from seggui.core.imageio import describe_pages

    planes, problems = [], []
    for path in images:
        try:
            planes.extend((path, info.index) for info in describe_pages(path))
        except (SegguiError, OSError) as error:
            problems.append(f"{path}: {getattr(error, 'message', None) or error}")
    return planes, problems


def output_stem(path: Path, page: int) -> str:
    """<stem> for plane 0, <stem>_page<N> for others: the page is in the name whenever it is not 0."""
    return path.stem if page == 0 else f"{path.stem}_page{page}"


def write_labels(labels, path: Path) -> None:
    """uint16 PNG (lossless, written atomically by core's label writer); more than 65535
    cells would need TIFF, reported clearly."""
    import numpy as np

    from seggui.core.errors import SegguiError
    from seggui.core.label_codec import write_label_image

    if labels.max() > np.iinfo(np.uint16).max:
        raise SegguiError(f"{int(labels.max())} instances do not fit a 16-bit PNG", path)
    write_label_image(path, labels.astype(np.uint16))


def scores_document(prediction) -> dict:
    """The --scores JSON: one entry per cell of the label image, keyed by its id as text."""
    import numpy as np

    from seggui.ml.confidence import cell_ids, image_score

    scores = prediction.scores or {}
    ids = cell_ids(prediction.labels)
    instances = {str(int(i)): round(float(scores.get(int(i), 0.0)), 6) for i in ids.tolist()}
    value = prediction.image_score
    if value is None:
        value = image_score(prediction.labels, {int(i): scores.get(int(i), 0.0) for i in ids.tolist()},
                            prediction.probability)
    return {"image_score": round(float(np.clip(value, 0.0, 1.0)), 6), "instances": instances}


def write_scores(prediction, path: Path) -> None:
    import json

    from seggui.core.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(scores_document(prediction), indent=1) + "\n")


class _Bar:
    """A one-line progress bar on stderr, drawn only on a terminal."""

    def __init__(self, total: int):
        self.total = total
        self.enabled = sys.stderr.isatty()

    def show(self, index: int, name: str, done: int, parts: int) -> None:
        if not self.enabled:
            return
        fraction = (index + done / max(1, parts)) / self.total
        filled = int(30 * fraction)
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {index + 1}/{self.total} {name[:40]:<40}")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def rank_share(threads: int | None) -> tuple[int, int, int | None]:
    """(rank, world size, CPU threads) for this process; torchrun sets RANK and WORLD_SIZE.

    No process group is needed: the ranks share nothing but the output folder. On CUDA each
    process takes its LOCAL_RANK's GPU; on CPU the cores are split between local processes.
    """
    import os

    world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
    rank = int(os.environ.get("RANK", "0"))
    if world == 1:
        return 0, 1, threads
    local_world = max(1, int(os.environ.get("LOCAL_WORLD_SIZE", str(world))))
    import torch

    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")) % torch.cuda.device_count())
    if threads is None:
        threads = max(1, (os.cpu_count() or 1) // local_world)
    return rank, world, threads


def run(args) -> int:
    from seggui.core.errors import SegguiError
    from seggui.core.imageio import read_image
    from seggui.ml.batch import predict_each
    from seggui.ml.inference import PredictOptions
    from seggui.ml.registry import load_model

    images = collect_images(args.inputs)
    if args.tile < 32:
        raise SegguiError(f"--tile {args.tile} is too small (at least 32)")
    if getattr(args, "page", 0) < 0:
        raise SegguiError(f"--page {args.page}: planes are numbered from 0")
    rank, world, threads = rank_share(args.threads)
    planes, problems = planes_of(images, getattr(args, "page", 0), getattr(args, "all_pages", False))
    for problem in problems if rank == 0 else []:
        print(f"seggui predict: {problem}", file=sys.stderr)
    planes = planes[rank::world]  # under torchrun each rank takes every world-th plane
    predictor = load_model(args.model, args.device, threads=threads)
    args.out.mkdir(parents=True, exist_ok=True)
    options = PredictOptions(tile=args.tile, overlap=args.overlap, batch_size=args.batch_size,
                             test_time_flips=args.flips, score_flip=getattr(args, "score_flip", False),
                             precision=getattr(args, "precision", "auto"))
    bar = _Bar(len(planes))
    failures = 0
    reported = (SegguiError, OSError, ValueError, MemoryError)  # per image; anything else is a bug

    def read(plane: tuple[Path, int]):
        return read_image(plane[0], page=plane[1]).array

    def show(index: int, done: int, parts: int) -> None:
        path, page = planes[index]
        bar.show(index, output_stem(path, page), done, parts)

    for outcome in predict_each(predictor, planes, read, options, progress=show, errors=reported):
        path, page = outcome.item
        stem = output_stem(path, page)
        error = outcome.error
        if error is None:
            try:
                write_labels(outcome.prediction.labels, args.out / f"{stem}.png")
                if getattr(args, "scores", False):
                    write_scores(outcome.prediction, args.out / f"{stem}.json")
            except reported as write_error:
                error = write_error
        if error is not None:
            failures += 1
            bar.close() if bar.enabled else None
            where = f"{path} (page {page})" if page else f"{path}"
            print(f"seggui predict: {where}: {getattr(error, 'message', None) or error}", file=sys.stderr)
    bar.close()
    done = len(planes) - failures
    prefix = f"rank {rank}/{world}: " if world > 1 else ""
    what = "planes" if getattr(args, "all_pages", False) else "images"
    print(f"{prefix}{done} of {len(planes)} {what} segmented into {args.out}", file=sys.stderr)
    return 1 if failures or problems else 0
