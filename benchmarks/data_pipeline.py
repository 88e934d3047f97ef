"""From a folder of photos: decoding speed, training speed, and memory that stays flat.

    python -m benchmarks.data_pipeline                     # 2,000 and 20,000 images
    python -m benchmarks.data_pipeline --sizes 2000 --write

Writes N generated 64×64 RGB PNG photos (two classes: discs and squares on noise) into a
temporary folder, then, each in a fresh process so the peak memory is its own:

* decoding: one pass of ``image_dataset_from_directory`` over the folder, images/s;
* training: one epoch of ``small_cnn`` on the streamed batches, images/s;
* the process's peak resident memory after both (``ru_maxrss``).

Streaming means the peak must not grow with N: 20,000 decoded 64×64×3 float32 images would be
983 MB if they were all held at once.

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

from benchmarks.machine import describe_machine, write_results


def make_folder(root: str, n: int, size: int = 64, seed: int = 0) -> None:
    """``n`` PNG photos in ``root/disc`` and ``root/square``."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    for name in ("disc", "square"):
        os.makedirs(os.path.join(root, name), exist_ok=True)
    for i in range(n):
        kind = ("disc", "square")[i % 2]
        pixels = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
        image = Image.fromarray(pixels)
        draw = ImageDraw.Draw(image)
        r = int(rng.integers(size // 6, size // 3))
        cx, cy = rng.integers(r, size - r, 2)
        box = (int(cx - r), int(cy - r), int(cx + r), int(cy + r))
        colour = tuple(int(c) for c in rng.integers(120, 256, 3))
        (draw.ellipse if kind == "disc" else draw.rectangle)(box, fill=colour)
        image.save(os.path.join(root, kind, f"{i:06d}.png"))


def measure(folder: str, batch_size: int, threads: int) -> dict[str, float]:
    """Decode one epoch, train one epoch; returns images/s for both and the peak RSS (MiB)."""
    from benchmarks.machine import limit_threads, peak_rss_mib

    limit_threads(threads, torch=False)
    import glassnet as gn
    from glassnet.data import image_dataset_from_directory

    ds = image_dataset_from_directory(
        folder, image_size=(64, 64), batch_size=batch_size, seed=0, check=False
    )
    start = time.perf_counter()
    seen = sum(len(x) for x, _ in ds)
    decode = seen / (time.perf_counter() - start)
    gn.set_seed(0)
    model = gn.applications.small_cnn((64, 64, 3), classes=2)
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    start = time.perf_counter()
    history = model.fit(ds, epochs=1, verbose=0)
    train = seen / (time.perf_counter() - start)
    peak = peak_rss_mib()
    return {
        "images": seen,
        "decode_per_s": decode,
        "train_per_s": train,
        "peak_mib": peak,
        "accuracy": history.history["accuracy"][-1],
    }


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = os.path.join(tmp, f"photos-{n}")
            start = time.perf_counter()
            make_folder(folder, n)
            print(f"wrote {n} photos in {time.perf_counter() - start:.0f} s", flush=True)
            code = (
                "import json, benchmarks.data_pipeline as b\n"
                f"print(json.dumps(b.measure({folder!r}, {args.batch_size}, {args.threads})))\n"
            )
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = [
        "| photos (64×64 RGB PNG) | decoding, images/s | training small_cnn, images/s "
        "| peak memory | accuracy after 1 epoch |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['images']:,} | {r['decode_per_s']:,.0f} | {r['train_per_s']:,.0f} "
            f"| {r['peak_mib']:,.0f} MiB | {r['accuracy']:.1%} |"
        )
    if len(rows) > 1:
        growth = rows[-1]["peak_mib"] / rows[0]["peak_mib"]
        held = rows[-1]["images"] * 64 * 64 * 3 * 4 / 2**20
        lines.append(
            f"\nPeak memory grows {growth:.2f}× for {rows[-1]['images'] / rows[0]['images']:.0f}× "
            f"the photos (holding all {rows[-1]['images']:,} decoded would take {held:,.0f} MiB)."
        )
    text = "\n".join(lines)
    print(text)
    if args.write:
        command = "python -m benchmarks.data_pipeline " + " ".join(
            sys.argv[1:] if argv is None else argv
        )
        body = f"{describe_machine(args.threads)}\n\n{text}"
        write_results("From a folder of photos: decoding, training, memory", body, command)
    return text


if __name__ == "__main__":
    main()
