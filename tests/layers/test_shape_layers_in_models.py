"""The reshaping, upsampling, 1-D pooling and Dot layers inside models: fit's replay trains
to the graph's numbers bit for bit, save/load_model keeps them, summary() shows their shapes."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.models import replay
from glassnet.models.summary import summary_rows


def _images():
    """A small encoder-decoder: every image layer of this change, nearest and bilinear."""
    return gn.Sequential(
        [
            L.Input((6, 6, 2)),
            L.ZeroPadding2D(((1, 0), (0, 1))),
            L.Conv2D(3, 3, activation="relu"),
            L.UpSampling2D(2),
            L.Cropping2D(((1, 1), (0, 2))),
            L.UpSampling2D((1, 2), interpolation="bilinear"),
            L.MaxPooling2D(2),
            L.Permute((2, 1, 3)),
            L.Flatten(),
            L.Dense(3),
        ]
    )


def _sequences():
    """Sequences: 1-D padding, cropping, upsampling and pools, Permute, RepeatVector and a
    Dot similarity."""
    x = gn.Input((9, 4))
    h = L.UpSampling1D(2)(L.Cropping1D((3, 1))(L.ZeroPadding1D(2)(x)))  # (18, 4)
    h = L.MaxPooling1D(4, padding="same")(h)  # (5, 4)
    h = L.AveragePooling1D(3, 1, "same")(h)  # (5, 4)
    p = L.Permute((2, 1))(h)  # (4, 5)
    summary = L.GlobalAveragePooling1D()(h)  # (4,)
    peak = L.GlobalMaxPooling1D(keepdims=True)(p)  # (1, 5)
    repeated = L.RepeatVector(5)(summary)  # (5, 4)
    scores = L.Dot(axes=(2, 1))([repeated, p])  # (5, 5)
    cosine = L.Dot(axes=1, normalize=True)([L.Flatten()(peak), L.Dense(5)(summary)])  # (1,)
    out = L.Dense(3)(L.Concatenate()([L.Flatten()(scores), cosine]))
    return gn.Model(x, out)


MODELS = {"images": (_images, (6, 6, 2)), "sequences": (_sequences, (9, 4))}


def _train(name, jit):
    make, shape = MODELS[name]
    gn.set_seed(0)
    model = make()
    model.compile(gn.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    model.jit_compile = jit
    rng = np.random.default_rng(1)
    x = rng.random((20, *shape), dtype=np.float32)
    y = rng.integers(0, 3, 20)
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    return model, history.history, x


@pytest.mark.parametrize("name", list(MODELS))
def test_replayed_training_is_the_graphs_bit_for_bit(name, monkeypatch):
    graph_model, graph_history, x = _train(name, jit=False)
    replayed = []
    real = replay._replayed
    monkeypatch.setattr(replay, "_replayed", lambda *a: replayed.append(1) or real(*a))
    model, history, _ = _train(name, jit=True)
    assert replayed, "no step ran the recorded ops: the layers kept the graph"
    assert history == graph_history
    for ours, theirs in zip(model.weights, graph_model.weights, strict=True):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    np.testing.assert_array_equal(model.predict(x), graph_model.predict(x))


@pytest.mark.parametrize("name", list(MODELS))
def test_save_and_load_model_keep_the_layers(tmp_path, name):
    model, _, x = _train(name, jit=True)
    model.save(str(tmp_path / "m.glassnet"))
    loaded = gn.load_model(str(tmp_path / "m.glassnet"))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    for old, new in zip(model.layers, loaded.layers, strict=True):
        assert type(new) is type(old) and new.get_config() == old.get_config()


def test_summary_shows_each_layers_output_shape_and_no_weights():
    rows = {type(r.layer).__name__ + str(i): r for i, r in enumerate(summary_rows(_images()))}
    shapes = [(name, r.output_shape, r.params) for name, r in rows.items()]
    assert shapes[:8] == [
        ("ZeroPadding2D0", (None, 7, 7, 2), 0),
        ("Conv2D1", (None, 5, 5, 3), 3 * 3 * 2 * 3 + 3),
        ("UpSampling2D2", (None, 10, 10, 3), 0),
        ("Cropping2D3", (None, 8, 8, 3), 0),
        ("UpSampling2D4", (None, 8, 16, 3), 0),
        ("MaxPooling2D5", (None, 4, 8, 3), 0),
        ("Permute6", (None, 8, 4, 3), 0),
        ("Flatten7", (None, 96), 0),
    ]
    seq_rows = summary_rows(_sequences())
    seq = {type(r.layer).__name__: r.output_shape for r in seq_rows}
    dots = [(r.output_shape, r.macs) for r in seq_rows if isinstance(r.layer, L.Dot)]
    assert dots == [((None, 5, 5), 5 * 5 * 4), ((None, 1), 1 * 5)]  # outputs · summed length
    assert seq["ZeroPadding1D"] == (None, 13, 4)
    assert seq["Cropping1D"] == (None, 9, 4)
    assert seq["UpSampling1D"] == (None, 18, 4)
    assert seq["MaxPooling1D"] == (None, 5, 4)
    assert seq["RepeatVector"] == (None, 5, 4)
    assert seq["GlobalMaxPooling1D"] == (None, 1, 5)
