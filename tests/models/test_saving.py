"""Saving and loading: round trips, atomic writes, corrupt files, checkpoints and resume."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


def trained_cnn(dropout: bool = True) -> tuple[gn.Sequential, np.ndarray, np.ndarray]:
    gn.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6, 6, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    model = gn.Sequential(
        [
            L.Input((6, 6, 1)),
            L.Conv2D(3, 3, padding="same", activation="relu"),
            L.BatchNormalization(),
            L.MaxPooling2D(2),
            *([L.Dropout(0.2, seed=3)] if dropout else []),
            L.Flatten(),
            L.Dense(2, activation="softmax"),
        ]
    )
    model.compile(gn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model, x, y


@pytest.mark.parametrize("name", ["model.glassnet", "model.glassnet.zip"])
def test_save_load_round_trip(tmp_path, name):
    model, x, y = trained_cnn(dropout=False)  # dropout's random state is not part of a model
    model.class_names = ["cat", "dog"]
    path = tmp_path / name
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.class_names == ["cat", "dog"]
    assert type(loaded.optimizer) is gn.optimizers.Adam
    assert loaded.optimizer.iterations == model.optimizer.iterations
    for a, b in zip(
        loaded.optimizer.state_dict().values(), model.optimizer.state_dict().values(), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    # training goes on from the same state in both
    model.fit(x, y, epochs=1, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, shuffle=False, verbose=0)
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y), rel=1e-5)
    assert zipfile.is_zipfile(path) == name.endswith(".zip")


def test_the_folder_is_readable_json_and_safetensors(tmp_path):
    model, _, _ = trained_cnn()
    model.save(tmp_path / "m")
    assert sorted(os.listdir(tmp_path / "m")) == [
        "config.json",
        "optimizer.safetensors",
        "weights.safetensors",
    ]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format"] == "glassnet" and config["format_version"] == 1
    assert config["model"]["class_name"] == "Sequential"
    assert config["compile"]["loss"]["class_name"] == "SparseCategoricalCrossentropy"
    assert config["input_shape"] == [None, 6, 6, 1]


def test_saving_over_an_existing_model_replaces_it_whole(tmp_path):
    model, x, _ = trained_cnn()
    path = tmp_path / "m"
    model.save(path)
    model.layers[-1].set_weights([np.zeros_like(w) for w in model.layers[-1].get_weights()])
    model.save(path)
    np.testing.assert_array_equal(gn.load_model(path).predict(x), model.predict(x))
    assert [p for p in os.listdir(tmp_path) if p.startswith(".")] == []  # no temporaries left


def test_weights_only(tmp_path):
    model, x, _ = trained_cnn()
    model.save_weights(tmp_path / "w.safetensors")
    other = trained_cnn()[0]
    other.layers[0].set_weights([np.zeros_like(w) for w in other.layers[0].get_weights()])
    other.load_weights(tmp_path / "w.safetensors")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))
    with pytest.raises(ValueError, match=r"must end in \.safetensors"):
        model.save_weights(tmp_path / "w.bin")


def test_unbuilt_model_cannot_be_saved(tmp_path):
    with pytest.raises(ValueError, match="has no weights yet. Build it first"):
        gn.Sequential([L.Dense(2)]).save(tmp_path / "m")


def test_corrupt_truncated_and_mismatched_files_name_the_culprit(tmp_path):
    model, _, _ = trained_cnn()
    path = tmp_path / "m"
    model.save(path)
    weights = path / "weights.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"corrupt weights file '.*weights.safetensors'"):
        gn.load_model(path)
    weights.write_bytes(data)
    (path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"config.json' is not valid JSON"):
        gn.load_model(path)
    (path / "config.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="is not a glassnet model configuration"):
        gn.load_model(path)
    config = json.loads(json.dumps(gn.models.saving.model_config(model)))
    config["format_version"] = 99
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="format version 99.*Upgrade glassnet"):
        gn.load_model(path)
    config["format_version"] = 1
    config["model"]["config"]["layers"][-1]["config"]["units"] = 3  # weights no longer fit
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="(?s)do not fit the architecture.*size mismatch"):
        gn.load_model(path)
    config["model"]["class_name"] = "os.system"
    (path / "config.json").write_text(json.dumps(config))
    with pytest.raises(
        ValueError, match="cannot rebuild the model.*Unknown layer class: 'os.system'"
    ):
        gn.load_model(path)
    os.remove(path / "weights.safetensors")
    with pytest.raises(ValueError, match="weights.safetensors is missing"):
        gn.load_model(path)
    (tmp_path / "junk.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ValueError, match="neither a model folder nor a valid zip"):
        gn.load_model(tmp_path / "junk.zip")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        gn.load_model(tmp_path / "nothing")


def test_loading_never_unpickles(tmp_path, monkeypatch):
    """safetensors holds only arrays and config.json names classes from a registry: loading a
    model must not reach pickle at all."""
    import pickle

    model, x, _ = trained_cnn()
    model.save(tmp_path / "m")

    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used while loading a model")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m").predict(x), model.predict(x))


class Block(gn.Model):
    def __init__(self, units: int = 4, name=None):
        super().__init__(name=name)
        self.units = units
        self.inner = L.Dense(units, activation="relu")
        self.out = L.Dense(2, activation="softmax")

    def call(self, x, training=False):
        return self.out(self.inner(x))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_subclassed_model_round_trip(tmp_path):
    model = Block(units=5)
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    model.build((None, 3))
    model.save(tmp_path / "block")
    loaded = gn.load_model(tmp_path / "block")
    assert isinstance(loaded, Block) and loaded.units == 5
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_checkpoint_resume_gives_identical_weights(tmp_path):
    """4 epochs straight == 2 epochs + resume + 2 epochs (shuffling and dropout included)."""
    _, x, y = trained_cnn()

    def fresh():
        m, _, _ = trained_cnn()  # same seed → same initial weights and optimizer state
        return m

    straight = fresh()
    straight.fit(x, y, epochs=4, batch_size=8, verbose=0)

    first = fresh()
    first.fit(x, y, epochs=2, batch_size=8, verbose=0, checkpoint_dir=tmp_path / "ck")
    gn.set_seed(12345)  # a different random state: resume must restore the saved one
    second = fresh()
    history = second.fit(
        x, y, epochs=4, batch_size=8, verbose=0, checkpoint_dir=tmp_path / "ck", resume=True
    )
    assert history.epoch == [0, 1, 2, 3]
    for a, b in zip(straight.get_weights(), second.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(os.listdir(tmp_path / "ck")) == [
        "epoch-0003.glassnet",
        "epoch-0004.glassnet",
        "latest.json",
    ]


def test_resume_without_checkpoints_starts_fresh_and_bad_pointer_is_named(tmp_path):
    model, x, y = trained_cnn()
    history = model.fit(x, y, epochs=1, verbose=0, checkpoint_dir=tmp_path / "new", resume=True)
    assert history.epoch == [0]
    (tmp_path / "new" / "latest.json").write_text("garbage")
    with pytest.raises(ValueError, match="latest.json' is unreadable"):
        model.fit(x, y, epochs=2, verbose=0, checkpoint_dir=tmp_path / "new", resume=True)


class SeededStream:
    """(x, y) batches shuffled by the data's own seeded generator, like a photo folder."""

    def __init__(self, x, y, seed):
        self.x, self.y = x, y
        self._rng = np.random.default_rng(seed)

    def __len__(self):
        return len(self.x) // 8

    def __iter__(self):
        order = self._rng.permutation(len(self.x))
        for i in range(0, len(order), 8):
            yield self.x[order[i : i + 8]], self.y[order[i : i + 8]]


def test_resume_restores_the_data_shuffle_too(tmp_path):
    _, x, y = trained_cnn(dropout=False)

    def run(epochs, **kwargs):
        model, _, _ = trained_cnn(dropout=False)
        model.fit(SeededStream(x, y, 7), epochs=epochs, verbose=0, **kwargs)
        return model

    straight = run(3)
    run(1, checkpoint_dir=tmp_path / "ck")
    resumed = run(3, checkpoint_dir=tmp_path / "ck", resume=True)
    for a, b in zip(straight.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_best_only_checkpoint_keeps_the_best_across_a_resume(tmp_path):
    model, _, _ = trained_cnn(dropout=False)
    best = gn.callbacks.ModelCheckpoint(tmp_path / "best.glassnet", "loss", save_best_only=True)
    model.history = gn.callbacks.History()
    model.history.history = {"loss": [0.0001]}  # as restored from an earlier, better run
    best.set_model(model)
    best.on_train_begin()
    best.on_epoch_end(0, {"loss": 0.5})
    assert not (tmp_path / "best.glassnet").exists()
