"""Saving and loading: round trips, atomic writes, corrupt files, checkpoints and resume."""

from __future__ import annotations

import json
import os
import re
import tracemalloc
import zipfile

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.models.saving import ModelFileError


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


def _edited(path, edit) -> None:
    """Apply ``edit`` to the parsed config.json in the model folder ``path``."""
    config = json.loads((path / "config.json").read_text())
    edit(config)
    (path / "config.json").write_text(json.dumps(config))


def _dense_layer(config):
    return config["model"]["config"]["layers"][-1]["config"]


def test_a_config_asking_for_huge_weights_is_refused_before_allocating(tmp_path):
    """A config edited to units=2e9 once asked NumPy for 30 GiB (a bare MemoryError); now the
    weight is checked against the file before its array exists."""
    model, _, _ = trained_cnn()
    model.save(tmp_path / "m")
    _edited(tmp_path / "m", lambda c: _dense_layer(c).update(units=2_000_000_000))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as caught:
            gn.load_model(tmp_path / "m")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    message = str(caught.value)
    assert re.search(
        r"asks Dense 'dense(_\d+)?' for a weight 'kernel' of shape \(27, 2000000000\)", message
    )
    assert "weights.safetensors' holds no weight of that shape" in message
    assert "dense.kernel (27, 2)" in message  # what the file holds
    assert "Refused before allocating it" in message and "glassnet.models.save_model" in message
    assert isinstance(caught.value, ValueError)  # code that caught ValueError still does


def test_huge_inputs_and_numbers_in_the_config_are_refused(tmp_path):
    model, _, _ = trained_cnn()
    model.save(tmp_path / "m")
    original = (tmp_path / "m" / "config.json").read_text()

    def refused(edit, match):
        (tmp_path / "m" / "config.json").write_text(original)
        _edited(tmp_path / "m", edit)
        with pytest.raises(ModelFileError, match=match):
            gn.load_model(tmp_path / "m")

    refused(lambda c: _dense_layer(c).update(units=10**30), r"31 digits at model\.config\.layers")
    refused(lambda c: c.update(input_shape=[None, 6, 6, "1"]), r"input_shape=\[None, 6, 6, '1'\]")
    refused(lambda c: c.update(input_shape=[10**5, 10**5, 6, 1]), "at most 268,435,456 numbers")
    first = lambda c: c["model"]["config"]["layers"][0]["config"]  # noqa: E731
    refused(lambda c: first(c).update(shape=[10**5, 10**5, 1]), r"declares an Input of shape")
    refused(lambda c: c.update(class_names=7), r"class_names=7; expected null or a list")
    refused(lambda c: c.update(preprocessing={"image_size": [10**6, 10**6]}), "an image_size of")
    refused(lambda c: c.update(model=[1, 2]), r'model=\[1, 2\]; expected an object \{"class_name"')
    refused(lambda c: c.pop("model"), "has no 'model' entry")
    refused(lambda c: c.update(format_version=True), "format version True")
    refused(
        lambda c: c.update(model={"class_name": "Dense", "config": {"units": 2}}),
        "describes a Dense layer, not a model",
    )
    refused(
        lambda c: _dense_layer(c).update(units="2"),
        r"Dense: 'units' must be a positive integer. Received: units='2'",
    )
    refused(
        lambda c: _dense_layer(c).update(colour="red"),
        r"Dense cannot be built from its config \(TypeError: .*unexpected keyword.*'colour'",
    )


def test_deeply_nested_or_odd_json_gives_a_named_error(tmp_path):
    model, _, _ = trained_cnn()
    model.save(tmp_path / "m")
    config = tmp_path / "m" / "config.json"
    head = b'{"format": "glassnet", "format_version": 1, "model": '
    config.write_bytes(head + b"[" * 100_000 + b"]" * 100_000 + b"}")  # RecursionError before
    with pytest.raises(ModelFileError, match="nests lists or objects too deeply to read"):
        gn.load_model(tmp_path / "m")
    config.write_bytes(head + b"[" * 500 + b"]" * 500 + b"}")  # readable, but not a model
    with pytest.raises(ModelFileError, match=r"more than 100 levels deep \(at model\[0\]"):
        gn.load_model(tmp_path / "m")
    for text in ("[1, 2]", '"glassnet"', "null", head.decode() + "1" * 5000 + "}"):
        config.write_text(text)
        with pytest.raises(ModelFileError, match="not a glassnet model configuration|not valid"):
            gn.load_model(tmp_path / "m")


def test_weights_of_another_shape_or_a_lying_header_are_refused(tmp_path):
    model, _, _ = trained_cnn()
    model.save(tmp_path / "m")
    weights = tmp_path / "m" / "weights.safetensors"
    data = weights.read_bytes()
    # the weights of a model with one more class: every key there, one shape wrong
    wider = gn.Sequential(
        [
            L.Input((6, 6, 1)),
            L.Conv2D(3, 3, padding="same"),
            L.BatchNormalization(),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(3),
        ]
    )
    wider.save_weights(tmp_path / "wider.safetensors")
    weights.write_bytes((tmp_path / "wider.safetensors").read_bytes())
    with pytest.raises(ModelFileError, match=r"(?s)do not fit the architecture.*size mismatch"):
        gn.load_model(tmp_path / "m")
    # a header whose length runs past the end of the file
    weights.write_bytes((10**9).to_bytes(8, "little") + data[8:])
    with pytest.raises(ModelFileError, match="header claims to be 1,000,000,000 bytes long"):
        gn.load_model(tmp_path / "m")
    # a header placing a tensor past the end of the file
    length = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + length])
    header["dense.kernel"]["data_offsets"] = [0, 10**12]
    text = json.dumps(header).encode()
    weights.write_bytes(len(text).to_bytes(8, "little") + text + data[8 + length :])
    with pytest.raises(ModelFileError, match=r"places tensor 'dense.kernel' at bytes 0 to 1,0"):
        gn.load_model(tmp_path / "m")


def test_a_zip_entry_claiming_more_than_deflate_can_give_is_refused(tmp_path):
    model, _, _ = trained_cnn()
    model.save(tmp_path / "m.zip")
    data = bytearray((tmp_path / "m.zip").read_bytes())
    # the central directory's record of config.json: uncompressed size at offset 24
    entry = data.index(b"PK\x01\x02")
    while not data[entry + 46 :].startswith(b"config.json"):
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 24 : entry + 28] = (2**31).to_bytes(4, "little")
    (tmp_path / "m.zip").write_bytes(bytes(data))
    with pytest.raises(
        ModelFileError, match=r"config.json' claims to unpack .* into 2,147,483,648"
    ):
        gn.load_model(tmp_path / "m.zip")


def test_bad_compile_settings_are_named_and_compile_false_skips_them(tmp_path):
    model, x, _ = trained_cnn()
    model.save(tmp_path / "m")
    _edited(tmp_path / "m", lambda c: c["compile"]["optimizer"]["config"].update(beta_1="x"))
    with pytest.raises(ModelFileError, match=r"cannot compile the model from the 'compile'"):
        gn.load_model(tmp_path / "m")
    np.testing.assert_array_equal(
        gn.load_model(tmp_path / "m", compile=False).predict(x), model.predict(x)
    )
    _edited(tmp_path / "m", lambda c: c["compile"]["optimizer"]["config"].update(beta_1=0.9))
    _edited(tmp_path / "m", lambda c: c["compile"].update(metrics=[5]))
    with pytest.raises(ModelFileError, match="the metric 5 must be an object with a class_name"):
        gn.load_model(tmp_path / "m")
    _edited(tmp_path / "m", lambda c: c["compile"].update(metrics=[], loss_weights=["x"]))
    with pytest.raises(ModelFileError, match="a loss weight must be a number, found 'x'"):
        gn.load_model(tmp_path / "m")
    _edited(tmp_path / "m", lambda c: c["compile"].update(loss_weights=None, loss=None))
    with pytest.raises(ModelFileError, match="it names no loss"):
        gn.load_model(tmp_path / "m")


def compiled_with_metric_arguments() -> tuple[gn.Sequential, np.ndarray, np.ndarray]:
    gn.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 5)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 24)]
    model = gn.Sequential([L.Input((5,)), L.Dense(4, activation="softmax")])
    metrics = [
        "accuracy",
        gn.metrics.Precision(thresholds=0.7),
        gn.metrics.Recall(thresholds=[0.2, 0.4], name="recall_at"),
        gn.metrics.F1Score(average="macro"),
        gn.metrics.FBetaScore(average="weighted", beta=2.0, threshold=0.3),
        gn.metrics.TopKCategoricalAccuracy(k=3),
        gn.metrics.AUC(num_thresholds=7, curve="PR", summation_method="minoring"),
    ]
    model.compile("adam", "categorical_crossentropy", metrics)
    return model, x, y


def test_metrics_come_back_with_their_arguments(tmp_path):
    model, x, y = compiled_with_metric_arguments()
    model.save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())["compile"]["metrics"]
    assert saved[0] == {"class_name": "CategoricalAccuracy", "config": {"name": "accuracy"}}
    assert saved[1] == {
        "class_name": "Precision",
        "config": {"thresholds": 0.7, "top_k": None, "class_id": None, "name": "precision"},
    }
    loaded = gn.load_model(tmp_path / "m")
    assert [gn.metrics.serialize(m) for m in loaded.compiled_metrics] == saved
    again = loaded.compiled_metrics
    assert again[3].average == "macro" and again[4].beta == 2.0 and again[5].k == 3
    assert (again[6].num_thresholds, again[6].curve, again[6].summation_method) == (
        7,
        "PR",
        "minoring",
    )
    want = model.evaluate(x, y, return_dict=True)
    assert "recall_at_1" in want and loaded.evaluate(x, y, return_dict=True) == want


def test_saved_metrics_are_checked_and_old_names_still_load(tmp_path):
    model, x, _ = compiled_with_metric_arguments()
    model.save(tmp_path / "m")
    _edited(tmp_path / "m", lambda c: c["compile"].update(metrics=["accuracy", "auc"]))
    loaded = gn.load_model(tmp_path / "m")  # files written before metrics kept their configs
    assert [type(m).__name__ for m in loaded.compiled_metrics] == ["CategoricalAccuracy", "AUC"]
    unknown = [{"class_name": "os.system", "config": {"command": "rm -rf /"}}]
    _edited(tmp_path / "m", lambda c: c["compile"].update(metrics=unknown))
    with pytest.raises(ModelFileError, match=r"unknown metric class 'os.system'. Known: AUC"):
        gn.load_model(tmp_path / "m")
    huge = [{"class_name": "AUC", "config": {"num_thresholds": 2**20, "num_labels": 2**20}}]
    _edited(tmp_path / "m", lambda c: c["compile"].update(metrics=huge))
    with pytest.raises(ModelFileError, match=r"num_thresholds × num_labels = 1,099,511,627,776"):
        gn.load_model(tmp_path / "m")
    _edited(tmp_path / "m", lambda c: c["compile"].update(metrics=[{"config": {}}]))
    with pytest.raises(ModelFileError, match="must be an object with a class_name and config"):
        gn.load_model(tmp_path / "m")
    bad = [{"class_name": "TopKCategoricalAccuracy", "config": {"k": 0}}]
    _edited(tmp_path / "m", lambda c: c["compile"].update(metrics=bad))
    with pytest.raises(ModelFileError, match="TopKCategoricalAccuracy.*k"):
        gn.load_model(tmp_path / "m")
    np.testing.assert_array_equal(
        gn.load_model(tmp_path / "m", compile=False).predict(x), model.predict(x)
    )


def test_a_file_written_by_glassnet_0_1_still_loads(tmp_path):
    """The format is unchanged by the checks: a config.json as glassnet 0.1.0 wrote it."""
    (tmp_path / "m").mkdir()
    dense = {
        "name": "dense",
        "trainable": True,
        "units": 2,
        "activation": "softmax",
        "use_bias": True,
        "kernel_initializer": "glorot_uniform",
        "bias_initializer": "zeros",
    }
    layers = [
        {
            "class_name": "InputLayer",
            "config": {"name": "input_layer", "trainable": True, "shape": [3], "batch_size": None},
        },
        {"class_name": "Dense", "config": dense},
    ]
    config = {
        "format": "glassnet",
        "format_version": 1,
        "glassnet_version": "0.1.0",
        "model": {
            "class_name": "Sequential",
            "config": {"name": "sequential", "trainable": True, "layers": layers},
        },
        "input_shape": [None, 3],
        "class_names": ["no", "yes"],
        "preprocessing": None,
    }
    (tmp_path / "m" / "config.json").write_text(json.dumps(config, indent=2))
    from safetensors.numpy import save_file

    kernel = np.arange(6, dtype=np.float32).reshape(3, 2) / 10
    bias = np.array([0.5, -0.5], np.float32)
    save_file({"dense.kernel": kernel, "dense.bias": bias}, tmp_path / "m" / "weights.safetensors")
    loaded = gn.load_model(tmp_path / "m")
    assert loaded.class_names == ["no", "yes"]
    x = np.ones((1, 3), np.float32)
    logits = x @ kernel + bias
    expected = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(loaded.predict(x), expected, rtol=1e-6)


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


def test_a_damaged_checkpoint_is_named_when_resuming(tmp_path):
    model, x, y = trained_cnn()
    model.fit(x, y, epochs=1, verbose=0, checkpoint_dir=tmp_path / "ck")
    saved = tmp_path / "ck" / "epoch-0001.glassnet"
    _edited(saved, lambda c: c["checkpoint"].update(random_state=5, epoch="1"))
    with pytest.raises(ModelFileError, match=r"training record .*\(its epoch, random_state are"):
        model.fit(x, y, epochs=2, verbose=0, checkpoint_dir=tmp_path / "ck", resume=True)
    (tmp_path / "ck" / "latest.json").write_text(json.dumps({"checkpoint": "../elsewhere"}))
    with pytest.raises(ValueError, match="latest.json' is unreadable .*must name a checkpoint"):
        model.fit(x, y, epochs=2, verbose=0, checkpoint_dir=tmp_path / "ck", resume=True)


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
