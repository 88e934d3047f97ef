"""Saving and loading models: ``config.json`` for the architecture, safetensors for the numbers.

A saved model is a folder (or, when the path ends in ``.zip``, one zip file) holding:

* ``config.json`` — format version, every layer's class name and ``get_config()``, the input
  shape, compile settings, class names and preprocessing; plain JSON a person can read;
* ``weights.safetensors`` — the state dict (``"dense.kernel" -> array``);
* ``optimizer.safetensors`` — the optimizer's state, when the model was trained.

Loading rebuilds the model from a registry of known classes: nothing in the files is ever
executed or unpickled, so a model file from a stranger cannot run code. Files are written to a
temporary name and renamed into place, so a crash never leaves half a model behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from typing import Any

import numpy as np

from glassnet import layers as layers_module
from glassnet import losses as losses_module
from glassnet import metrics as metrics_module
from glassnet import optimizers as optimizers_module

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
        "input_shape": list(model.input_shape) if model.input_shape is not None else None,
        "class_names": model.class_names,
        "preprocessing": getattr(model, "preprocessing", None),
    }
    if model.optimizer is not None and model.loss is not None:
        config["compile"] = {
            "optimizer": {
                "class_name": type(model.optimizer).__name__,
                "config": model.optimizer.get_config(),
            },
            "loss": losses_module.serialize(model.loss),
            "metrics": [m.name for m in model.compiled_metrics],
        }
    if extra:
        config.update(extra)
    return config


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
def read_files(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """The raw files of a saved model (folder or zip), with a clear error when it is not one."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: '{path}' does not exist. Check the path.")
    names = (CONFIG, WEIGHTS, OPTIMIZER)
    if os.path.isdir(path):
        files = {}
        for name in names:
            full = os.path.join(path, name)
            if os.path.exists(full):
                with open(full, "rb") as f:
                    files[name] = f.read()
    else:
        try:
            with zipfile.ZipFile(path) as zf:
                files = {n: zf.read(n) for n in names if n in zf.namelist()}
        except zipfile.BadZipFile as err:
            raise ValueError(
                f"load_model: '{path}' is neither a model folder nor a valid zip file ({err}). "
                "It may be truncated or not a glassnet model; save the model again."
            ) from err
    for required in (CONFIG, WEIGHTS):
        if required not in files:
            raise ValueError(
                f"load_model: '{path}' is not a complete glassnet model: {required} is missing."
            )
    return files


def parse_config(data: bytes, where: str) -> dict[str, Any]:
    """config.json as a dict, checked for the glassnet format and a readable version."""
    try:
        config = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"load_model: '{where}' is not valid JSON ({err}).") from err
    if not isinstance(config, dict) or config.get("format") != "glassnet":
        raise ValueError(f"load_model: '{where}' is not a glassnet model configuration.")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ValueError(
            f"load_model: '{where}' has format version {version!r}; this glassnet reads up to "
            f"{FORMAT_VERSION}. Upgrade glassnet to load it."
        )
    return config


def read_arrays(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Arrays from safetensors bytes, naming the file when they are corrupt or truncated."""
    try:
        return dict(_safetensors().load(data))
    except Exception as err:  # safetensors raises its own error type for every corruption
        raise ValueError(
            f"load_model: corrupt weights file '{where}': {err}. The file may be truncated or "
            "not a safetensors file; save the model again."
        ) from err


def build_model(config: dict[str, Any], where: str) -> Any:
    """A new, built model from a parsed config (classes come from the layer registry only)."""
    try:
        model = layers_module.deserialize(config["model"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"load_model: cannot rebuild the model in '{where}': {err}") from err
    if config.get("input_shape") is not None:
        model.build(tuple(config["input_shape"]))
    model.class_names = config.get("class_names")
    if config.get("preprocessing") is not None:
        model.preprocessing = config["preprocessing"]
    return model


def load_model(path: str | os.PathLike[str], compile: bool = True) -> Any:
    """Rebuild a model saved by ``model.save(path)``: architecture, weights, and (when
    ``compile``) the optimizer with its state, ready to go on training.

    Raises ``ValueError`` naming the file when it is corrupt, truncated or mismatched.
    """
    path = os.fspath(path)
    files = read_files(path)
    config = parse_config(files[CONFIG], os.path.join(path, CONFIG))
    model = build_model(config, path)
    weights = read_arrays(files[WEIGHTS], os.path.join(path, WEIGHTS))
    try:
        model.load_state_dict(weights, strict=True)
    except (KeyError, ValueError, RuntimeError) as err:
        raise ValueError(
            f"load_model: the weights in '{os.path.join(path, WEIGHTS)}' do not fit the "
            f"architecture in config.json:\n{err}"
        ) from err
    if compile and "compile" in config:
        compile_model_from_config(model, config["compile"])
        if OPTIMIZER in files:
            state = read_arrays(files[OPTIMIZER], os.path.join(path, OPTIMIZER))
            model._build_optimizer()
            model.optimizer.load_state_dict(state)
    return model


def compile_model_from_config(model: Any, settings: dict[str, Any]) -> None:
    """Re-run ``compile`` from the saved settings (known classes only)."""
    opt = settings["optimizer"]
    cls = getattr(optimizers_module, opt["class_name"], None)
    if not (isinstance(cls, type) and issubclass(cls, optimizers_module.Optimizer)):
        raise ValueError(f"load_model: unknown optimizer class {opt['class_name']!r}.")
    model.compile(
        optimizer=cls.from_config(opt["config"]),
        loss=losses_module.deserialize(settings["loss"]),
        metrics=[
            metrics_module.get(m, settings["loss"]["config"].get("name"))
            for m in settings["metrics"]
        ],
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


__all__ = ["load_model", "load_weights", "save_model", "save_weights"]
