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
    directory holds no checkpoint yet (training then starts from the beginning).

    The files are checked as ``load_model`` checks them, and the training record (epoch,
    history, random states) for its types, so a damaged checkpoint raises ``ValueError``
    (``saving.ModelFileError``) naming the file instead of failing deep inside.
    """
    pointer = os.path.join(directory, LATEST)
    if not os.path.exists(pointer):
        return None
    try:
        with open(pointer) as f:
            latest = json.load(f)
        name = latest["checkpoint"]
        if not isinstance(name, str) or name in ("", ".", "..") or os.path.basename(name) != name:
            raise ValueError(f"'checkpoint' must name a checkpoint in the folder, not {name!r}")
        path = os.path.join(directory, name)
    except (OSError, ValueError, KeyError, TypeError, RecursionError) as err:
        raise ValueError(
            f"resume: '{pointer}' is unreadable ({err}). Delete it to start from the beginning."
        ) from err
    files = saving.read_files(path)
    config = saving.parse_config(files[saving.CONFIG], os.path.join(path, saving.CONFIG))
    record = config.get("checkpoint")
    if record is None:
        raise saving.ModelFileError(
            f"resume: '{path}' is a saved model but not a training checkpoint."
        )
    advice = f"Resume with the model that wrote it, or delete '{directory}' to start afresh."
    _check_record(record, path, advice)
    if not model.built and config.get("input_shape") is not None:
        model.build(tuple(config["input_shape"]))
    weights = saving.read_arrays(files[saving.WEIGHTS], os.path.join(path, saving.WEIGHTS))
    try:
        model.load_state_dict(weights, strict=True)
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        raise saving.ModelFileError(
            f"resume: the weights in '{path}' do not fit this model:\n{err}\n{advice}"
        ) from err
    if saving.OPTIMIZER in files:
        state = saving.read_arrays(files[saving.OPTIMIZER], os.path.join(path, saving.OPTIMIZER))
        try:
            model._build_optimizer()
            model.optimizer.load_state_dict(state)
        except (KeyError, ValueError, TypeError, RuntimeError) as err:
            raise saving.ModelFileError(
                f"resume: the optimizer state in '{path}' does not fit this model:\n{err}\n{advice}"
            ) from err
    generators = _generators(model, data)
    for key, state in record["random_state"].items():
        if key in generators:
            try:
                generators[key].bit_generator.state = state
            except (ValueError, TypeError, KeyError, OverflowError) as err:
                raise saving.ModelFileError(
                    f"resume: '{path}' holds an unusable random state for '{key}' ({err}). {advice}"
                ) from err
    return record["epoch"] + 1, record["history"], record["history_epochs"]


def _check_record(record: Any, path: str, advice: str) -> None:
    """The training record ``save`` writes: each field there and of its type."""
    fields = {
        "epoch": lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        "history": lambda v: isinstance(v, dict) and all(isinstance(x, list) for x in v.values()),
        "history_epochs": lambda v: isinstance(v, list),
        "random_state": lambda v: (
            isinstance(v, dict) and all(isinstance(x, dict) for x in v.values())
        ),
    }
    bad = [
        key for key, ok in fields.items() if not (isinstance(record, dict) and ok(record.get(key)))
    ]
    if bad:
        raise saving.ModelFileError(
            f"resume: the training record in '{path}' is damaged (its {', '.join(bad)} "
            f"{'is' if len(bad) == 1 else 'are'} missing or of the wrong type). {advice}"
        )
