"""The functional API (glassnet/layers/node.py, glassnet/models/functional.py): Input returns a
symbolic tensor, layers called on it record nodes, Model(inputs, outputs) runs them."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as keras
from glassnet import layers
from glassnet.export import export_onnx
from glassnet.models import Functional, model_from_json
from glassnet.models.saving import ModelFileError


def residual_model(seed: int = 0) -> keras.Model:
    """Keras's "toy ResNet" shape: a conv, a residual block joined by layers.add, a head."""
    keras.manual_seed(seed)
    inputs = keras.Input((8, 8, 3), name="img")
    x = layers.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inputs)
    y = layers.Conv2D(4, 3, padding="same", activation="relu")(x)
    y = layers.Conv2D(4, 3, padding="same")(y)
    x = layers.ReLU()(layers.add([x, y]))
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="toy_resnet")


def two_in_two_out(seed: int = 0) -> keras.Model:
    keras.manual_seed(seed)
    a = keras.Input((3,), name="a")
    b = keras.Input((2,), name="b")
    h = layers.concatenate([layers.Dense(4, activation="tanh")(a), b], name="join")
    reg = layers.Dense(1, name="reg")(h)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    return keras.Model([a, b], [reg, cls])


def images(n: int = 24, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 3), dtype=np.float32), rng.integers(0, 3, n)


def test_dense_on_an_input_was_the_first_failure():
    """The issue's first failing line: Dense(...)(keras.Input(...)) raised TypeError."""
    inputs = keras.Input((4,))
    out = layers.Dense(2)(inputs)
    assert isinstance(out, layers.KerasTensor) and out.shape == (None, 2)
    model = keras.Model(inputs=inputs, outputs=out)
    assert isinstance(model, Functional) and isinstance(model, keras.Model)
    assert model.predict(np.ones((5, 4), np.float32)).shape == (5, 2)


def test_graph_runs_the_same_layers_as_by_hand():
    model = residual_model()
    x, _ = images(5)
    by_hand = model.get_layer("stem")(x)
    inner = model.layers[2](by_hand)
    inner = model.layers[3](inner)
    joined = np.maximum(by_hand.numpy() + inner.numpy(), 0).mean(axis=(1, 2))
    expected = model.get_layer("head")(joined).numpy()
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-5, atol=1e-6)
    assert model.output_shape == (None, 3) and model.input_shape == (None, 8, 8, 3)
    assert [type(layer).__name__ for layer in model.layers][:2] == ["InputLayer", "Conv2D"]
    assert model.get_layer(index=0).name == "img"


def test_residual_model_trains_saves_loads_and_keeps_its_numbers(tmp_path):
    model = residual_model()
    x, y = images()
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=6, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model.save(tmp_path / "toy")
    loaded = keras.load_model(tmp_path / "toy")
    assert isinstance(loaded, Functional) and loaded.name == "toy_resnet"
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    # the optimizer state came back too: one more step is the same step
    model.fit(x, y, batch_size=24, epochs=1, verbose=0, shuffle=False)
    loaded.fit(x, y, batch_size=24, epochs=1, verbose=0, shuffle=False)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6, atol=1e-7)


def test_replayed_training_equals_the_graph_on_every_batch():
    """fit replays later batches of a shape; a functional model's replay must give the graph's
    numbers (compile(jit_compile=False) keeps the graph on every batch)."""
    x, y = images(32)
    runs = []
    for jit in (True, False):
        model = residual_model(seed=3)
        model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy", jit_compile=jit)
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        runs.append(model.get_weights())
    for replayed, graph in zip(*runs, strict=True):
        np.testing.assert_array_equal(replayed, graph)


def test_two_inputs_two_outputs_run_save_and_come_back_by_name(tmp_path):
    model = two_in_two_out()
    assert model.input_names == ["a", "b"] and model.output_names == ["reg", "cls"]
    assert model.output_shape == [(None, 1), (None, 3)]
    xa, xb = np.ones((5, 3), np.float32), np.full((5, 2), 0.5, np.float32)
    reg, cls = model([xa, xb])
    by_name = model({"b": xb, "a": xa})
    np.testing.assert_array_equal(by_name[0].numpy(), reg.numpy())
    np.testing.assert_allclose(cls.numpy().sum(axis=1), 1.0, rtol=1e-6)
    model.save(tmp_path / "two")
    loaded = keras.load_model(tmp_path / "two")
    for got, want in zip(loaded([xa, xb]), (reg, cls), strict=True):
        np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert json.loads((tmp_path / "two" / "config.json").read_text())["input_shape"] is None


def test_dict_outputs_keep_their_keys():
    inputs = keras.Input((3,), name="x")
    model = keras.Model(inputs, {"double": layers.Dense(2)(inputs), "one": layers.Dense(1)(inputs)})
    out = model(np.ones((2, 3)))
    assert list(out) == ["double", "one"] and out["one"].shape == (2, 1)
    clone = model_from_json(model.to_json())
    assert list(clone(np.ones((2, 3)))) == ["double", "one"]


def test_shared_layer_is_one_layer_called_twice(tmp_path):
    inputs = keras.Input((4,))
    shared = layers.Dense(4, name="shared")
    model = keras.Model(inputs, shared(shared(inputs)))
    assert model.count_params() == 20
    x = np.random.default_rng(0).random((3, 4), dtype=np.float32)
    once = shared(x).numpy()
    np.testing.assert_allclose(model.predict(x), shared(once).numpy(), rtol=1e-6)
    config = json.loads(model.to_json())["model"]["config"]
    calls = next(item for item in config["layers"] if item["name"] == "shared")["inbound_nodes"]
    assert calls == [[["input_layer", 0, 0]], [["shared", 0, 0]]] or len(calls) == 2
    model.save(tmp_path / "shared")
    loaded = keras.load_model(tmp_path / "shared")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    lines = []
    model.summary(print_fn=lines.append)
    assert "shared[0][0]" in lines[0] and "shared with shared[0]" in lines[0]


def test_feature_extractor_from_a_sequential_and_from_a_graph_shares_weights():
    stack = keras.Sequential(
        [keras.Input((4,)), layers.Dense(5, name="hidden"), layers.Dense(2, name="out")]
    )
    features = keras.Model(stack.input, stack.get_layer("hidden").output)
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(features.predict(x), stack.get_layer("hidden")(x).numpy())
    assert features.get_layer("hidden") is stack.get_layer("hidden")
    graph = residual_model()
    stem = keras.Model(graph.input, graph.get_layer("stem").output)
    assert stem.output_shape == (None, 8, 8, 4)
    outs = keras.Model(graph.inputs, [layer.output for layer in graph.layers[1:3]])
    assert [o.shape for o in outs(images(2)[0])] == [(2, 8, 8, 4), (2, 8, 8, 4)]


def test_models_nest_inside_graphs_and_graphs_inside_sequentials(tmp_path):
    block = keras.Sequential([layers.Dense(3, activation="relu"), layers.Dense(3)], name="block")
    inputs = keras.Input((3,))
    graph = keras.Model(inputs, layers.add([inputs, block(inputs)]), name="residual")
    outer = keras.Sequential([keras.Input((3,)), graph, layers.Dense(1)])
    x = np.random.default_rng(2).random((4, 3), dtype=np.float32)
    expected = outer.layers[1](graph(x)).numpy()
    np.testing.assert_allclose(outer.predict(x), expected, rtol=1e-6)
    outer.save(tmp_path / "nested")
    np.testing.assert_array_equal(
        keras.load_model(tmp_path / "nested").predict(x), outer.predict(x)
    )


@pytest.mark.parametrize(
    ("merge", "numpy"),
    [
        (layers.add, lambda a, b: a + b),
        (layers.subtract, lambda a, b: a - b),
        (layers.multiply, lambda a, b: a * b),
        (layers.average, lambda a, b: (a + b) / 2),
        (layers.maximum, np.maximum),
        (layers.minimum, np.minimum),
        (layers.concatenate, lambda a, b: np.concatenate([a, b], axis=-1)),
    ],
)
def test_merge_functions_against_numpy_and_onnx(merge, numpy, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    a, b = keras.Input((3,), name="a"), keras.Input((3,), name="b")
    model = keras.Model([a, b], merge([a, b]))
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_allclose(model([xa, xb]).numpy(), numpy(xa, xb), rtol=1e-6)
    export_onnx(model, tmp_path / "m.onnx")
    (got,) = ort.InferenceSession(str(tmp_path / "m.onnx")).run(None, {"a": xa, "b": xb})
    np.testing.assert_allclose(got, numpy(xa, xb), rtol=1e-6)


def test_tensor_arithmetic_adds_merge_layers():
    a, b = keras.Input((2,)), keras.Input((2,))
    model = keras.Model([a, b], (a + b) * b - a)
    x, y = np.array([[1.0, 2.0]], np.float32), np.array([[3.0, 4.0]], np.float32)
    np.testing.assert_allclose(model([x, y]).numpy(), (x + y) * y - x)
    assert {type(layer).__name__ for layer in model.layers} >= {"Add", "Multiply", "Subtract"}


def test_onnx_export_of_graphs_matches_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = residual_model()
    x, _ = images(6)
    export_onnx(model, tmp_path / "toy.onnx")
    (got,) = ort.InferenceSession(str(tmp_path / "toy.onnx")).run(None, {"input": x})
    np.testing.assert_allclose(got, model.predict(x), atol=1e-4)
    two = two_in_two_out()
    export_onnx(two, tmp_path / "two.onnx")
    session = ort.InferenceSession(str(tmp_path / "two.onnx"))
    assert [o.name for o in session.get_outputs()] == ["reg", "cls"]
    xa, xb = np.ones((2, 3), np.float32), np.zeros((2, 2), np.float32)
    for got, want in zip(session.run(None, {"a": xa, "b": xb}), two([xa, xb]), strict=True):
        np.testing.assert_allclose(got, want.numpy(), atol=1e-4)


def test_summary_shows_the_connections():
    lines: list[str] = []
    two_in_two_out().summary(print_fn=lines.append)
    text = lines[0]
    assert "Connected to" in text
    assert "join (Concatenate)" in text
    row = next(line for line in text.splitlines() if line.startswith("cls (Dense)"))
    assert row.rstrip().endswith("join[0][0]") and "(6 + 1)·3 = 21" in row


def test_to_json_and_model_from_json_rebuild_the_architecture_with_fresh_weights():
    model = residual_model()
    text = model.to_json()
    assert "compile" not in json.loads(text)
    clone = model_from_json(text)
    assert isinstance(clone, Functional)
    assert [w.shape for w in clone.weights] == [w.shape for w in model.weights]
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    seq = keras.Sequential([keras.Input((3,)), layers.Dense(2)])
    assert model_from_json(seq.to_json(indent=2)).output_shape == (None, 2)
    with pytest.raises(ModelFileError, match="model_from_json"):
        model_from_json('{"format": "glassnet", "format_version": 1}')


# ---------------------------------------------------------------- errors a user can make
def test_a_disconnected_graph_names_the_missing_input():
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="forgotten")
    with pytest.raises(ValueError, match="depend on Input 'forgotten'.*Pass it in 'inputs'"):
        keras.Model(a, layers.add([a, b]))


def test_two_layers_with_one_name_are_refused():
    inputs = keras.Input((2,))
    x = layers.Dense(2, name="twin")(inputs)
    with pytest.raises(ValueError, match="two layers are named 'twin'"):
        keras.Model(inputs, layers.Dense(2, name="twin")(x))


def test_inputs_must_be_symbolic_and_come_from_input():
    inputs = keras.Input((2,))
    hidden = layers.Dense(2)(inputs)
    with pytest.raises(ValueError, match="must come straight from Input"):
        keras.Model(hidden, layers.Dense(1)(hidden))
    with pytest.raises(TypeError, match="must be a symbolic tensor"):
        keras.Model(inputs, np.ones(2))
    with pytest.raises(TypeError, match="mix of symbolic inputs"):
        layers.add([inputs, np.ones((1, 2))])


def test_wrong_data_is_named():
    model = two_in_two_out()
    with pytest.raises(ValueError, match=r"takes 2 inputs \(a, b\); received 1"):
        model([np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"inputs dict has no \['b'\]"):
        model({"a": np.ones((2, 3))})
    with pytest.raises(ValueError, match="InputLayer 'a': expected input shape"):
        model([np.ones((2, 4)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="Subtract .* takes exactly 2 inputs"):
        layers.subtract([keras.Input((2,))] * 3)
    with pytest.raises(ValueError, match="all inputs must have the same shape"):
        layers.add([keras.Input((2,)), keras.Input((3,))])


def test_a_layer_never_called_symbolically_has_no_output():
    with pytest.raises(AttributeError, match="has no output yet.*keras.Input"):
        _ = layers.Dense(2).output


def test_a_tampered_graph_in_a_file_is_refused(tmp_path):
    model = two_in_two_out()
    model.save(tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    config = json.loads(path.read_text())
    layers_config = config["model"]["config"]["layers"]
    reg = next(item for item in layers_config if item["name"] == "reg")
    reg["inbound_nodes"] = [[["nowhere", 0, 0]]]
    path.write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="'nowhere', which is not listed"):
        keras.load_model(tmp_path / "m")
    reg["inbound_nodes"] = [[["join", -1, 0]]]
    path.write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="refers to"):
        keras.load_model(tmp_path / "m")
    reg["inbound_nodes"] = [[["reg", 0, 0]]]  # a call that takes its own output
    path.write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="take outputs no call makes"):
        keras.load_model(tmp_path / "m")


def two_output_data(n: int = 48) -> tuple[dict, dict]:
    rng = np.random.default_rng(5)
    xa, xb = rng.random((n, 3), dtype=np.float32), rng.random((n, 2), dtype=np.float32)
    y = {"reg": xa.sum(axis=1, keepdims=True) - xb[:, :1], "cls": rng.integers(0, 3, n)}
    return {"a": xa, "b": xb}, y


def compiled_two(jit: bool = True) -> keras.Model:
    model = two_in_two_out(seed=7)
    model.compile(
        keras.optimizers.Adam(0.01),
        loss={"reg": "mse", "cls": "sparse_categorical_crossentropy"},
        loss_weights={"reg": 1.0, "cls": 0.5},
        metrics={"cls": ["accuracy"]},
        jit_compile=jit,
    )
    return model


def test_two_inputs_two_outputs_train_by_name_and_resume_after_loading(tmp_path):
    x, y = two_output_data()
    model = compiled_two()
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, shuffle=False)
    logs = history.history
    assert {"loss", "reg_loss", "cls_loss", "cls_accuracy"} <= set(logs)
    assert logs["loss"][-1] < logs["loss"][0]
    # the total is the weighted sum of the outputs' losses, as evaluate reports them
    scores = model.evaluate(x, y, return_dict=True)
    reg, cls = model.predict(x)
    mse = float(np.mean((reg - y["reg"]) ** 2))
    ce = float(-np.mean(np.log(cls[np.arange(len(cls)), y["cls"]])))
    np.testing.assert_allclose([scores["reg_loss"], scores["cls_loss"]], [mse, 0.5 * ce], rtol=1e-5)
    np.testing.assert_allclose(scores["loss"], mse + 0.5 * ce, rtol=1e-5)
    model.save(tmp_path / "two")
    loaded = keras.load_model(tmp_path / "two")
    assert loaded.loss_weights == {"reg": 1.0, "cls": 0.5}
    assert loaded.evaluate(x, y, return_dict=True) == pytest.approx(scores, rel=1e-6)
    for m in (model, loaded):
        m.fit(x, y, batch_size=48, epochs=1, verbose=0, shuffle=False)
    for got, want in zip(loaded.predict(x), model.predict(x), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_two_outputs_replay_as_the_graph_does():
    x, y = two_output_data()
    weights = []
    for jit in (True, False):
        model = compiled_two(jit)
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, shuffle=False)
        weights.append(model.get_weights())
    for replayed, graph in zip(*weights, strict=True):
        np.testing.assert_array_equal(replayed, graph)


def test_dict_outputs_train_replay_predict_and_save_by_name(tmp_path):
    inputs = keras.Input((3,), name="x")
    hidden = layers.Dense(8, activation="relu")(inputs)
    heads = {
        "double": layers.Dense(2)(hidden),
        "yes": layers.Dense(1, activation="sigmoid")(hidden),
    }
    model = keras.Model(inputs, heads)
    model.compile("adam", {"double": "mse", "yes": "binary_crossentropy"})
    x = np.random.default_rng(4).random((40, 3), dtype=np.float32)
    y = {"double": 2 * x[:, :2], "yes": (x[:, :1] > 0.5).astype(np.float32)}
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    assert {"double_loss", "yes_loss"} <= set(history.history)
    assert all(entry.verified for entry in model._replays.values())
    predicted = model.predict(x)
    assert list(predicted) == ["double", "yes"] and predicted["yes"].shape == (40, 1)
    assert list(model.predict_on_batch(x[:2])) == ["double", "yes"]
    model.save(tmp_path / "m")
    again = keras.load_model(tmp_path / "m").predict(x)
    np.testing.assert_array_equal(again["double"], predicted["double"])


def test_a_stack_built_without_an_input_still_gives_its_symbolic_ends():
    stack = keras.Sequential([layers.Dense(5, name="inner"), layers.Dense(2)])
    with pytest.raises(AttributeError, match="has no symbolic input.*build"):
        _ = stack.input
    stack.build((None, 4))
    features = keras.Model(stack.input, stack.get_layer("inner").output)
    assert features.predict(np.ones((2, 4), np.float32)).shape == (2, 5)


def test_integer_inputs_keep_token_ids_exact_and_save_their_dtype(tmp_path):
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    assert ids.dtype == "int32" and keras.Input(batch_shape=(8, 3)).shape == (8, 3)
    model = keras.Model(ids, layers.Embedding(50, 2)(ids))
    assert model.layers[0](np.array([[7, 9]])).dtype == np.int32  # ids stay integers
    np.testing.assert_array_equal(
        model.predict(np.array([[7, 9]]))[0], model.layers[1].embeddings.numpy()[[7, 9]]
    )
    model.save(tmp_path / "ids")
    assert keras.load_model(tmp_path / "ids").layers[0].dtype == "int32"
    with pytest.raises(TypeError, match="'dtype' must name a NumPy type"):
        keras.Input((3,), dtype="floaty")
    with pytest.raises(ValueError, match="either shape .* or batch_shape"):
        keras.Input((3,), batch_shape=(2, 3))


def test_a_subclassed_models_layers_and_keras_variable_names():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.first, self.second = layers.Dense(3), layers.Dense(2)

        def call(self, x):
            return self.second(self.first(x))

    net = Net()
    net.build((None, 4))
    assert net.layers == [net.first, net.second]
    assert net.trainable_variables == net.trainable_weights and len(net.variables) == 4
    assert net.non_trainable_variables == []

    class OwnList(keras.Model):  # an attribute called layers is the subclass's own
        def __init__(self):
            super().__init__()
            self.layers = [layers.Dense(2)]

        def call(self, x):
            return self.layers[0](x)

    assert len(OwnList().layers) == 1
