"""Training checkpoints: everything needed to continue a run exactly where it stopped.

After each epoch ``fit(..., checkpoint_dir=d)`` saves the model, the optimizer's state, the
epoch, the history so far and the state of every random generator (shuffling, dropout) into
``d/epoch-0003.glassnet``, then points ``d/latest.json`` at it. Both writes are atomic, so a
crash mid-save leaves the previous checkpoint intact. ``fit(..., resume=True)`` loads it back:
two epochs, a resume and two more give the same weights as four epochs straight.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

import numpy as np

from glassnet.backend import get_rng
from glassnet.models import saving

LATEST = "latest.json"


def _generators(model: Any, data: Any = None) -> dict[str, np.random.Generator]:
    """Every random generator the training run draws from, by a stable name: the engine's,
    each layer's own (a seeded Dropout), and the training data's (a seeded shuffle)."""
    found = {"global": get_rng()}
    for path, layer in model.named_layers():
        for attr, value in vars(layer).items():
            if isinstance(value, np.random.Generator):
                found[f"{path or model.name}.{attr}"] = value
    for attr, value in vars(data).items() if hasattr(data, "__dict__") else ():
        if isinstance(value, np.random.Generator):
            found[f"data.{attr}"] = value
    return found


def save(
    model: Any, directory: str, epoch: int, history: Any, data: Any = None, keep: int = 2
) -> str:
    """Write the checkpoint for ``epoch`` (0-based) and return its path; keep the newest
    ``keep`` checkpoints and delete older ones."""
    os.makedirs(directory, exist_ok=True)
    name = f"epoch-{epoch + 1:04d}.glassnet"
    record = {
        "epoch": epoch,
        "history": history.history,
        "history_epochs": history.epoch,
        "random_state": {k: g.bit_generator.state for k, g in _generators(model, data).items()},
    }
    saving.save_model(model, os.path.join(directory, name), extra={"checkpoint": record})
    _write_json_atomically(os.path.join(directory, LATEST), {"checkpoint": name, "epoch": epoch})
    old = sorted(
        entry for entry in os.listdir(directory) if entry.startswith("epoch-") and entry != name
    )
    for entry in old[: max(len(old) - (keep - 1), 0)]:
        shutil.rmtree(os.path.join(directory, entry), ignore_errors=True)
    return os.path.join(directory, name)


def _write_json_atomically(path: str, document: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".latest-")
    with os.fdopen(fd, "w") as f:
        json.dump(document, f)
    os.replace(tmp, path)


def restore_latest(model: Any, directory: str, data: Any = None) -> tuple[int, dict, list] | None:
    """Load the newest checkpoint in ``directory`` into ``model`` (weights, optimizer state,
    random generators). Returns ``(next_epoch, history, history_epochs)``, or None when the
    directory holds no checkpoint yet (training then starts from the beginning)."""
    pointer = os.path.join(directory, LATEST)
    if not os.path.exists(pointer):
        return None
    try:
        with open(pointer) as f:
            latest = json.load(f)
        path = os.path.join(directory, latest["checkpoint"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"resume: '{pointer}' is unreadable ({err}). Delete it to start from the beginning."
        ) from err
    files = saving.read_files(path)
    config = saving.parse_config(files[saving.CONFIG], os.path.join(path, saving.CONFIG))
    record = config.get("checkpoint")
    if record is None:
        raise ValueError(f"resume: '{path}' is a saved model but not a training checkpoint.")
    if not model.built and config.get("input_shape") is not None:
        model.build(tuple(config["input_shape"]))
    model.load_state_dict(saving.read_arrays(files[saving.WEIGHTS], path), strict=True)
    if saving.OPTIMIZER in files:
        model._build_optimizer()
        model.optimizer.load_state_dict(saving.read_arrays(files[saving.OPTIMIZER], path))
    generators = _generators(model, data)
    for key, state in record["random_state"].items():
        if key in generators:
            generators[key].bit_generator.state = state
    return record["epoch"] + 1, record["history"], record["history_epochs"]
