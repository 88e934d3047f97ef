"""A small trained model for the server tests, and photos to send it.

The model is the one ``glassnet demo`` trains (a CNN on the bundled 8×8 digits, two epochs, a
few seconds, nothing downloaded), saved with its class names and preprocessing (8×8 grayscale,
bilinear resize), so uploads of any size and colour go through the stored preprocessing."""

from __future__ import annotations

import io
import socket
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def digits_model(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    from glassnet.cli import app

    out = tmp_path_factory.mktemp("serve") / "digits.glassnet"
    result = CliRunner().invoke(app, ["demo", "--epochs", "3", "--out", str(out), "--verbose", "0"])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="session")
def digit_photos(digits_model) -> list[bytes]:
    """Twelve test digits as PNGs of different sizes and colour modes (the server resizes them
    to 8×8 grayscale, as the stored preprocessing says)."""
    from glassnet.datasets import digits

    (_, _), (x_test, _) = digits()
    photos = []
    for i in range(12):
        ink = (x_test[i, ..., 0] * (255 / 16)).astype(np.uint8)
        size = 8 * (1 + i % 4)
        image = np_to_pil(ink).resize((size, size))
        if i % 2:
            image = image.convert("RGB")
        photos.append(png(image))
    return photos


def np_to_pil(array: np.ndarray):
    from PIL import Image

    return Image.fromarray(array)


def png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int = 50_000, height: int = 50_000) -> bytes:
    """A valid-looking PNG of a few dozen bytes whose header declares width × height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def free_socket() -> socket.socket:
    """A listening-ready socket bound to a free port on 127.0.0.1 (no race for the port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock
