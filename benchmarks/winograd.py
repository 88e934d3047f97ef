"""Would Winograd's F(2×2, 3×3) make glassnet's 3×3 convolutions faster in NumPy?

The plan for W3 at 1.3× PyTorch (``docs/engine.md``) put Winograd first: each 2×2 block of
outputs of a 3×3 stride-1 convolution comes from one 4×4 input tile with 16 products per
input/output channel pair instead of 36, 2.25× fewer multiply-adds (Lavin & Gray, 2015):

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A        for a 4×4 tile d and a 3×3 filter g

Summed over input channels, the ⊙ becomes 16 GEMMs (tiles × C_in) · (C_in × C_out), one per
position in the 4×4 tile. The transforms by Bᵀ and Aᵀ are additions and subtractions of
strided slices, done here with NumPy, a few images at a time so that the 16 planes stay in
cache. This script times that path against glassnet's im2col + GEMM inference path
(``ops.conv2d`` under ``no_grad``) in interleaved pairs, both with bias and ReLU, on the 3×3
layers of W3/W4 (the CIFAR CNN) and two of ResNet-50's, and also times the two GEMMs alone —
the part Winograd shrinks — so the table shows where the time goes.

    python -m benchmarks.winograd              # table to stdout
    python -m benchmarks.winograd --write      # + benchmarks/RESULTS.md

Run by hand, never by the test suite.
"""

from __future__ import annotations

import argparse

import numpy as np

import glassnet as gn
from benchmarks.machine import describe_machine, limit_threads, write_results
from benchmarks.numba_conv import interleaved
from glassnet.ops import conv as conv_ops

THREADS = 2
# (batch, height = width, C_in, C_out): the CIFAR CNN's 3×3 layers after the first, at W4's
# batch 1 and at the 64-image slices predict runs at batch 256; then two of ResNet-50's.
SHAPES = (
    (1, 32, 32, 32),
    (1, 16, 32, 64),
    (1, 16, 64, 64),
    (64, 32, 32, 32),
    (64, 16, 32, 64),
    (64, 16, 64, 64),
    (1, 56, 64, 64),
    (1, 14, 256, 256),
)
CHUNK_BYTES = 2 << 20  # the 16 transformed planes of one chunk of images

# F(2×2, 3×3): the filter transform G (4×3); Bᵀ and Aᵀ are applied as the sums they stand for.
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], dtype=np.float32)


def filter_transform(w: np.ndarray) -> np.ndarray:
    """U = G g Gᵀ for every (input, output) channel pair: (3, 3, C, F) -> (16, C, F)."""
    u = np.einsum("ai,ijcf,bj->abcf", G, w, G)
    return np.ascontiguousarray(u.reshape(16, *w.shape[2:]), dtype=np.float32)


def _input_transform(d: np.ndarray, th: int, tw: int) -> np.ndarray:
    """V = Bᵀ d B for every 4×4 tile (stride 2) of the padded images ``d`` (n, 2th+2, 2tw+2, C):
    rows (Bᵀ) then columns (B) as sums of strided slices. Returns (16, n·th·tw, C)."""
    n, c = d.shape[0], d.shape[3]
    r = [d[:, k : k + 2 * th : 2] for k in range(4)]  # tile row k of every tile row
    rows = (r[0] - r[2], r[1] + r[2], r[2] - r[1], r[1] - r[3])
    v = np.empty((16, n, th, tw, c), dtype=d.dtype)
    for a, t in enumerate(rows):
        k = [t[:, :, j : j + 2 * tw : 2] for j in range(4)]
        np.subtract(k[0], k[2], out=v[4 * a])
        np.add(k[1], k[2], out=v[4 * a + 1])
        np.subtract(k[2], k[1], out=v[4 * a + 2])
        np.subtract(k[1], k[3], out=v[4 * a + 3])
    return v.reshape(16, n * th * tw, c)


def _output_transform(m: np.ndarray, y: np.ndarray) -> None:
    """y = Aᵀ m A for every tile: m (4, 4, n, th, tw, F) -> y (n, th, 2, tw, 2, F), written in
    place; Aᵀ = [[1, 1, 1, 0], [0, 1, -1, -1]]."""
    s0 = m[0] + m[1]
    s0 += m[2]
    s1 = m[1] - m[2]
    s1 -= m[3]
    for row, s in enumerate((s0, s1)):
        out = y[:, :, row, :, 0]
        np.add(s[0], s[1], out=out)
        out += s[2]
        out = y[:, :, row, :, 1]
        np.subtract(s[1], s[2], out=out)
        out -= s[3]


def winograd_conv(x: np.ndarray, u: np.ndarray, b: np.ndarray) -> np.ndarray:
    """ReLU(conv3×3(x) + b), "same" padding, stride 1, by F(2×2, 3×3) a chunk of images at a
    time. x (N, H, W, C), u = ``filter_transform(w)`` (16, C, F), b (F,) -> (N, H, W, F)."""
    n, h, w, c = x.shape
    f = u.shape[2]
    th, tw = (h + 1) // 2, (w + 1) // 2
    # One pixel of "same" padding, plus one more at the bottom/right when H or W is odd.
    xpad = np.pad(x, ((0, 0), (1, 2 * th + 1 - h), (1, 2 * tw + 1 - w), (0, 0)))
    y = np.empty((n, th, 2, tw, 2, f), dtype=x.dtype)
    step = max(1, CHUNK_BYTES // (16 * th * tw * c * x.itemsize))
    for start in range(0, n, step):
        stop = min(n, start + step)
        v = _input_transform(xpad[start:stop], th, tw)
        m = np.matmul(v, u).reshape(4, 4, stop - start, th, tw, f)
        _output_transform(m, y[start:stop])
    out = y.reshape(n, 2 * th, 2 * tw, f)[:, :h, :w]
    out += b
    return np.maximum(out, 0, out=out)


def glassnet_conv(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """glassnet's inference path: ``conv2d(..., padding="same", relu=True)`` under no_grad."""
    with gn.no_grad():
        y = gn.ops.conv2d(gn.Tensor(x), gn.Tensor(w), gn.Tensor(b), padding="same", relu=True)
    return y.numpy()


def measure(shape: tuple[int, int, int, int], pairs: int, rng: np.random.Generator) -> str:
    """One table row: the whole layer both ways, then the GEMMs alone (chunking aside), after
    checking that Winograd computes what glassnet does."""
    n, size, c, f = shape
    x = rng.standard_normal((n, size, size, c), dtype=np.float32)
    w = rng.standard_normal((3, 3, c, f), dtype=np.float32) * np.float32(0.1)
    b = rng.standard_normal(f, dtype=np.float32)
    u = filter_transform(w)
    np.testing.assert_allclose(winograd_conv(x, u, b), glassnet_conv(x, w, b), rtol=1e-4, atol=1e-4)
    whole = interleaved(lambda: glassnet_conv(x, w, b), lambda: winograd_conv(x, u, b), pairs)
    xpad = conv_ops.pad_images(x, ((1, 1), (1, 1)))
    cols = conv_ops.im2col(xpad, (3, 3), (1, 1), (1, 1), (size, size))
    w2 = w.reshape(9 * c, f)
    tiles = rng.standard_normal((16, n * ((size + 1) // 2) ** 2, c), dtype=np.float32)
    gemm = interleaved(lambda: cols @ w2, lambda: np.matmul(tiles, u), pairs)
    return (
        f"| {n}, {size}×{size}, {c}→{f} | {whole[0]:.3f} | {whole[1]:.3f} "
        f"| **{whole[2]:.2f}×** | {gemm[0]:.3f} | {gemm[1]:.3f} |"
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=60, help="timed pairs per comparison")
    parser.add_argument("--write", action="store_true", help="append to benchmarks/RESULTS.md")
    args = parser.parse_args(argv)
    limit_threads(THREADS, torch=False)
    rng = np.random.default_rng(0)
    lines = [
        f"Winograd F(2×2, 3×3) in NumPy against glassnet's im2col + GEMM, inference with bias "
        f"and ReLU, {args.pairs} interleaved pairs (median ms; ratio = median of pairs)",
        "",
        "| layer (batch, H×W, C_in→C_out) | glassnet ms | Winograd ms | Winograd / glassnet "
        "| GEMM alone: im2col ms | GEMM alone: 16 Winograd ms |",
        "|---|---|---|---|---|---|",
    ]
    lines += [measure(shape, args.pairs, rng) for shape in SHAPES]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_results(
            "Winograd F(2×2, 3×3) in NumPy against glassnet's 3×3 convolutions",
            describe_machine(THREADS) + "\n\n" + body,
            "python -m benchmarks.winograd --write",
        )
    return body


if __name__ == "__main__":
    main()
