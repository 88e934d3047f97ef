"""Loss objects: Keras names and strings, settings, serialisation, values from the ops."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassnet as gn
from glassnet import Tensor, losses, ops
from glassnet import layers as L


def test_strings_resolve_to_keras_classes():
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert isinstance(losses.get("MAE"), losses.MeanAbsoluteError)
    assert isinstance(losses.get("binary_crossentropy"), losses.BinaryCrossentropy)
    assert isinstance(losses.get("categorical_crossentropy"), losses.CategoricalCrossentropy)
    assert isinstance(
        losses.get("sparse_categorical_crossentropy"), losses.SparseCategoricalCrossentropy
    )
    assert isinstance(losses.get("MeanSquaredError"), losses.MeanSquaredError)
    obj = losses.BinaryCrossentropy(from_logits=True)
    assert losses.get(obj) is obj
    with pytest.raises(
        ValueError, match="Unknown loss 'not_a_loss'. Known names: binary_crossentropy"
    ):
        losses.get("not_a_loss")


def test_serialize_round_trip():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.from_logits
    with pytest.raises(ValueError, match="Unknown loss class 'Evil'"):
        losses.deserialize({"class_name": "Evil", "config": {}})


def test_values_match_the_formulas():
    y_true = np.array([[1.0], [2.0]], np.float32)
    y_pred = Tensor(np.array([[1.5], [1.0]], np.float32), requires_grad=True)
    assert losses.get("mse")(y_true, y_pred).item() == pytest.approx((0.25 + 1.0) / 2)
    assert losses.get("mae")(y_true, y_pred).item() == pytest.approx(0.75)
    logits = Tensor(np.array([[2.0, 0.0, -1.0]], np.float32))
    p = np.exp([2.0, 0.0, -1.0]) / np.exp([2.0, 0.0, -1.0]).sum()
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)(np.array([0]), logits)
    assert loss.item() == pytest.approx(-np.log(p[0]), rel=1e-5)
    assert "from_logits=True" in repr(losses.BinaryCrossentropy(from_logits=True))


# ------------------------------------------------------------------ Keras's other losses
KERAS_NAMES = [
    ("huber", losses.Huber),
    ("Huber", losses.Huber),
    ("log_cosh", losses.LogCosh),
    ("logcosh", losses.LogCosh),
    ("LogCosh", losses.LogCosh),
    ("poisson", losses.Poisson),
    ("Poisson", losses.Poisson),
    ("hinge", losses.Hinge),
    ("Hinge", losses.Hinge),
    ("kl_divergence", losses.KLDivergence),
    ("kld", losses.KLDivergence),
    ("KLD", losses.KLDivergence),
    ("kullback_leibler_divergence", losses.KLDivergence),
    ("KLDivergence", losses.KLDivergence),
    ("cosine_similarity", losses.CosineSimilarity),
    ("CosineSimilarity", losses.CosineSimilarity),
]


@pytest.mark.parametrize(("name", "cls"), KERAS_NAMES)
def test_keras_strings_of_the_new_losses_resolve(name, cls):
    assert type(losses.get(name)) is cls
    model = gn.Sequential([L.Input((2,)), L.Dense(1)])
    model.compile("sgd", name)
    assert type(model.loss) is cls


def test_new_losses_have_keras_default_names():
    names = {
        losses.Huber: "huber_loss",
        losses.LogCosh: "log_cosh",
        losses.Poisson: "poisson",
        losses.Hinge: "hinge",
        losses.KLDivergence: "kl_divergence",
        losses.CosineSimilarity: "cosine_similarity",
    }
    for cls, name in names.items():
        assert cls().name == name
        assert cls(name="mine").name == "mine"


@pytest.mark.parametrize(
    "loss",
    [
        losses.Huber(delta=2.5, name="robust"),
        losses.Huber(),
        losses.LogCosh(),
        losses.Poisson(),
        losses.Hinge(name="svm"),
        losses.KLDivergence(),
        losses.CosineSimilarity(axis=1),
    ],
    ids=repr,
)
def test_new_losses_round_trip_through_config(loss):
    config = loss.get_config()
    assert json.loads(json.dumps(config)) == config  # JSON-safe
    again = type(loss).from_config(config)
    assert type(again) is type(loss) and again.get_config() == config
    again = losses.deserialize(losses.serialize(loss))
    assert type(again) is type(loss) and again.get_config() == config


def test_new_losses_settings_reach_the_function(rng):
    y, p = rng.normal(size=(4, 3)), Tensor(rng.normal(0, 3, (4, 3)))
    assert losses.Huber(delta=0.3)(y, p).item() == ops.huber(y, p, delta=0.3).item()
    assert losses.Huber()(y, p).item() == ops.huber(y, p, delta=1.0).item()
    assert losses.get("huber")(y, p).item() == ops.huber(y, p).item()
    cos = losses.CosineSimilarity(axis=0)(y, p).item()
    assert cos == ops.cosine_similarity(y, p, axis=0).item()
    assert cos != ops.cosine_similarity(y, p).item()
    assert losses.get("log_cosh")(y, p).item() == ops.log_cosh(y, p).item()
    assert losses.get("hinge")(y, p).item() == ops.hinge(y, p).item()
    q = Tensor(rng.uniform(0.1, 1.0, (4, 3)))
    assert losses.get("kld")(y**2, q).item() == ops.kl_divergence(y**2, q).item()
    assert losses.get("poisson")(y**2, q).item() == ops.poisson(y**2, q).item()
    assert repr(losses.Huber(delta=2)) == "Huber(delta=2.0, name='huber_loss')"


def test_new_losses_argument_errors_name_the_culprit():
    with pytest.raises(ValueError, match=r"Huber: delta must be positive.*received delta=-1"):
        losses.Huber(delta=-1)
    with pytest.raises(ValueError, match=r"Huber: delta must be positive.*received delta=0"):
        losses.Huber(delta=0)
    with pytest.raises(TypeError, match=r"Huber: delta must be a number.*delta='big'"):
        losses.Huber(delta="big")
    with pytest.raises(TypeError, match=r"CosineSimilarity: axis must be an integer.*axis=1.0"):
        losses.CosineSimilarity(axis=1.0)
    with pytest.raises(TypeError, match=r"CosineSimilarity: axis must be an integer.*bool"):
        losses.CosineSimilarity(axis=True)
    with pytest.raises(ValueError, match=r"cosine_similarity: axis is out of range.*axis=3"):
        losses.CosineSimilarity(axis=3)(np.ones((2, 3)), Tensor(np.ones((2, 3))))
    with pytest.raises(ValueError, match=r"huber: .*y_true \(4, 3\) and y_pred \(4, 2\)"):
        losses.Huber()(np.zeros((4, 3)), Tensor(np.zeros((4, 2))))


def _regression(rng, n=64):
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)


def _training_problem(name, rng):
    """(model layers after the input, x, y) for a tiny problem the loss suits."""
    if name in ("huber", "log_cosh"):
        x, y = _regression(rng)
        y[::16] += 25.0  # a few outliers: what these losses are for
        return [L.Dense(1)], x, y
    if name == "poisson":
        x = rng.normal(size=(64, 3)).astype(np.float32)
        counts = rng.poisson(np.exp(0.3 + x @ np.array([0.5, -0.4, 0.2])))
        return [L.Dense(1, activation=ops.exp)], x, counts[:, None].astype(np.float32)
    if name == "hinge":
        x = rng.normal(size=(64, 3)).astype(np.float32)
        return [L.Dense(1)], x, (x[:, :1] - x[:, 1:2] > 0).astype(np.float32)  # 0/1 labels
    if name == "kl_divergence":
        x = rng.normal(size=(64, 3)).astype(np.float32)
        z = x @ rng.normal(size=(3, 4))
        target = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        return [L.Dense(4, activation="softmax")], x, target.astype(np.float32)
    x = rng.normal(size=(64, 3)).astype(np.float32)  # cosine_similarity
    return [L.Dense(4)], x, (x @ rng.normal(size=(3, 4))).astype(np.float32)


@pytest.mark.parametrize(
    "name", ["huber", "log_cosh", "poisson", "hinge", "kl_divergence", "cosine_similarity"]
)
def test_a_tiny_model_learns_with_each_new_loss(name, rng):
    layers, x, y = _training_problem(name, rng)
    gn.set_seed(0)
    model = gn.Sequential([L.Input((3,)), *layers])
    model.compile(gn.optimizers.Adam(0.05), name)
    before = model.evaluate(x, y)
    history = model.fit(x, y, epochs=20, batch_size=16, verbose=0)
    after = model.evaluate(x, y)
    assert np.isfinite(history.history["loss"]).all()
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert after < before - 0.05 * abs(before), (before, after)


def test_a_model_saved_with_huber_keeps_its_delta(tmp_path, rng):
    x, y = _regression(rng, 16)
    model = gn.Sequential([L.Input((3,)), L.Dense(1)])
    model.compile("sgd", losses.Huber(delta=0.25))
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m")
    loaded = gn.load_model(tmp_path / "m")
    assert isinstance(loaded.loss, losses.Huber) and loaded.loss.delta == 0.25


# ------------------------------------------------------------------ sample weights
def _weighted_cases(rng):
    """(loss, y_true, y_pred) for every loss, predictions (6, 4) away from kinks."""
    p = rng.uniform(0.1, 0.9, (6, 4))
    probs = p / p.sum(axis=1, keepdims=True)
    onehot = np.eye(4)[rng.integers(0, 4, 6)]
    z = rng.normal(size=(6, 4))
    return [
        (losses.MeanSquaredError(), rng.normal(size=(6, 4)), z),
        (losses.MeanAbsoluteError(), z + rng.choice([-1, 1], (6, 4)), z),
        (losses.Huber(delta=0.5), rng.normal(size=(6, 4)), z),
        (losses.LogCosh(), rng.normal(size=(6, 4)), z),
        (losses.Poisson(), rng.poisson(2, (6, 4)).astype(float), p),
        (losses.Hinge(), rng.choice([-1.0, 1.0], (6, 4)), z),
        (losses.KLDivergence(), probs[::-1].copy(), probs),
        (losses.CosineSimilarity(), rng.normal(size=(6, 4)), z),
        (losses.BinaryCrossentropy(), (p > 0.5).astype(float), p),
        (losses.BinaryCrossentropy(from_logits=True), (p > 0.5).astype(float), z),
        (losses.CategoricalCrossentropy(), onehot, probs),
        (losses.CategoricalCrossentropy(from_logits=True), onehot, z),
        (losses.SparseCategoricalCrossentropy(), onehot.argmax(1), probs),
        (losses.SparseCategoricalCrossentropy(from_logits=True), onehot.argmax(1), z),
    ]


@pytest.mark.parametrize("case", range(14))
def test_sample_weight_gives_keras_sum_over_batch_size(case, rng):
    """sum(w_i * loss_i) / N, loss_i the loss of sample i alone; its gradient is w_i times
    the gradient of the unweighted per-sample term (finite differences, float64)."""
    loss, y, p = _weighted_cases(rng)[case]
    w = rng.uniform(0, 3, 6)
    per_sample = np.array(
        [float(loss(y[i : i + 1], Tensor(p[i : i + 1])).item()) for i in range(6)]
    )
    want = np.sum(w * per_sample) / 6
    pred = Tensor(p, requires_grad=True)
    got = loss(y, pred, sample_weight=w)
    assert got.shape == () and got.dtype == np.float64
    assert float(got.item()) == pytest.approx(want, rel=1e-10)
    got.backward()
    eps, grad = 1e-6, np.zeros_like(p)
    for index in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[index] += eps
        down[index] -= eps
        value = (
            float(loss(y, Tensor(up), sample_weight=w).item())
            - float(loss(y, Tensor(down), sample_weight=w).item())
        ) / (2 * eps)
        grad[index] = value
    np.testing.assert_allclose(pred.grad, grad, rtol=1e-4, atol=1e-7)
    unweighted = float(loss(y, Tensor(p)).item())
    assert float(loss(y, Tensor(p), sample_weight=np.ones(6)).item()) == pytest.approx(unweighted)


def test_sample_weight_per_position_and_float32(rng):
    """Weights (N, T) for predictions (N, T, D): each position weighed, float32 kept."""
    y = rng.normal(size=(3, 5, 2)).astype(np.float32)
    p = rng.normal(size=(3, 5, 2)).astype(np.float32)
    w = rng.uniform(0, 2, (3, 5)).astype(np.float32)
    got = losses.MeanSquaredError()(y, Tensor(p), sample_weight=w)
    assert got.dtype == np.float32
    want = np.sum(w * ((p - y) ** 2).mean(axis=-1)) / 15
    assert float(got.item()) == pytest.approx(float(want), rel=1e-5)


def test_sample_weight_errors_name_the_culprit(rng):
    p = Tensor(rng.normal(size=(4, 3)))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(5,\) does not fit y_pred"):
        losses.MeanSquaredError()(np.zeros((4, 3)), p, sample_weight=np.ones(5))
    with pytest.raises(ValueError, match=r"sample_weight of shape \(4, 3\) does not fit"):
        losses.CategoricalCrossentropy()(np.eye(3)[[0, 1, 2, 0]], p, sample_weight=np.ones((4, 3)))

    class Mine(losses.Loss):
        def call(self, y_true, y_pred):
            return ops.mean_squared_error(y_true, y_pred)

    with pytest.raises(TypeError, match="Mine: this loss takes no sample_weight"):
        Mine()(np.zeros((4, 3)), p, sample_weight=np.ones(4))


# ------------------------------------------------------------------ label smoothing
@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("from_logits", [True, False])
def test_label_smoothing_matches_torch_cross_entropy(epsilon, from_logits, torch, rng):
    """PyTorch's CrossEntropyLoss(label_smoothing=ε) aims at (1 − ε)·onehot + ε / K, for
    class ids (the sparse loss) and for one-hot rows (Keras's CategoricalCrossentropy)."""
    z = rng.normal(0, 2, (6, 4)).astype(np.float32)
    ids = rng.integers(0, 4, 6)
    t = torch.tensor(z, requires_grad=True)
    want = torch.nn.functional.cross_entropy(t, torch.tensor(ids), label_smoothing=epsilon)
    want.backward()
    onehot = np.eye(4, dtype=np.float32)[ids]
    for loss, target in [
        (losses.SparseCategoricalCrossentropy, ids),
        (losses.CategoricalCrossentropy, onehot),
    ]:
        x = Tensor(z, requires_grad=True)
        y_pred = x if from_logits else ops.softmax(x)
        got = loss(from_logits=from_logits, label_smoothing=epsilon)(target, y_pred)
        got.backward()
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-5)
        np.testing.assert_allclose(x.grad, t.grad.numpy(), atol=1e-6)


def test_label_smoothing_on_probabilities_without_a_softmax_graph(rng):
    """Probabilities that did not come from a softmax op go through the clipped formula."""
    p = rng.dirichlet(np.ones(3), size=5).astype(np.float32)
    ids = rng.integers(0, 3, 5)
    target = 0.9 * np.eye(3)[ids] + 0.1 / 3
    want = -np.mean(np.sum(target * np.log(np.clip(p, 1e-7, 1 - 1e-7)), axis=1))
    got = losses.SparseCategoricalCrossentropy(label_smoothing=0.1)(ids, Tensor(p)).item()
    assert got == pytest.approx(want, rel=1e-5)


def test_label_smoothing_config_and_errors():
    loss = losses.SparseCategoricalCrossentropy(label_smoothing=0.1)
    assert loss.get_config() == {
        "label_smoothing": 0.1,
        "from_logits": False,
        "name": "sparse_categorical_crossentropy",
    }
    again = losses.deserialize(losses.serialize(loss))
    assert again.label_smoothing == 0.1
    with pytest.raises(ValueError, match=r"'label_smoothing' must be in \[0, 1\].*=1.5"):
        losses.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(TypeError, match=r"'label_smoothing' must be a real number"):
        losses.SparseCategoricalCrossentropy(label_smoothing="0.1")
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: 'label_smoothing'"):
        ops.sparse_categorical_crossentropy([0], Tensor([[0.5, 0.5]]), label_smoothing=-0.1)
