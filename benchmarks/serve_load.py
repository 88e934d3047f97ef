"""Load-test ``glassnet serve`` on loopback: many concurrent clients, good and bad requests.

    python -m benchmarks.serve_load                       # 5,000 requests, 16 clients
    python -m benchmarks.serve_load --batch-window-ms 5 --write

Starts ``glassnet serve`` in a child process on 127.0.0.1 (a free port; nothing else is ever
targeted) with the digits model (trained here in seconds unless ``--model`` is given), then
sends a bounded number of requests (and stops at ``--max-seconds`` whatever happens) from
``--clients`` threads, each with its own keep-alive connection. The mix: 70 % photos of digits
(multipart, sizes 8–32 px), 10 % JSON pixels, and 20 % bad input — not an image (415), a
decompression bomb (400), JSON of the wrong shape (422), an upload over the limit (413).

Reported: requests/second, p50/p95/p99 latency (all requests, and the good ones), the status
codes, 5xx answers, dropped connections (transport errors), answers of the wrong status, and
the server's resident memory (VmRSS from /proc) sampled through the run: flat means no leak.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.machine import describe_machine, write_results

UPLOAD_MB = 1.0


def _train(folder: Path) -> Path:
    from typer.testing import CliRunner

    from glassnet.cli import app

    out = folder / "digits.glassnet"
    result = CliRunner().invoke(app, ["demo", "--epochs", "3", "--out", str(out), "--verbose", "0"])
    if result.exit_code != 0:
        raise SystemExit(result.output)
    return out


def _photos() -> list[bytes]:
    from PIL import Image

    from glassnet.datasets import digits

    (_, _), (x_test, _) = digits()
    photos = []
    for i in range(32):
        ink = (x_test[i, ..., 0] * (255 / 16)).astype(np.uint8)
        image = Image.fromarray(ink).resize((8 * (1 + i % 4),) * 2)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        photos.append(buffer.getvalue())
    return photos


def _bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def _requests(photos: list[bytes]) -> list[tuple[str, dict, int]]:
    """(kind, httpx keyword arguments, expected status), in the mix's proportions (of 20)."""
    rng = np.random.default_rng(0)
    pixels = {"pixels": rng.integers(0, 256, (8, 8, 1)).tolist()}
    big = b"\x89PNG\r\n\x1a\n" + bytes(int(UPLOAD_MB * 2**20) + 100_000)
    kinds = [("photo", {"files": {"file": ("d.png", p)}}, 200) for p in photos[:14]]
    kinds += [("json", {"json": pixels}, 200)] * 2
    kinds += [("not an image", {"files": {"file": ("x.png", b"just some text")}}, 415)]
    kinds += [("bomb", {"files": {"file": ("bomb.png", _bomb())}}, 400)]
    kinds += [("wrong shape", {"json": {"pixels": [[1, 2, 3]]}}, 422)]
    kinds += [("too large", {"files": {"file": ("big.png", big)}}, 413)]
    return kinds


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run(args: argparse.Namespace) -> dict:
    import httpx2 as httpx

    with tempfile.TemporaryDirectory() as tmp:
        model = Path(args.model) if args.model else _train(Path(tmp))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        command = [
            sys.executable, "-m", "glassnet.cli", "serve", str(model), "--port", str(port),
            "--max-upload-mb", str(UPLOAD_MB), "--batch-window-ms", str(args.batch_window_ms),
        ]  # fmt: skip
        server = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ)
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit(server.stderr.read().decode()) from None
                    time.sleep(0.1)
            return _load(url, server.pid, _requests(_photos()), args)
        finally:
            server.terminate()
            server.wait(timeout=20)


def _load(url: str, pid: int, kinds: list, args: argparse.Namespace) -> dict:
    import httpx2 as httpx

    lock = threading.Lock()
    next_index = [0]
    results: list[tuple[str, int, float, int]] = []  # kind, status (-1 dropped), seconds, want
    rss: list[float] = []
    stop = threading.Event()
    end = time.monotonic() + args.max_seconds

    def sample() -> None:
        while not stop.is_set():
            rss.append(_rss_mib(pid))
            stop.wait(0.25)

    def client() -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            while time.monotonic() < end:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= args.requests:
                    return
                kind, options, want = kinds[i % len(kinds)]
                path = "/predict"
                start = time.perf_counter()
                try:
                    status = http.post(path, **options).status_code
                except httpx.TransportError:
                    status = -1
                results.append((kind, status, time.perf_counter() - start, want))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    stop.set()
    sampler.join()
    latencies = np.array([r[2] for r in results]) * 1000
    good = np.array([r[2] for r in results if r[3] == 200]) * 1000
    statuses = Counter(r[1] for r in results)
    quarter = max(1, len(rss) // 4)
    return {
        "requests": len(results),
        "seconds": seconds,
        "rps": len(results) / seconds,
        "p": np.percentile(latencies, [50, 95, 99]),
        "p_good": np.percentile(good, [50, 95, 99]),
        "statuses": dict(sorted(statuses.items())),
        "server_errors": sum(n for s, n in statuses.items() if s >= 500),
        "dropped": statuses.get(-1, 0),
        "wrong": sum(1 for r in results if r[1] != r[3]),
        "rss_start": float(np.median(rss[:quarter])),
        "rss_end": float(np.median(rss[-quarter:])),
        "rss_max": float(max(rss)),
    }


def report(r: dict, args: argparse.Namespace) -> str:
    p, g = r["p"], r["p_good"]
    return "\n".join(
        [
            f"- {r['requests']:,} requests from {args.clients} clients in {r['seconds']:.1f} s: "
            f"**{r['rps']:.0f} requests/s** (micro-batching window {args.batch_window_ms} ms)",
            f"- latency, all: p50 {p[0]:.1f} ms, p95 {p[1]:.1f} ms, p99 {p[2]:.1f} ms; "
            f"good requests: p50 {g[0]:.1f} ms, p95 {g[1]:.1f} ms, p99 {g[2]:.1f} ms",
            f"- status codes: {r['statuses']} (70 % photos, 10 % JSON, 20 % bad input)",
            f"- 5xx: {r['server_errors']}; dropped connections: {r['dropped']}; "
            f"answers with an unexpected status: {r['wrong']}",
            f"- server RSS: {r['rss_start']:.1f} MiB in the first quarter of the run, "
            f"{r['rss_end']:.1f} MiB in the last (max {r['rss_max']:.1f} MiB)",
        ]
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="A saved model (default: train the digits CNN here).")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=300)
    parser.add_argument("--batch-window-ms", type=float, default=0)
    parser.add_argument("--write", action="store_true", help="Append to benchmarks/RESULTS.md.")
    args = parser.parse_args(argv)
    result = run(args)
    text = report(result, args)
    print(text)
    if args.write:
        body = describe_machine(threads=os.cpu_count() or 1) + "\n" + text
        command = "python -m benchmarks.serve_load " + " ".join(argv or sys.argv[1:])
        write_results("glassnet serve under load (loopback)", body, command)
    return result


if __name__ == "__main__":
    main()
