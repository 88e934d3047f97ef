"""summary(): shapes, parameter formulas, MACs, totals and hidden layers, without data."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.models.summary import hidden_layer_count, param_formula, summary_rows
from tests.models.test_sequential import Net


def test_the_texts_convolution_in_the_summary(capsys):
    model = gn.Sequential(
        [L.Input((256, 256, 3)), L.Conv2D(64, 3, padding="same"), L.MaxPooling2D(2, strides=2)]
    )
    model.summary()
    out = capsys.readouterr().out
    assert "(None, 256, 256, 64)" in out and "(None, 128, 128, 64)" in out
    assert "(3·3·3 + 1)·64 = 1,792" in out
    # every one of the 256·256·64 outputs is a dot product of 3·3·3 numbers
    assert f"{256 * 256 * 64 * 27:,}" in out
    assert "Total params: 1,792 (7.00 KB)" in out
    assert "multiple" not in out


def test_formulas_for_each_kind_of_layer():
    dense = L.Dense(1)
    dense.build((None, 1))
    assert param_formula(dense) == (2, "(1 + 1)·1 = 2")  # y = mx + c
    no_bias = L.Dense(10, use_bias=False)
    no_bias.build((None, 784))
    assert param_formula(no_bias) == (7840, "784·10 = 7,840")
    bn = L.BatchNormalization()
    bn.build((None, 8, 8, 64))
    assert param_formula(bn) == (256, "4·64 = 256 (128 non-trainable)")
    assert param_formula(L.Flatten()) == (0, "")


def test_totals_split_trainable_and_frozen(capsys):
    model = gn.Sequential(
        [L.Input((784,)), L.Dense(256, activation="relu"), L.Dense(128), L.Dense(10)]
    )
    model.layers[0].trainable = False
    model.summary()
    out = capsys.readouterr().out
    assert "Total params: 235,146" in out
    assert "Trainable params: 34,186" in out and "Non-trainable params: 200,960" in out
    assert "(784 + 1)·256 = 200,960 (200,960 non-trainable)" in out
    assert "Hidden layers: 2 (deep: two or more hidden layers)" in out
    assert "Multiply-accumulates per sample: 234,752" in out


def test_nested_and_residual_models_show_their_inner_layers():
    model = Net()
    model.build((None, 6, 6, 2))
    rows = summary_rows(model)
    names = [(r.depth, type(r.layer).__name__) for r in rows]
    assert names == [
        (0, "Residual"),
        (1, "Conv2D"),
        (1, "Add"),
        (0, "GlobalAveragePooling2D"),
        (0, "Dense"),
    ]
    assert rows[0].output_shape == (None, 6, 6, 2) and rows[-1].output_shape == (None, 3)
    assert hidden_layer_count(rows) == 1
    inner = gn.Sequential([L.Dense(4), L.Dense(4)])
    outer = gn.Sequential([L.Input((3,)), inner, L.Dense(1)])
    rows = summary_rows(outer)
    assert [r.depth for r in rows] == [0, 1, 1, 0]
    assert rows[0].params == (3 + 1) * 4 + (4 + 1) * 4
    text = []
    outer.summary(print_fn=text.append)
    assert "└ " in text[0]


def test_summary_of_an_unbuilt_model_says_what_to_do():
    with pytest.raises(ValueError, match=r"does not know its input shape yet. Start it with Input"):
        gn.Sequential([L.Dense(3)]).summary()
    model = gn.Sequential([L.Dense(3)])
    model(np.zeros((1, 5), np.float32))
    model.summary(print_fn=lambda text: None)  # after one batch it knows


def test_recurrent_layers_explain_their_count_and_cost():
    model = gn.Sequential([L.Input((10, 1)), L.GRU(24), L.Dense(2)])
    gru = summary_rows(model)[0]
    assert gru.params == 1944 and gru.formula == "3·(24·(24 + 1) + 2·24) = 1,944"
    assert gru.macs == 10 * 3 * 24 * (1 + 24)  # 10 steps, 3 gates, kernel and recurrent kernel


def _nested_model() -> gn.Model:
    inner = gn.Sequential(
        [L.Input((8,)), L.Dense(4, name="d1"), L.Dense(4, name="d2")], name="inner"
    )
    inputs = gn.Input((8,), name="pixels")
    out = L.Dense(2, name="head")(L.concatenate([inner(inputs), inputs], name="joined"))
    inner.trainable = False
    return gn.Model(inputs, out)


def test_keras_summary_arguments():
    """line_length trims the widest columns to fit; show_trainable adds Y/N; expand_nested
    and layer_range choose rows (totals stay the whole model's); print_fn gets the text."""
    model = _nested_model()
    seen: list[str] = []
    model.summary(print_fn=seen.append)
    full = seen.pop()
    assert "(8 + 1)·4 = 36" in full and max(map(len, full.splitlines())) > 80

    model.summary(line_length=80, show_trainable=True, print_fn=seen.append)
    narrow = seen.pop().splitlines()
    table = narrow[: narrow.index(next(x for x in narrow if x.startswith("Total")))]
    assert max(len(x) for x in table) <= 80 and "…" in "\n".join(table)
    assert "Trainable" in table[2]
    assert [x.split()[-1] for x in table if "(Dense)" in x] == ["N", "N", "Y"]

    model.summary(expand_nested=False, print_fn=seen.append)
    assert "d1 (Dense)" not in seen[-1] and "inner (Sequential)" in seen[-1]
    model.summary(layer_range=["inner", "join*"], print_fn=seen.append)
    rows = seen[-1]
    assert "inner (Sequential)" in rows and "d2 (Dense)" in rows and "joined" in rows
    assert "head (Dense)" not in rows and "pixels (InputLayer)" not in rows
    assert "Total params: 82" in rows

    model.summary(positions=[0.3, 0.45, 0.55, 0.7, 0.8, 1.0], print_fn=seen.append)
    header = seen[-1].splitlines()[2]
    assert header.index("Output") == round(0.3 * 120)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"layer_range": ["nothing*", "head"]}, r"no layer matches 'nothing\*'.*pixels"),
        ({"layer_range": ["head", "inner"]}, "no layer matches 'inner'.*at or after"),
        ({"layer_range": "head"}, r"layer_range must be \[first_layer_name"),
        ({"positions": [0.5, 0.2, 0.6, 0.7, 0.8, 1.0]}, "positions must increase"),
        ({"positions": [0.5, 1.0]}, "each of the 6 columns ends"),
        ({"line_length": 0}, "line_length"),
    ],
)
def test_bad_summary_arguments_say_what_is_expected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _nested_model().summary(**kwargs)
