"""Saving and loading models: ``config.json`` for the architecture, safetensors for the numbers.

A saved model is a folder (or, when the path ends in ``.zip``, one zip file) holding:

* ``config.json`` — format version, every layer's class name and ``get_config()``, the input
  shape, compile settings, class names and preprocessing; plain JSON a person can read;
* ``weights.safetensors`` — the state dict (``"dense.kernel" -> array``);
* ``optimizer.safetensors`` — the optimizer's state, when the model was trained.

Loading rebuilds the model from a registry of known classes: nothing in the files is ever
executed or unpickled, so a model file from a stranger cannot run code. Files are written to a
temporary name and renamed into place, so a crash never leaves half a model behind.

Nor can a stranger's file make loading allocate what it does not hold: every part is checked
before it is used, and each problem raises ``ModelFileError`` (a ``ValueError``) naming the
file, the layer or weight, and the value:

* sizes first: config.json is at most ``MAX_CONFIG_BYTES``, and a zip entry may not claim to
  unpack to more than deflate can give;
* config.json: valid JSON nested at most ``MAX_CONFIG_DEPTH`` levels (checked without
  recursion), the glassnet format in a version this glassnet reads, top-level fields of the
  right types, integers within int64, input shapes of at most ``MAX_INPUT_VALUES`` numbers;
* weights.safetensors: its header against the file's length, then safetensors' own checks;
* every weight the architecture asks for (``Layer.add_weight``) against the tensors the weights
  file holds, before its array exists (``_WeightBudget``): a config edited to
  ``"units": 2000000000`` is refused by name instead of asking for 30 GiB;
* then, as before, the weights against the architecture key by key (``load_state_dict``) and
  the compile settings and optimizer state; metrics come back with their arguments from
  ``{"class_name", "config"}`` (built-in classes only, at most ``MAX_METRIC_VALUES`` counts).

The format itself is unchanged: every file glassnet wrote before loads as it did.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
import zipfile
import zlib
from collections import Counter
from typing import Any

import numpy as np

from glassnet import layers as layers_module
from glassnet import losses as losses_module
from glassnet import metrics as metrics_module
from glassnet import optimizers as optimizers_module
from glassnet.checks import is_int, is_real
from glassnet.layers.layer import Layer, weight_checks

CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
OPTIMIZER = "optimizer.safetensors"
FORMAT_VERSION = 1


def _safetensors() -> Any:
    from safetensors import numpy as st  # imported lazily: only saving and loading need it

    return st


# ---------------------------------------------------------------------------- writing
def model_config(model: Any, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document describing ``model`` (architecture, compile settings, labels)."""
    from glassnet import __version__

    config: dict[str, Any] = {
        "format": "glassnet",
        "format_version": FORMAT_VERSION,
        "glassnet_version": __version__,
        "model": layers_module.serialize(model),
        "input_shape": _input_shape(model),
        "class_names": model.class_names,
        "preprocessing": getattr(model, "preprocessing", None),
    }
    if model.optimizer is not None and model.loss is not None:
        # Several outputs keep compile's structure: a list, or a dict by output name.
        config["compile"] = {
            "optimizer": {
                "class_name": type(model.optimizer).__name__,
                "config": model.optimizer.get_config(),
            },
            "loss": _each(model.loss, losses_module.serialize),
            "loss_weights": _each(model.loss_weights, float),
            "metrics": _saved_metrics(model),
        }
    if extra:
        config.update(extra)
    return config


def _each(spec: Any, convert: Any, top: bool = True) -> Any:
    """``spec`` (one entry, or a list of them, or at the top a dict by output name; nested
    lists for metrics per output) with ``convert`` applied to every entry that is not None."""
    if top and isinstance(spec, dict) and not _is_serialized(spec):
        return {str(key): _each(value, convert, False) for key, value in spec.items()}
    if isinstance(spec, (list, tuple)):
        return [_each(item, convert, False) for item in spec]
    return None if spec is None else convert(spec)


def _saved_metrics(model: Any) -> Any:
    """The compiled metrics: for one output each as resolved ("accuracy" saved as the
    accuracy that fits the loss), for several as compile was given them."""
    plan = model._plan
    if plan is not None and len(plan.names) == 1:
        return [metrics_module.serialize(m) for m in model.compiled_metrics]
    return _each(model._metrics_spec or [], _metric_entry)


def _metric_entry(metric: Any) -> Any:
    """A metric as saved: its name as given ("accuracy", resolved by the loss again on
    load), or a Metric object's {"class_name", "config"}."""
    return metric if isinstance(metric, str) else metrics_module.serialize(metric)


def _input_shape(model: Any) -> list[int | None] | None:
    """The one input's shape, batch first; None for several inputs (a functional model knows
    them from its own graph) or an unknown one."""
    shape = model.input_shape
    if shape is None or (shape and isinstance(shape[0], (tuple, list))):
        return None
    return list(shape)


def architecture_json(model: Any, **kwargs: Any) -> str:
    """``model.to_json()``: config.json's document without the compile settings."""
    config = model_config(model)
    config.pop("compile", None)
    return json.dumps(config, **kwargs)


def model_from_json(json_string: str | bytes) -> Any:
    """A new model with fresh weights from ``model.to_json()`` (Keras's name), checked as
    ``load_model`` checks config.json: nothing in the string is executed.

    Raises:
        ModelFileError: the string is not an architecture glassnet wrote.
    """
    data = json_string.encode() if isinstance(json_string, str) else bytes(json_string)
    return build_model(parse_config(data, "model_from_json"), "model_from_json")


def _files(model: Any, include_optimizer: bool, extra: dict[str, Any] | None) -> dict[str, bytes]:
    if not model.built:
        raise ValueError(
            f"save: model '{model.name}' has no weights yet. Build it first, e.g. "
            "model.build((None, 28, 28, 1)), or train it, then save."
        )
    st = _safetensors()
    config = model_config(model, extra)
    files = {
        CONFIG: json.dumps(config, indent=2).encode(),
        WEIGHTS: st.save(_contiguous(model.state_dict()), metadata={"format": "glassnet"}),
    }
    optimizer = model.optimizer
    if include_optimizer and optimizer is not None and getattr(model, "_optimizer_built", False):
        files[OPTIMIZER] = st.save(_contiguous(optimizer.state_dict()))
    return files


def _contiguous(arrays: dict[str, Any]) -> dict[str, np.ndarray]:
    # np.array(order="C"), not ascontiguousarray, which turns 0-d counters into shape (1,).
    return {k: np.array(v, order="C", copy=None) for k, v in arrays.items()}


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    include_optimizer: bool = True,
    extra: dict[str, Any] | None = None,
) -> None:
    """Write ``model`` to ``path`` atomically: a folder, or one zip file if it ends in ``.zip``.

    ``extra`` adds keys to config.json (checkpoints record the epoch there).
    """
    path = os.fspath(path)
    files = _files(model, include_optimizer, extra)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    if path.endswith(".zip"):
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=".saving-", suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
                for name, data in files.items():
                    zf.writestr(name, data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return
    tmp = tempfile.mkdtemp(dir=parent, prefix=".saving-")
    try:
        for name, data in files.items():
            with open(os.path.join(tmp, name), "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if os.path.isdir(path):
            old = tempfile.mkdtemp(dir=parent, prefix=".replaced-")
            os.replace(path, os.path.join(old, "model"))
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------- reading
class ModelFileError(ValueError):
    """A model file glassnet will not load: corrupt, truncated, edited to ask for more than it
    holds, or not written by glassnet.

    The message names the file, the layer or weight and the value, and says what to do. It is a
    ``ValueError``, so code that caught ``ValueError`` from ``load_model`` still catches it.
    """


#: config.json describes an architecture in kilobytes (a ResNet-152's is 15 KB); one this large
#: describes no model, and parsing it would already take ten times its size in memory.
MAX_CONFIG_BYTES = 16 * 2**20
#: How deeply config.json may nest lists and objects. A ResNet-152 nests 7 levels; rebuilding a
#: model walks the nesting recursively, so a file nested 100,000 deep is refused first.
MAX_CONFIG_DEPTH = 100
#: The largest integer config.json may hold in the architecture (int64's): no size or setting
#: is larger, and NumPy cannot take a larger one.
MAX_CONFIG_INT = 2**63 - 1
#: Numbers in the input batch an architecture may declare (1 GiB of float32): building a
#: subclassed model runs a zero batch of its input shape through it (``Model.build``), and a
#: served model resizes every upload to ``preprocessing.image_size`` (4 channels at most).
MAX_INPUT_VALUES = 2**28
#: Numbers the architecture may ask for beyond the tensors in weights.safetensors (or the file's
#: own size, if larger), so a small mismatch still reaches ``load_state_dict``'s full report.
SPARE_WEIGHT_VALUES = 2**20
#: Counts a saved metric may keep (AUC: thresholds × labels; Keras's default is 200 thresholds).
MAX_METRIC_VALUES = 2**24
#: Deflate never packs more than 1032 bytes into one; a zip entry that claims to unpack to
#: more is damaged or a zip bomb.
_DEFLATE_RATIO = 1032

_RESAVE = "Re-save the model with glassnet.models.save_model (model.save)."
_DAMAGED = "The file was damaged, edited by hand, or not written by glassnet."
#: What building a layer from a bad config raises: the config's problem, not glassnet's.
_BAD_CONFIG_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
    ZeroDivisionError,
    NotImplementedError,
)


def read_files(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """The raw files of a saved model (folder or zip), with a clear error when it is not one.

    Sizes are checked before anything is read: config.json may not exceed
    ``MAX_CONFIG_BYTES``, and a zip entry may not claim to unpack to more than deflate can give.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ModelFileError: it is not a complete, readable glassnet model.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: '{path}' does not exist. Check the path.")
    files = _read_folder(path) if os.path.isdir(path) else _read_zip(path)
    for required in (CONFIG, WEIGHTS):
        if required not in files:
            raise ModelFileError(
                f"load_model: '{path}' is not a complete glassnet model: {required} is missing. "
                f"{_RESAVE}"
            )
    return files


def _read_folder(path: str) -> dict[str, bytes]:
    files = {}
    for name in (CONFIG, WEIGHTS, OPTIMIZER):
        full = os.path.join(path, name)
        if not os.path.lexists(full):
            continue
        if not os.path.isfile(full):
            raise ModelFileError(f"load_model: '{full}' is not a regular file. {_DAMAGED}")
        _check_size(full, name, os.path.getsize(full))
        with open(full, "rb") as f:
            files[name] = f.read()
    return files


def _read_zip(path: str) -> dict[str, bytes]:
    files = {}
    try:
        with zipfile.ZipFile(path) as zf:
            entries = {info.filename: info for info in zf.infolist()}
            for name in (CONFIG, WEIGHTS, OPTIMIZER):
                if name in entries:
                    _check_zip_entry(path, entries[name])
                    files[name] = zf.read(entries[name])
    except ModelFileError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        RuntimeError,
        NotImplementedError,
        ValueError,
        OSError,
    ) as err:
        # zipfile reports damage with each of these (a bad CRC, a cut deflate stream, a bad
        # offset, an encrypted or unsupported entry).
        raise ModelFileError(
            f"load_model: '{path}' is neither a model folder nor a valid zip file "
            f"({type(err).__name__}: {err}). It may be truncated or not a glassnet model; "
            "save the model again."
        ) from err
    return files


def _check_zip_entry(path: str, info: zipfile.ZipInfo) -> None:
    where = f"{path}:{info.filename}"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ModelFileError(
            f"load_model: '{where}' is packed with zip compression method "
            f"{info.compress_type}; glassnet writes deflate. {_DAMAGED}"
        )
    packed = info.compress_size
    most = packed if info.compress_type == zipfile.ZIP_STORED else _DEFLATE_RATIO * packed + 1024
    if info.file_size > most:
        raise ModelFileError(
            f"load_model: '{where}' claims to unpack {packed:,} bytes into {info.file_size:,}, "
            f"more than the zip format can give. {_DAMAGED}"
        )
    _check_size(where, info.filename, info.file_size)


def _check_size(where: str, name: str, size: int) -> None:
    if name == CONFIG and size > MAX_CONFIG_BYTES:
        raise ModelFileError(
            f"load_model: '{where}' is {size:,} bytes; a glassnet config.json describes an "
            f"architecture in kilobytes (at most {MAX_CONFIG_BYTES:,} bytes). {_DAMAGED}"
        )


def parse_config(data: bytes, where: str) -> dict[str, Any]:
    """config.json as a dict, checked before any of it is used: valid JSON of at most
    ``MAX_CONFIG_DEPTH`` levels, the glassnet format in a readable version, and the top-level
    fields of the right types (the input shape, class names, preprocessing).

    Raises:
        ModelFileError: naming ``where`` and the field.
    """
    _check_size(where, CONFIG, len(data))
    try:
        config = json.loads(data.decode("utf-8"))
    except RecursionError:
        raise ModelFileError(
            f"load_model: '{where}' nests lists or objects too deeply to read (glassnet writes "
            f"at most a few levels). {_DAMAGED}"
        ) from None
    except ValueError as err:  # bad UTF-8, bad JSON, an integer of thousands of digits
        raise ModelFileError(
            f"load_model: '{where}' is not valid JSON ({err}). {_DAMAGED}"
        ) from err
    if not isinstance(config, dict) or config.get("format") != "glassnet":
        raise ModelFileError(
            f"load_model: '{where}' is not a glassnet model configuration (its top level must "
            f'be an object with "format": "glassnet"). {_DAMAGED}'
        )
    version = config.get("format_version")
    if not is_int(version) or version < 1:
        raise ModelFileError(
            f"load_model: '{where}' has format version {version!r}; glassnet writes whole "
            f"numbers from 1. {_DAMAGED}"
        )
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"load_model: '{where}' has format version {version!r}; this glassnet reads up to "
            f"{FORMAT_VERSION}. Upgrade glassnet to load it."
        )
    _check_nesting(config, where)
    _check_fields(config, where)
    return config


def _check_nesting(config: dict[str, Any], where: str) -> None:
    """Refuse nesting deeper than ``MAX_CONFIG_DEPTH`` anywhere, and integers beyond
    ``MAX_CONFIG_INT`` in the parts that build the model. Iterative, so deep input cannot make
    it recurse; only containers are stacked, so a long list of numbers costs no memory."""
    bounded = ("model", "input_shape", "preprocessing", "compile")
    # (container, its depth, its path); the path is only for the error message.
    stack: list[tuple[Any, int, tuple[Any, ...]]] = [(config, 1, ())]
    while stack:
        container, depth, path = stack.pop()
        if depth > MAX_CONFIG_DEPTH:
            raise ModelFileError(
                f"load_model: '{where}' nests lists or objects more than {MAX_CONFIG_DEPTH} "
                f"levels deep (at {_json_path(path[:8])}…); glassnet writes a few levels. "
                f"{_DAMAGED}"
            )
        items = container.items() if isinstance(container, dict) else enumerate(container)
        for key, value in items:
            if isinstance(value, (dict, list)):
                stack.append((value, depth + 1, (*path, key)))
            elif is_int(value) and abs(value) > MAX_CONFIG_INT and (*path, key)[0] in bounded:
                raise ModelFileError(
                    f"load_model: '{where}' holds an integer of {len(str(abs(value)))} digits "
                    f"at {_json_path((*path, key))}: larger than any size or setting glassnet "
                    f"takes (at most {MAX_CONFIG_INT:,}). {_DAMAGED}"
                )


def _shown(value: Any) -> str:
    """``repr(value)`` cut to a line: a stranger's value may be megabytes."""
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:117]}..."


def _json_path(path: tuple[Any, ...]) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path)[1:]


def _check_fields(config: dict[str, Any], where: str) -> None:
    """The top-level fields everything that reads a model relies on, each of the right type."""

    def refuse(field: str, expected: str) -> ModelFileError:
        return ModelFileError(
            f"load_model: '{where}' has {field}={_shown(config[field])}; expected {expected}. "
            f"{_DAMAGED}"
        )

    if "model" not in config:
        raise ModelFileError(f"load_model: '{where}' has no 'model' entry. {_DAMAGED}")
    model = config["model"]
    if not isinstance(model, dict) or not isinstance(model.get("class_name"), str):
        raise refuse("model", 'an object {"class_name": ..., "config": {...}}')
    shape = config.get("input_shape")
    if shape is not None:
        if not (
            isinstance(shape, list)
            and 1 <= len(shape) <= 32
            and all(n is None or (is_int(n) and n >= 1) for n in shape)
        ):
            raise refuse("input_shape", "null or a list of positive integers and nulls")
        # The batch counts too: a subclassed model is built on a batch of that size.
        if math.prod(n for n in shape if n is not None) > MAX_INPUT_VALUES:
            raise refuse("input_shape", f"at most {MAX_INPUT_VALUES:,} numbers in one batch")
    names = config.get("class_names")
    if names is not None and not (
        isinstance(names, list)
        and all(isinstance(n, (str, int, float)) or n is None for n in names)
    ):
        raise refuse("class_names", "null or a list of names")
    preprocessing = config.get("preprocessing")
    if preprocessing is not None:
        if not isinstance(preprocessing, dict):
            raise refuse("preprocessing", "null or an object of image loading settings")
        size = preprocessing.get("image_size")
        if size is not None and not (
            isinstance(size, list)
            and len(size) == 2
            and all(is_int(n) and n >= 1 for n in size)
            and size[0] * size[1] <= MAX_INPUT_VALUES // 4
        ):
            raise refuse(
                "preprocessing",
                f"an image_size of [height, width], at most {MAX_INPUT_VALUES // 4:,} pixels",
            )
    _check_input_layers(model, where)


def _check_input_layers(model: dict[str, Any], where: str) -> None:
    """Every ``Input`` in the architecture declares at most ``MAX_INPUT_VALUES`` numbers per
    batch: a subclassed model after it works out its output shape by running a zero batch."""
    from glassnet.layers import InputLayer

    stack: list[Any] = [model]
    while stack:  # the nesting is bounded already (_check_nesting)
        value = stack.pop()
        items = value.values() if isinstance(value, dict) else value
        stack.extend(item for item in items if isinstance(item, (dict, list)))
        if not (
            isinstance(value, dict)
            and isinstance(value.get("class_name"), str)
            and isinstance(value.get("config"), dict)
        ):
            continue
        try:
            cls = layers_module.get(value["class_name"])
        except ValueError:
            continue  # deserialize names an unknown class
        if not issubclass(cls, InputLayer):
            continue
        shape, batch = value["config"].get("shape"), value["config"].get("batch_size")
        dims = [shape] if is_int(shape) else shape if isinstance(shape, list) else []
        numbers = math.prod(n for n in [*dims, batch] if is_int(n) and n > 0)
        if numbers > MAX_INPUT_VALUES:
            raise ModelFileError(
                f"load_model: '{where}' declares an Input of shape {_shown(shape)} and "
                f"batch_size {_shown(batch)}: {numbers:,} numbers per batch, more than the "
                f"{MAX_INPUT_VALUES:,} glassnet builds a model for. {_DAMAGED}"
            )


def read_arrays(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Arrays from safetensors bytes, naming the file when they are corrupt or truncated.

    The header is checked against the file's length first, so a header that places a tensor
    beyond the end of the file is named as such. safetensors itself validates everything else
    (and copies at most the file's size); nothing is unpickled.

    Raises:
        ModelFileError: naming ``where``; the message starts "corrupt weights file".
    """
    _check_header(data, where)
    try:
        return dict(_safetensors().load(data))
    except MemoryError:
        raise
    except Exception as err:  # safetensors raises its own error type for every corruption
        raise _corrupt(where, str(err)) from err


def _corrupt(where: str, problem: str) -> ModelFileError:
    return ModelFileError(
        f"load_model: corrupt weights file '{where}': {problem}. The file may be truncated or "
        "not a safetensors file; save the model again."
    )


def _check_header(data: bytes, where: str) -> None:
    """The safetensors layout (8 bytes giving the header's length N, N bytes of JSON, the
    tensors' bytes) against the length of ``data``, for a message that says what is missing."""
    if len(data) < 8:
        raise _corrupt(
            where,
            f"it is {len(data)} bytes long, shorter than the 8 bytes that give the length of a "
            "safetensors header",
        )
    length = int.from_bytes(data[:8], "little")
    if length > len(data) - 8:
        raise _corrupt(
            where,
            f"its header claims to be {length:,} bytes long but only {len(data) - 8:,} bytes "
            "follow",
        )
    try:
        header = json.loads(data[8 : 8 + length])
    except (RecursionError, ValueError):
        return  # safetensors names the problem
    if not isinstance(header, dict):
        return
    room = len(data) - 8 - length
    for key, entry in header.items():
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (
            isinstance(offsets, list)
            and len(offsets) == 2
            and all(is_int(n) for n in offsets)
            and offsets[1] > room
        ):
            raise _corrupt(
                where,
                f"its header places tensor '{key}' at bytes {offsets[0]:,} to {offsets[1]:,} of "
                f"the data, but the file holds only {room:,} bytes of data",
            )


class _WeightBudget:
    """The weights a model being loaded may create, checked as each is asked for and before
    its array exists: one per tensor in weights.safetensors, of that tensor's shape, and
    besides those at most as many numbers as the file holds (at least
    ``SPARE_WEIGHT_VALUES``), so that a config edited to ``"units": 2000000000`` is refused by
    name instead of allocating 30 GiB, while a small mismatch still reaches
    ``load_state_dict``'s report of every mismatched weight."""

    def __init__(self, arrays: dict[str, np.ndarray], where: str, weights_where: str) -> None:
        self.where, self.weights_where = where, weights_where
        self.shapes = {key: tuple(array.shape) for key, array in arrays.items()}
        self.unused = Counter(self.shapes.values())
        self.spare = max(SPARE_WEIGHT_VALUES, sum(int(a.size) for a in arrays.values()))
        self.refusal: ModelFileError | None = None

    def claim(self, layer: Layer, name: str, shape: Any) -> None:
        """Account for ``layer``'s weight ``name`` of ``shape``, or refuse it."""
        dims = _plain_shape(shape)
        if dims is None:
            return  # not a shape at all: add_weight refuses it without allocating
        if self.unused[dims] > 0:
            self.unused[dims] -= 1
            return
        count = math.prod(dims)
        if count <= self.spare:
            self.spare -= count
            return
        same_name = [
            f"{key} {shape}"
            for key, shape in self.shapes.items()
            if key == name or key.endswith(f".{name}")
        ]
        held = (
            f"; its '{name}' weights are {', '.join(same_name[:4])}"
            f"{', …' if len(same_name) > 4 else ''}"
            if same_name
            else ""
        )
        self.refusal = ModelFileError(
            f"load_model: config.json in '{self.where}' asks {layer._where} for a weight "
            f"'{name}' of shape {dims} ({count:,} numbers), but '{self.weights_where}' holds no "
            f"weight of that shape{held}. Refused before allocating it: the config was edited or "
            f"belongs with other weights. {_RESAVE}"
        )
        raise self.refusal


def _plain_shape(shape: Any) -> tuple[int, ...] | None:
    if is_int(shape):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(is_int(n) and n >= 0 for n in shape):
        return None
    return tuple(int(n) for n in shape)


#: The budget of the model being loaded on this thread, or None (then weights are not checked).
_loading = threading.local()


def _claim(layer: Layer, name: str, shape: Any) -> None:
    """``Layer.add_weight``'s check (``layers.layer.weight_checks``): while this thread loads a
    model, each weight is checked against the file's budget (``_WeightBudget``) before its
    array exists, whichever layer asks and however deeply nested."""
    budget = getattr(_loading, "budget", None)
    if budget is not None:
        budget.claim(layer, name, shape)


if _claim not in weight_checks:
    weight_checks.append(_claim)


def build_model(
    config: dict[str, Any], where: str, arrays: dict[str, np.ndarray] | None = None
) -> Any:
    """A new, built model from a parsed config (classes come from the layer registry only).

    With ``arrays`` (the weights file's tensors), every weight the architecture asks for is
    checked against them before it is allocated (``_WeightBudget``).

    Raises:
        ModelFileError: the config does not describe a model glassnet can build, or asks for
            weights the file does not hold.
    """
    from glassnet.models.model import Model  # model.py imports this module

    weights_where = os.path.join(where, WEIGHTS)
    budget = None if arrays is None else _WeightBudget(arrays, where, weights_where)
    outer = getattr(_loading, "budget", None)
    _loading.budget = budget
    try:
        model = layers_module.deserialize(config["model"])
        if not isinstance(model, Model):
            raise ValueError(
                f"its 'model' entry describes a {type(model).__name__} layer, not a model"
            )
        if config.get("input_shape") is not None:
            model.build(tuple(config["input_shape"]))
    except (MemoryError, RecursionError):
        raise  # the checks above exist so that these cannot happen: never hide one
    except _BAD_CONFIG_ERRORS as err:
        if budget is not None and budget.refusal is not None:
            raise budget.refusal from None
        raise ModelFileError(
            f"load_model: cannot rebuild the model in '{where}': {err}\n{_RESAVE}"
        ) from err
    finally:
        _loading.budget = outer
    if budget is not None and budget.refusal is not None:  # a layer caught it and went on
        raise budget.refusal
    model.class_names = config.get("class_names")
    if config.get("preprocessing") is not None:
        model.preprocessing = config["preprocessing"]
    return model


def load_model(path: str | os.PathLike[str], compile: bool = True) -> Any:
    """Rebuild a model saved by ``model.save(path)``: architecture, weights, and (when
    ``compile``) the optimizer with its state, ready to go on training.

    A file from a stranger is safe to load: nothing in it is executed or unpickled, and every
    part is checked before it is used (see the module docstring).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ModelFileError: (a ``ValueError``) the file is corrupt, truncated or mismatched, or asks
            for more than it holds; the message names the file, the layer or weight, and the
            value.
    """
    path = os.fspath(path)
    files = read_files(path)
    config = parse_config(files[CONFIG], os.path.join(path, CONFIG))
    weights_where = os.path.join(path, WEIGHTS)
    weights = read_arrays(files[WEIGHTS], weights_where)
    model = build_model(config, path, weights)
    try:
        model.load_state_dict(weights, strict=True)
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        raise ModelFileError(
            f"load_model: the weights in '{weights_where}' do not fit the architecture in "
            f"config.json:\n{err}\n{_RESAVE}"
        ) from err
    if compile and config.get("compile") is not None:
        compile_model_from_config(model, config["compile"], os.path.join(path, CONFIG))
        if OPTIMIZER in files:
            where = os.path.join(path, OPTIMIZER)
            state = read_arrays(files[OPTIMIZER], where)
            try:
                model._build_optimizer()
                model.optimizer.load_state_dict(state)
            except (KeyError, ValueError, TypeError, RuntimeError) as err:
                raise ModelFileError(
                    f"load_model: the optimizer state in '{where}' does not fit the model:\n"
                    f"{err}\nLoad it with compile=False to skip it. {_RESAVE}"
                ) from err
    return model


def compile_model_from_config(model: Any, settings: dict[str, Any], where: str = CONFIG) -> None:
    """Re-run ``compile`` from the saved settings (known classes only).

    Raises:
        ModelFileError: the settings, read from ``where``, are not ones glassnet wrote.
    """

    def refuse(problem: str) -> ModelFileError:
        return ModelFileError(
            f"load_model: cannot compile the model from the 'compile' settings in '{where}': "
            f"{problem}. Load it with compile=False to skip them. {_RESAVE}"
        )

    if not isinstance(settings, dict):
        raise refuse(f"expected an object, found {type(settings).__name__}")
    opt = settings.get("optimizer")
    if not _is_serialized(opt):
        raise refuse("'optimizer' must be an object with a class_name and a config")

    def loss_entry(entry: Any) -> Any:
        if not _is_serialized(entry):
            raise refuse(f"the loss {_shown(entry)} must be an object with a class_name and config")
        return losses_module.deserialize(entry)

    def weight_entry(entry: Any) -> float:
        if not is_real(entry):
            raise refuse(f"a loss weight must be a number, found {_shown(entry)}")
        return float(entry)

    def metric_entry(entry: Any) -> Any:
        # older files hold only names ("accuracy"); now {"class_name", "config"}, as in Keras
        if isinstance(entry, str):
            return entry
        _check_metric(entry, refuse)
        return metrics_module.deserialize(entry)

    cls = getattr(optimizers_module, opt["class_name"], None)
    if not (isinstance(cls, type) and issubclass(cls, optimizers_module.Optimizer)):
        raise refuse(f"unknown optimizer class {opt['class_name']!r}")
    if settings.get("loss") is None:
        raise refuse("it names no loss")
    try:
        loss = _each(settings.get("loss"), loss_entry)
        loss_weights = _each(settings.get("loss_weights"), weight_entry)
        metrics = _each(settings.get("metrics", []), metric_entry)
        model.compile(
            optimizer=cls.from_config(opt.get("config", {})),
            loss=loss,
            loss_weights=loss_weights,
            metrics=metrics,
        )
    except _BAD_CONFIG_ERRORS as err:
        raise refuse(str(err)) from err


def _is_serialized(value: Any) -> bool:
    """Whether ``value`` has the form ``{"class_name": str, "config": {...}}``."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("class_name"), str)
        and isinstance(value.get("config", {}), dict)
    )


def _check_metric(metric: dict[str, Any], refuse: Any) -> None:
    """A saved metric's {"class_name", "config"} has the right types, and asks for at most
    ``MAX_METRIC_VALUES`` counts (AUC keeps thresholds × labels of them, made at once)."""
    if not _is_serialized(metric):
        raise refuse(f"the metric {_shown(metric)} must be an object with a class_name and config")
    sizes = [metric.get("config", {}).get(key) for key in ("num_thresholds", "num_labels")]
    counts = math.prod(n for n in sizes if is_int(n) and n > 0)
    if counts > MAX_METRIC_VALUES:
        raise refuse(
            f"the metric {metric['class_name']} asks for num_thresholds × num_labels = "
            f"{counts:,} counts, more than the {MAX_METRIC_VALUES:,} glassnet loads"
        )


def save_weights(model: Any, path: str | os.PathLike[str]) -> None:
    """Write only the weights (a ``.safetensors`` file), atomically."""
    path = os.fspath(path)
    if not path.endswith(".safetensors"):
        raise ValueError(
            f"save_weights: the file name must end in .safetensors. Received: '{path}'. "
            "Use model.save() for a whole model."
        )
    data = _safetensors().save(_contiguous(model.state_dict()))
    parent = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=".saving-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def load_weights(model: Any, path: str | os.PathLike[str], strict: bool = True) -> Any:
    """Load weights saved by ``save_weights`` (or a model folder/zip) into ``model``."""
    path = os.fspath(path)
    if os.path.isdir(path) or zipfile.is_zipfile(path):
        files = read_files(path)
        data, where = files[WEIGHTS], os.path.join(path, WEIGHTS)
    else:
        if not os.path.exists(path):
            raise FileNotFoundError(f"load_weights: '{path}' does not exist.")
        with open(path, "rb") as f:
            data, where = f.read(), path
    return model.load_state_dict(read_arrays(data, where), strict=strict)


__all__ = ["ModelFileError", "load_model", "load_weights", "save_model", "save_weights"]
