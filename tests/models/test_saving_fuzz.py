"""A damaged or hostile model file loads, or raises ``ModelFileError``: nothing else.

Hypothesis mutates the files of three small saved models (a Sequential CNN trained with Adam,
so it has an optimizer file; a Sequential of ResNet blocks, models nested in a model; a
subclassed model, built by running a sample through it): flipped, cut and inserted bytes in
config.json, weights.safetensors, optimizer.safetensors and the zip form, and edits of the JSON
(numbers made huge, negative or strings, lists and objects swapped, keys deleted, classes
renamed). Whatever comes out, ``load_model`` either succeeds or raises glassnet's own
``ModelFileError`` — never a ``MemoryError``, a ``RecursionError``, or a ``KeyError`` or
``TypeError`` from deep inside. The runs are derandomized: every run tries the same files.

While the module runs, the process may not grow by more than a few GiB (``RLIMIT_AS``), so a
check that stops working shows up as a ``MemoryError`` here rather than as a machine that
swaps or an out-of-memory kill.
"""

from __future__ import annotations

import copy
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import layers as L
from glassnet.applications.resnet import BasicBlock
from glassnet.models.saving import ModelFileError

FILES = ("config.json", "weights.safetensors", "optimizer.safetensors")
FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class TwoPaths(gn.Model):
    """A subclassed model: built by running one zero sample through ``call``."""

    def __init__(self, units: int = 3, name: str | None = None, trainable: bool = True):
        super().__init__(name=name, trainable=trainable)
        self.units = units
        self.left = L.Dense(units, activation="relu")
        self.right = L.Dense(units)
        self.add = L.Add()
        self.out = L.Dense(2, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.add([self.left(x), self.right(x)]))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _cnn() -> gn.Model:
    gn.set_seed(0)
    model = gn.Sequential(
        [
            L.Input((6, 6, 1)),
            L.Conv2D(2, 3, padding="same", activation="relu"),
            L.BatchNormalization(),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(3, activation="softmax"),
        ]
    )
    model.compile(gn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    x = np.random.default_rng(0).standard_normal((8, 6, 6, 1)).astype(np.float32)
    model.fit(x, np.arange(8) % 3, epochs=1, batch_size=4, verbose=0)
    model.class_names = ["a", "b", "c"]
    model.preprocessing = {"image_size": [6, 6], "color_mode": "grayscale"}
    return model


def _resnet() -> gn.Model:
    gn.set_seed(0)
    return gn.Sequential(
        [
            L.Input((4, 4, 2)),
            BasicBlock(2),
            BasicBlock(3, strides=2, downsample=True),
            L.GlobalAveragePooling2D(),
            L.Dense(2),
        ]
    )


def _subclassed() -> gn.Model:
    gn.set_seed(0)
    model = TwoPaths(units=3)
    model.build((None, 4))
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, dict[str, bytes]]:
    """Each model's files, as bytes: ``{"cnn": {"config.json": b"...", ...}, ...}``."""
    out = {}
    for name, make in (("cnn", _cnn), ("resnet", _resnet), ("subclassed", _subclassed)):
        folder = tmp_path_factory.mktemp("saved") / name
        make().save(folder)
        out[name] = {f: (folder / f).read_bytes() for f in FILES if (folder / f).exists()}
    return out


@pytest.fixture(scope="module", autouse=True)
def bounded_memory() -> Iterator[None]:
    """Let the process grow by at most 4 GiB while these tests run (Linux)."""
    try:
        import resource

        with open("/proc/self/status") as f:
            vm_kib = next(int(line.split()[1]) for line in f if line.startswith("VmSize:"))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = vm_kib * 1024 + 4 * 2**30
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, OSError, ValueError, StopIteration):
        yield  # no limit to set here: the checks still run
        return
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def load_or_refuse(files: dict[str, bytes], as_zip: bool = False) -> Any:
    """Write ``files`` as a model folder (or zip) and load it: the model, or None when glassnet
    refused it with a ``ModelFileError``. Any other exception fails the test."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.zip" if as_zip else "model")
        if as_zip:
            with open(path, "wb") as f:
                f.write(files["model.zip"])
        else:
            os.mkdir(path)
            for name, data in files.items():
                with open(os.path.join(path, name), "wb") as f:
                    f.write(data)
        try:
            return gn.load_model(path)
        except ModelFileError as err:
            assert str(err), "a refusal must say why"
            return None


def test_the_unmutated_files_load(saved):
    for files in saved.values():
        assert load_or_refuse(files) is not None


# ---------------------------------------------------------------------------- JSON edits
#: Values a stranger might put anywhere in config.json.
NASTY_VALUES = st.one_of(
    st.sampled_from(
        [
            2_000_000_000,
            2**31,
            2**62,
            2**63,
            10**30,
            -1,
            0,
            1,
            -(2**63),
            0.5,
            1e308,
            float("inf"),
            float("nan"),
            True,
            False,
            None,
            "",
            "x",
            "relu",
            "Dense",
            [],
            {},
            [None, 10**9, 10**9, 1],
            [3, 3],
            {"class_name": "Dense", "config": {"units": 10**9}},
            {"class_name": "Sequential", "config": {"layers": "x"}},
        ]
    ).map(copy.deepcopy),  # a fresh copy: a later edit may go inside it
    st.integers(-(2**70), 2**70),
    st.text(max_size=6),
    st.recursive(
        st.none() | st.booleans() | st.integers(-3, 3) | st.text(max_size=3),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=5,
    ),
)
CLASS_NAMES = st.sampled_from(
    [
        "Sequential",
        "Model",
        "Dense",
        "Conv2D",
        "InputLayer",
        "BasicBlock",
        "Bottleneck",
        "BatchNormalization",
        "Embedding",
        "LSTM",
        "Bidirectional",
        "TimeDistributed",
        "Add",
        "Flatten",
        "Reshape",
        "OnnxGraph",
        "os.system",
        "glassnet.models.model.Model",
    ]
)


def _nodes(value: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """Every (path, value) in a JSON document, the document itself first."""
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nodes(item, (*path, index))


def _parent(document: Any, path: tuple) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


def _mutate(data: st.DataObject, document: dict[str, Any]) -> None:
    """One edit somewhere in ``document``, in place; half the time of a whole number (the
    sizes: units, filters, shapes), where an edit asks for the most memory."""
    nodes = list(_nodes(document))[1:]
    numbers = [(p, v) for p, v in nodes if isinstance(v, int) and not isinstance(v, bool)]
    if numbers and data.draw(st.booleans(), label="a number"):
        nodes = numbers
    path, value = nodes[data.draw(st.integers(0, len(nodes) - 1), label="node")]
    parent, key = _parent(document, path), path[-1]
    edit = data.draw(
        st.sampled_from(["replace", "delete", "swap", "scale", "rename", "deepen"]), label="edit"
    )
    if edit == "delete":
        del parent[key]
    elif edit == "swap" and isinstance(value, list):  # a list becomes an object
        parent[key] = {str(i): item for i, item in enumerate(value)}
    elif edit == "swap" and isinstance(value, dict):  # an object becomes a list
        parent[key] = list(value.values())
    elif edit == "scale" and isinstance(value, int) and not isinstance(value, bool):
        parent[key] = value * data.draw(st.sampled_from([-1, 10**3, 10**9, 2**40, 10**20]))
    elif edit == "rename" and isinstance(value, dict) and "class_name" in value:
        value["class_name"] = data.draw(CLASS_NAMES)
    elif edit == "deepen":
        parent[key] = [[[[value]]]]
    else:
        parent[key] = data.draw(NASTY_VALUES, label="value")


@FUZZ
@given(data=st.data())
def test_edited_config_loads_or_is_refused(saved, data):
    name = data.draw(st.sampled_from(sorted(saved)), label="model")
    files = dict(saved[name])
    document = json.loads(files["config.json"])
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        _mutate(data, document)
    files["config.json"] = json.dumps(document).encode()
    load_or_refuse(files)


@FUZZ
@given(data=st.data())
def test_edited_weights_header_loads_or_is_refused(saved, data):
    """Edits of the safetensors header's JSON (shapes, dtypes, offsets, names), written back
    with a correct length, or another model's weights under this config."""
    name = data.draw(st.sampled_from(sorted(saved)), label="model")
    files = dict(saved[name])
    if data.draw(st.booleans(), label="other model's weights"):
        files["weights.safetensors"] = saved[data.draw(st.sampled_from(sorted(saved)))][
            "weights.safetensors"
        ]
    else:
        blob = files["weights.safetensors"]
        length = int.from_bytes(blob[:8], "little")
        header = json.loads(blob[8 : 8 + length])
        for _ in range(data.draw(st.integers(1, 3), label="edits")):
            _mutate(data, header)
        text = json.dumps(header).encode()
        files["weights.safetensors"] = len(text).to_bytes(8, "little") + text + blob[8 + length :]
    load_or_refuse(files)


# ---------------------------------------------------------------------------- byte damage
def _damage(data: st.DataObject, blob: bytes) -> bytes:
    """``blob`` with bytes flipped, cut off, or inserted; the first bytes (a safetensors
    header's length, a JSON object's start) are hit more often than the rest."""
    kind = data.draw(st.sampled_from(["flip", "cut", "insert"]), label="damage")
    head = min(len(blob), 160)

    def position(end: int) -> int:
        near_start = data.draw(st.booleans(), label="near start")
        return data.draw(st.integers(0, max((head if near_start else end) - 1, 0)))

    if kind == "cut":
        return blob[: position(len(blob))]
    if kind == "insert":
        at = position(len(blob))
        return blob[:at] + data.draw(st.binary(min_size=1, max_size=8)) + blob[at:]
    damaged = bytearray(blob)
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        at = position(len(blob))
        damaged[at] ^= data.draw(st.integers(1, 255), label="xor")
    return bytes(damaged)


@FUZZ
@given(data=st.data())
def test_damaged_bytes_load_or_are_refused(saved, data):
    name = data.draw(st.sampled_from(sorted(saved)), label="model")
    files = dict(saved[name])
    target = data.draw(st.sampled_from(sorted(files)), label="file")
    files[target] = _damage(data, files[target])
    load_or_refuse(files)


@FUZZ
@given(data=st.data())
def test_damaged_zip_loads_or_is_refused(saved, data):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in saved[data.draw(st.sampled_from(sorted(saved)))].items():
            zf.writestr(name, blob)
    load_or_refuse({"model.zip": _damage(data, buffer.getvalue())}, as_zip=True)
