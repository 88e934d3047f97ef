"""glassnet.utils: Keras's set_random_seed and to_categorical."""

from __future__ import annotations

import random

import numpy as np
import pytest

import glassnet as gn
from glassnet import backend, utils


def draws() -> tuple[float, float, np.ndarray, np.ndarray]:
    """One number from every generator set_random_seed covers, and glassnet weights."""
    layer = gn.layers.Dense(4)
    layer.build((None, 3))
    return (
        random.random(),
        np.random.random(),  # noqa: NPY002 - the legacy global generator is what is tested
        backend.get_rng().random(3),
        layer.kernel.numpy().copy(),
    )


def test_set_random_seed_repeats_every_generator():
    state = random.getstate(), np.random.get_state()  # noqa: NPY002
    try:
        utils.set_random_seed(1234)
        first = draws()
        utils.set_random_seed(1234)
        second = draws()
        utils.set_random_seed(99)
        other = draws()
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])  # noqa: NPY002
    assert first[:2] == second[:2] and first[:2] != other[:2]
    for a, b, c in zip(first[2:], second[2:], other[2:], strict=True):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)
    # the engine's generator is the one glassnet.set_seed seeds, re-seeded in place
    rng = backend.get_rng()
    utils.set_random_seed(7)
    expected = np.random.default_rng(7).random(4)
    np.testing.assert_array_equal(rng.random(4), expected)


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (1.5, r"seed must be an integer. Received seed=1.5 \(of type float\)"),
        ("42", r"seed must be an integer. Received seed='42'"),
        (True, r"seed must be an integer"),
        (-1, r"seed must lie in \[0, 2\*\*32 - 1\].*seed=-1"),
        (2**32, r"seed must lie in"),
    ],
)
def test_set_random_seed_rejects_bad_seeds(seed, message):
    with pytest.raises(ValueError, match=message):
        utils.set_random_seed(seed)


def test_to_categorical_matches_keras():
    labels = np.array([0, 2, 1, 2])
    out = utils.to_categorical(labels)
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_array_equal(out, np.eye(3, dtype=np.float32)[labels])
    np.testing.assert_array_equal(utils.to_categorical(labels, num_classes=5)[:, 3:], 0)
    # (N, 1) labels lose the trailing 1, as in Keras; other shapes keep theirs
    assert utils.to_categorical(labels[:, None]).shape == (4, 3)
    grid = np.array([[0, 1], [3, 2]])
    cube = utils.to_categorical(grid)
    assert cube.shape == (2, 2, 4)
    np.testing.assert_array_equal(cube.argmax(-1), grid)
    assert utils.to_categorical(2, num_classes=3).tolist() == [0.0, 0.0, 1.0]
    assert utils.to_categorical([1.0, 0.0]).tolist() == [[0.0, 1.0], [1.0, 0.0]]
    assert utils.to_categorical(gn.Tensor(np.array([1, 0]))).shape == (2, 2)
    assert utils.to_categorical([], num_classes=3).shape == (0, 3)
    assert utils.to_categorical([1, 0], dtype="int64").dtype == np.int64
    assert gn.utils.to_categorical is utils.to_categorical


@pytest.mark.parametrize(
    ("y", "kwargs", "message"),
    [
        ([0, 2, -1], {}, r"label -1 at index 2 is negative"),
        ([[0, 1], [-3, 0]], {}, r"label -3 at index \(1, 0\) is negative"),
        (
            [0, 4, 1],
            {"num_classes": 3},
            r"label 4 at index 1 does not fit num_classes=3 \(labels 0 to 2\). "
            r"Pass num_classes=5 or more",
        ),
        ([0.5, 1], {}, r"label 0.5 at index 0 is not a whole number"),
        ([0, 1], {"num_classes": 0}, r"num_classes must be a positive integer. Received 0"),
        ([0, 1], {"num_classes": 2.0}, r"num_classes must be a positive integer"),
        ([], {}, r"y is empty; pass num_classes"),
        (["cat", "dog"], {}, r"integer class labels; received dtype <U3"),
    ],
)
def test_to_categorical_names_the_bad_label(y, kwargs, message):
    with pytest.raises(ValueError, match=message):
        utils.to_categorical(y, **kwargs)


# ------------------------------------------------------------------ plot_model
def _two_branch_model() -> gn.Model:
    a, b = gn.Input((3,), name="a"), gn.Input((2,), name="b")
    joined = gn.layers.concatenate([gn.layers.Dense(4, name="hidden")(a), b], name="join")
    heads = [gn.layers.Dense(1, name="reg")(joined), gn.layers.Dense(3, name="cls")(joined)]
    return gn.Model([a, b], heads)


def test_layer_graph_follows_a_functional_models_wiring():
    from glassnet.inspect.graph import layer_graph

    boxes = layer_graph(_two_branch_model())
    names = [box.layer.name for box in boxes]
    assert names == ["a", "b", "hidden", "join", "reg", "cls"]
    edges = {(names[p], names[i]) for i, box in enumerate(boxes) for p in box.parents}
    assert edges == {
        ("a", "hidden"),
        ("hidden", "join"),
        ("b", "join"),
        ("join", "reg"),
        ("join", "cls"),
    }
    assert [box.level for box in boxes] == [0, 0, 1, 2, 3, 3]
    assert boxes[3].input_shape == [(None, 4), (None, 2)] and boxes[3].output_shape == (None, 6)


def test_layer_graph_of_a_stack_and_of_a_subclassed_model_is_a_chain():
    from glassnet.inspect.graph import layer_graph

    stack = gn.Sequential([gn.Input((4,)), gn.layers.Dense(3), gn.layers.Dense(2)])

    class Net(gn.Model):
        def __init__(self):
            super().__init__()
            self.first, self.second = gn.layers.Dense(3), gn.layers.Dense(2)

        def call(self, x):
            return self.second(self.first(x))

    net = Net()
    net.build((None, 4))
    for model in (stack, net):
        boxes = layer_graph(model)
        assert [box.parents for box in boxes] == [[], [0], [1]]
        assert [box.output_shape for box in boxes] == [(None, 4), (None, 3), (None, 2)]


def test_plot_model_writes_a_png_sized_by_the_graph_and_dpi(tmp_path):
    from PIL import Image

    model = _two_branch_model()
    tall = gn.utils.plot_model(model, tmp_path / "tb.png", show_shapes=True)
    wide = gn.utils.plot_model(model, tmp_path / "lr.png", show_shapes=True, rankdir="LR")
    small = gn.utils.plot_model(model, tmp_path / "small.png", show_shapes=True, dpi=48)
    with Image.open(tall) as a, Image.open(wide) as b, Image.open(small) as c:
        # four levels, two boxes across: top to bottom is the taller picture
        assert a.height / a.width > b.height / b.width
        assert abs(c.width * 2 - a.width) <= 2 and abs(c.height * 2 - a.height) <= 2
    with pytest.raises(ValueError, match="rankdir must be 'TB' or 'LR'"):
        gn.utils.plot_model(model, tmp_path / "x.png", rankdir="BT")


def test_import_glassnet_leaves_matplotlib_for_when_a_plot_is_drawn():
    """plot_model lives in utils, which every import of glassnet loads: matplotlib (a good
    part of a second) must still wait for the first plot."""
    import subprocess
    import sys

    code = "import sys, glassnet; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_pad_sequences_matches_keras():
    """keras.utils.pad_sequences: "pre" padding and truncating by default, int32."""
    raw = [[711, 632, 71], [73, 8, 3215, 55, 927], [83, 91, 1, 645, 1253, 927]]
    out = utils.pad_sequences(raw)
    assert out.dtype == np.int32 and out.shape == (3, 6)
    assert out[0].tolist() == [0, 0, 0, 711, 632, 71]
    post = utils.pad_sequences(raw, padding="post")
    assert post[0].tolist() == [711, 632, 71, 0, 0, 0]
    assert utils.pad_sequences(raw, maxlen=4)[2].tolist() == [1, 645, 1253, 927]
    assert utils.pad_sequences(raw, maxlen=4, truncating="post")[2].tolist() == [83, 91, 1, 645]
    floats = utils.pad_sequences([[0.5], []], maxlen=2, dtype="float32", value=-1.0)
    assert floats.tolist() == [[-1.0, 0.5], [-1.0, -1.0]]
    assert utils.pad_sequences([]).shape == (0, 0)


def test_pad_sequences_refuses_bad_arguments():
    with pytest.raises(ValueError, match=r'padding must be "pre" or "post"\. Received.*middle'):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match="truncating must be"):
        utils.pad_sequences([[1]], truncating=None)
    with pytest.raises(ValueError, match="maxlen must be a whole number"):
        utils.pad_sequences([[1]], maxlen=-2)
    with pytest.raises(ValueError, match="sequences must be a list of sequences"):
        utils.pad_sequences(5)
