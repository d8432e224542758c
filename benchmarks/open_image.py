"""Time opening a huge 16-bit TIFF the way the app does (read_image + ImageLayer view setup).

Prints one JSON line: {"size": 8192, "dtype": "uint16", "open_s": ...}.
Usage: python benchmarks/open_image.py [--size 8192] [--repeat 3] [--compression none|zlib]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import tifffile

from seggui.core.imageio import read_image
from seggui.core.layers import ImageLayer


def make_image(path: Path, size: int, compression: str) -> None:
    rng = np.random.default_rng(0)
    # Smooth blobs plus noise: compresses like a real fluorescence image, not like white noise.
    coarse = rng.integers(0, 4000, size=(size // 64, size // 64), dtype=np.uint16)
    image = np.kron(coarse, np.ones((64, 64), dtype=np.uint16))
    image += rng.integers(0, 200, size=image.shape, dtype=np.uint16)
    kwargs = {} if compression == "none" else {"compression": compression}
    tifffile.imwrite(path, image, tile=(512, 512) if compression != "none" else None, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--compression", default="none", choices=["none", "zlib", "zstd"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "huge.tif"
        make_image(path, args.size, args.compression)
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            image = read_image(path)
            layer = ImageLayer(image.array, "image", image.channel_names)
            times.append(time.perf_counter() - start)
            assert layer.shape == (args.size, args.size)
        print(json.dumps({
            "size": args.size, "dtype": str(image.array.dtype), "compression": args.compression,
            "open_s": round(min(times), 3), "open_s_median": round(float(np.median(times)), 3),
            "file_mb": round(path.stat().st_size / 1e6, 1),
        }))


if __name__ == "__main__":
    main()
