"""Metrics: running averages over batches, Keras's string names, confusion matrix, and the
threshold metrics (Precision, Recall, AUC, F1) against scikit-learn and plain NumPy."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from sklearn import metrics as skm

import glassnet as gn
from glassnet import Tensor, metrics
from glassnet import layers as L


def test_sparse_accuracy_accumulates_over_batches():
    m = metrics.SparseCategoricalAccuracy()
    m.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))  # 1 of 2
    m.update_state(np.array([1]), Tensor(np.array([[0.1, 0.9]], np.float32)))  # 1 of 1
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    assert m.result() == 0.0
    m.update_state(np.eye(2), np.array([[0.9, 0.1], [0.8, 0.2]]))  # one-hot rows: argmax
    assert m.result() == 0.5


def test_accuracy_variants():
    cat = metrics.CategoricalAccuracy()
    cat.update_state(np.eye(3), np.array([[0.5, 0.2, 0.3], [0.1, 0.2, 0.7], [0, 0, 1.0]]))
    assert cat.result() == pytest.approx(2 / 3)
    binary = metrics.BinaryAccuracy()
    binary.update_state(np.array([[1], [0], [1], [0]]), np.array([[0.7], [0.4], [0.2], [0.6]]))
    assert binary.result() == 0.5


def test_accuracy_string_follows_the_loss_like_keras():
    assert isinstance(metrics.get("accuracy"), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("acc", "binary_crossentropy"), metrics.BinaryAccuracy)
    assert isinstance(
        metrics.get("accuracy", "categorical_crossentropy"), metrics.CategoricalAccuracy
    )
    assert isinstance(
        metrics.get("accuracy", "sparse_categorical_crossentropy"),
        metrics.SparseCategoricalAccuracy,
    )
    mae = metrics.get("mae")
    mae.update_state(np.array([1.0, 2.0]), np.array([1.5, 1.0]))
    assert mae.result() == pytest.approx(0.75) and mae.name == "mae"
    with pytest.raises(ValueError, match="Unknown metric 'f1'. Known names: accuracy"):
        metrics.get("f1")


def test_mean_is_weighted_by_samples():
    m = metrics.Mean()
    m.update_state(1.0, sample_weight=3)
    m.update_state(3.0, sample_weight=1)
    assert m.result() == pytest.approx(1.5)


def test_confusion_matrix():
    cm = metrics.confusion_matrix(
        [0, 1, 2, 2], np.array([[1, 0, 0], [0, 0, 1], [0, 0, 1], [0, 1, 0]])
    )
    np.testing.assert_array_equal(cm, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])
    assert metrics.confusion_matrix([0, 1], [1, 1], num_classes=3).shape == (3, 3)


# ---------------------------------------------------------------- Keras's string names
KERAS_NAMES = {
    "precision": metrics.Precision,
    "recall": metrics.Recall,
    "auc": metrics.AUC,
    "f1_score": metrics.F1Score,
    "fbeta_score": metrics.FBetaScore,
    "top_k_categorical_accuracy": metrics.TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": metrics.SparseTopKCategoricalAccuracy,
    "mae": metrics.MeanAbsoluteError,
    "mean_absolute_error": metrics.MeanAbsoluteError,
}


@pytest.mark.parametrize("name", sorted(KERAS_NAMES))
def test_keras_string_names_and_class_names(name):
    metric = metrics.get(name)
    assert type(metric) is KERAS_NAMES[name] and metric.name == name
    by_class = metrics.get(KERAS_NAMES[name].__name__)  # "F1Score", "AUC", ...
    assert type(by_class) is KERAS_NAMES[name]
    config = metric.get_config()
    json.dumps(config)
    again = type(metric).from_config(config)
    assert again.get_config() == config


def test_default_names_and_arguments_are_keras_s():
    assert metrics.Precision().name == "precision" and metrics.Recall().name == "recall"
    assert metrics.AUC().name == "auc" and metrics.AUC().num_thresholds == 200
    assert metrics.F1Score().name == "f1_score" and metrics.F1Score().average is None
    assert metrics.TopKCategoricalAccuracy().k == 5
    assert metrics.SparseTopKCategoricalAccuracy().k == 5
    assert metrics.MeanAbsoluteError().name == "mae"
    assert "beta" not in metrics.F1Score().get_config()


# ---------------------------------------------------------------- Keras's documented examples
def test_keras_documented_examples():
    """The examples in Keras's docstrings, with Keras's printed answers."""
    m = metrics.Precision()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert m.result() == pytest.approx(2 / 3)
    m.reset_state()
    m.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert m.result() == 1.0
    m = metrics.Precision(top_k=2)  # ties: the first two columns are the top 2
    m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert m.result() == 0.0
    m = metrics.Precision(top_k=4)
    m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
    assert m.result() == 0.5

    r = metrics.Recall()
    r.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    assert r.result() == pytest.approx(2 / 3)
    r.reset_state()
    r.update_state([0, 1, 1, 1], [1, 0, 1, 1], sample_weight=[0, 0, 1, 0])
    assert r.result() == 1.0

    auc = metrics.AUC(num_thresholds=3)
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    assert auc.result() == pytest.approx(0.75)
    np.testing.assert_array_equal(auc.true_positives, [2, 1, 0])
    np.testing.assert_array_equal(auc.false_positives, [2, 0, 0])
    auc.reset_state()
    auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
    assert auc.result() == pytest.approx(1.0)

    f1 = metrics.F1Score(threshold=0.5)
    y_true = np.array([[1, 1, 1], [1, 0, 0], [1, 1, 0]], np.int32)
    y_pred = np.array([[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]], np.float32)
    f1.update_state(y_true, y_pred)
    np.testing.assert_allclose(f1.result(), [0.5, 0.8, 2 / 3], rtol=1e-6)

    top = metrics.TopKCategoricalAccuracy(k=1)
    onehot, scores = [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
    top.update_state(onehot, scores)
    assert top.result() == 0.5
    top.reset_state()
    top.update_state(onehot, scores, sample_weight=[0.7, 0.3])
    assert top.result() == pytest.approx(0.3)
    sparse = metrics.SparseTopKCategoricalAccuracy(k=1)
    sparse.update_state([2, 1], scores)
    assert sparse.result() == 0.5
    sorted_ids = metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
    sorted_ids.update_state([2, 1], [[1, 0, 3], [1, 2, 3]])
    assert sorted_ids.result() == 0.5


# ---------------------------------------------------------------- data
def binary_data(rng, n=600):
    y = rng.integers(0, 2, n)
    p = np.clip(0.35 * y + 0.65 * rng.random(n), 0.0, 1.0)  # informative, spread over [0, 1]
    w = rng.uniform(0.1, 2.0, n)
    return y, p, w


def batches(n, sizes=(7, 100, 1, 250)):
    """Uneven batches covering 0 … n (the last one takes the rest)."""
    edges = [e for e in np.cumsum([0, *sizes]) if e < n] + [n]
    return [slice(a, b) for a, b in itertools.pairwise(edges)]


def stream(metric, y, p, w=None):
    for s in batches(len(y)):
        metric.update_state(y[s], p[s], sample_weight=None if w is None else w[s])
    return metric.result()


# ---------------------------------------------------------------- Precision and Recall
@pytest.mark.parametrize("weighted", [False, True])
def test_precision_and_recall_match_scikit_learn(rng, weighted):
    y, p, w = binary_data(rng)
    w = w if weighted else None
    for cls, ref in ((metrics.Precision, skm.precision_score), (metrics.Recall, skm.recall_score)):
        expected = ref(y, p > 0.5, sample_weight=w)
        one = cls()
        one.update_state(y, p[:, None], sample_weight=w)  # (N,) labels for (N, 1) scores
        assert one.result() == pytest.approx(expected, rel=1e-12)
        assert stream(cls(), y, p, w) == pytest.approx(expected, rel=1e-12)
        thresholds = [0.2, 0.7, 0.5]
        several = stream(cls(thresholds=thresholds), y, p, w)
        assert isinstance(several, np.ndarray) and several.shape == (3,)
        np.testing.assert_allclose(
            several, [ref(y, p > t, sample_weight=w) for t in thresholds], rtol=1e-12
        )


def test_precision_recall_class_id_and_top_k(rng):
    n, k = 300, 4
    scores = rng.random((n, k))
    labels = rng.integers(0, k, n)
    onehot = np.eye(k)[labels]
    for cls, ref in ((metrics.Precision, skm.precision_score), (metrics.Recall, skm.recall_score)):
        m = cls(class_id=2)
        m.update_state(labels, scores)  # class ids are made one-hot
        assert m.result() == pytest.approx(ref(onehot[:, 2], scores[:, 2] > 0.5))
        # top_k: only each row's 2 highest scores can be a yes (every kept score, no 0.5 rule)
        top2 = np.argsort(-scores, axis=1)[:, :2]
        called = np.zeros((n, k), bool)
        np.put_along_axis(called, top2, True, axis=1)
        m = cls(top_k=2, class_id=1)
        m.update_state(onehot, scores)
        assert m.result() == pytest.approx(ref(onehot[:, 1], called[:, 1]))
        m = cls(top_k=2, thresholds=0.6)
        m.update_state(onehot, scores)
        keep = called & (scores > 0.6)
        assert m.result() == pytest.approx(ref(onehot.ravel(), keep.ravel()))
    empty = metrics.Precision()
    empty.update_state([0, 0], [0.1, 0.2])  # nothing called yes: 0, as Keras
    assert empty.result() == 0.0


# ---------------------------------------------------------------- AUC
def keras_auc_reference(y, p, w, num_thresholds=200, curve="ROC", summation="interpolation"):
    """Keras's documented approximation, written out plainly: confusion counts at −ε,
    1/(n−1), …, (n−2)/(n−1), 1+ε by comparing every score with every threshold, then a
    Riemann sum (trapezoids; Davis & Goadrich interpolation for PR)."""
    eps = 1e-7
    thresholds = np.array(
        [-eps] + [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)] + [1 + eps]
    )
    yes = p[:, None] > thresholds[None, :]
    pos, neg = (y == 1)[:, None], (y == 0)[:, None]
    ww = w[:, None]
    tp, fp = (ww * (yes & pos)).sum(0), (ww * (yes & neg)).sum(0)
    fn, tn = (ww * (~yes & pos)).sum(0), (ww * (~yes & neg)).sum(0)

    def div(a, b):
        return a / b if b != 0 else 0.0

    total = 0.0
    for i in range(num_thresholds - 1):
        if curve == "PR" and summation == "interpolation":
            dtp = tp[i] - tp[i + 1]
            p0, p1 = tp[i] + fp[i], tp[i + 1] + fp[i + 1]
            slope = div(dtp, max(p0 - p1, 0))
            intercept = tp[i + 1] - slope * p1
            ratio = p0 / p1 if p0 > 0 and p1 > 0 else 1.0
            total += div(slope * (dtp + intercept * np.log(ratio)), max(tp[i + 1] + fn[i + 1], 0))
            continue
        if curve == "ROC":
            x = [div(fp[j], fp[j] + tn[j]) for j in (i, i + 1)]
            h = [div(tp[j], tp[j] + fn[j]) for j in (i, i + 1)]
        else:
            x = [div(tp[j], tp[j] + fn[j]) for j in (i, i + 1)]
            h = [div(tp[j], tp[j] + fp[j]) for j in (i, i + 1)]
        height = {"interpolation": sum(h) / 2, "minoring": min(h), "majoring": max(h)}[summation]
        total += (x[0] - x[1]) * height
    return total


@pytest.mark.parametrize(
    ("curve", "summation"),
    [
        ("ROC", "interpolation"),
        ("PR", "interpolation"),
        ("ROC", "minoring"),
        ("ROC", "majoring"),
        ("PR", "minoring"),
        ("PR", "majoring"),
    ],
)
def test_auc_equals_keras_interpolation_written_out(rng, curve, summation):
    y, p, w = binary_data(rng)
    for weights, num_thresholds in ((None, 200), (w, 200), (w, 17)):
        m = metrics.AUC(num_thresholds=num_thresholds, curve=curve, summation_method=summation)
        got = stream(m, y, p, weights)
        ref_w = np.ones(len(y)) if weights is None else weights
        expected = keras_auc_reference(y, p, ref_w, num_thresholds, curve, summation)
        assert got == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_auc_approximates_scikit_learn(rng):
    """200 thresholds approximate the exact areas; the gap shrinks as thresholds grow."""
    y, p, w = binary_data(rng, n=2000)
    for weights in (None, w):
        roc = stream(metrics.AUC(), y, p, weights)
        assert roc == pytest.approx(skm.roc_auc_score(y, p, sample_weight=weights), abs=2e-3)
        pr = stream(metrics.AUC(curve="PR"), y, p, weights)
        exact = skm.average_precision_score(y, p, sample_weight=weights)
        assert pr == pytest.approx(exact, abs=5e-3)
    coarse = stream(metrics.AUC(num_thresholds=5), y, p)
    fine = stream(metrics.AUC(num_thresholds=2000), y, p)
    exact = skm.roc_auc_score(y, p)
    assert abs(fine - exact) < abs(coarse - exact) and abs(fine - exact) < 2e-4


def test_auc_multi_label_logits_and_explicit_thresholds(rng):
    n, k = 400, 3
    y = rng.integers(0, 2, (n, k))
    p = np.clip(0.3 * y + 0.7 * rng.random((n, k)), 0, 1)
    ones = np.ones(n)
    per_label = [keras_auc_reference(y[:, j], p[:, j], ones) for j in range(k)]
    multi = metrics.AUC(multi_label=True)
    assert stream(multi, y, p) == pytest.approx(np.mean(per_label), rel=1e-10)
    weighted = metrics.AUC(multi_label=True, label_weights=[1.0, 0.0, 3.0])
    expected = (per_label[0] + 3 * per_label[2]) / 4
    assert stream(weighted, y, p) == pytest.approx(expected, rel=1e-10)
    pooled = metrics.AUC()  # several columns, one curve: every (sample, label) a point
    assert stream(pooled, y, p) == pytest.approx(
        keras_auc_reference(y.ravel(), p.ravel(), np.ones(n * k)), rel=1e-10
    )
    pooled_weighted = metrics.AUC(label_weights=[1.0, 0.0, 3.0])
    lw = np.broadcast_to([1.0, 0.0, 3.0], (n, k)).ravel()
    assert stream(pooled_weighted, y, p) == pytest.approx(
        keras_auc_reference(y.ravel(), p.ravel(), lw), rel=1e-10
    )
    logits = np.log(p[:, 0] + 1e-3) - np.log(1 - p[:, 0] + 1e-3)
    from_logits = metrics.AUC(from_logits=True)
    from_logits.update_state(y[:, 0], logits)
    plain = metrics.AUC()
    plain.update_state(y[:, 0], 1 / (1 + np.exp(-logits)))
    assert from_logits.result() == pytest.approx(plain.result(), rel=1e-12)
    # explicit thresholds: the same as the evenly spaced ones they spell out
    explicit = metrics.AUC(thresholds=[(i + 1) / 199 for i in range(198)])
    assert explicit.num_thresholds == 200
    assert stream(explicit, y[:, 0], p[:, 0]) == pytest.approx(
        stream(metrics.AUC(), y[:, 0], p[:, 0]), rel=1e-12
    )


# ---------------------------------------------------------------- F1 and F-beta
@pytest.mark.parametrize("average", [None, "micro", "macro", "weighted"])
def test_f1_score_matches_scikit_learn(rng, average):
    n, k = 500, 4
    labels = rng.integers(0, k, n)
    labels[labels == 3] = 2  # class 3 never true: its F1 is 0 in both
    scores = rng.random((n, k)) + 0.4 * np.eye(k)[labels]
    w = rng.uniform(0.1, 2.0, n)
    for weights in (None, w):
        expected = skm.f1_score(
            labels,
            scores.argmax(1),
            labels=range(k),
            average=average,
            sample_weight=weights,
            zero_division=0,
        )
        got = stream(metrics.F1Score(average=average), np.eye(k)[labels], scores, weights)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
        sparse = stream(metrics.F1Score(average=average), labels, scores, weights)
        np.testing.assert_allclose(sparse, expected, rtol=1e-12, atol=1e-15)
    # multi-label with a threshold, and F-beta
    multi = rng.integers(0, 2, (n, k))
    probs = np.clip(0.3 * multi + 0.7 * rng.random((n, k)), 0, 1)
    expected = skm.f1_score(multi, probs > 0.4, average=average, zero_division=0)
    got = stream(metrics.F1Score(average=average, threshold=0.4), multi, probs)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    expected = skm.fbeta_score(multi, probs > 0.5, beta=2.0, average=average, zero_division=0)
    got = stream(metrics.FBetaScore(average=average, beta=2.0, threshold=0.5), multi, probs)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


# ---------------------------------------------------------------- top-k
def test_top_k_accuracy_matches_numpy(rng):
    n, k_classes = 400, 10
    scores = rng.random((n, k_classes))
    labels = rng.integers(0, k_classes, n)
    w = rng.uniform(0.1, 2.0, n)
    ranking = np.argsort(-scores, axis=1)
    for k in (1, 3, 5, 10, 12):
        hit = (ranking[:, :k] == labels[:, None]).any(axis=1)
        for weights, expected in ((None, hit.mean()), (w, np.sum(w * hit) / np.sum(w))):
            sparse = stream(metrics.SparseTopKCategoricalAccuracy(k), labels, scores, weights)
            assert sparse == pytest.approx(expected, rel=1e-12)
            onehot = np.eye(k_classes)[labels]
            dense = stream(metrics.TopKCategoricalAccuracy(k), onehot, scores, weights)
            assert dense == pytest.approx(expected, rel=1e-12)
            column = stream(metrics.SparseTopKCategoricalAccuracy(k), labels[:, None], scores)
            assert column == pytest.approx(hit.mean(), rel=1e-12)
    tied = metrics.SparseTopKCategoricalAccuracy(k=1)  # a tie with the best counts as found
    tied.update_state([1], [[0.5, 0.5, 0.1]])
    assert tied.result() == 1.0


def test_mean_absolute_error_streams_with_sample_weight(rng):
    y, p = rng.normal(size=(90, 3)), rng.normal(size=(90, 3))
    w = rng.uniform(0.1, 2.0, 90)
    per_sample = np.abs(y - p).mean(axis=1)
    got = stream(metrics.get("mae"), y, p, w)
    assert got == pytest.approx(np.sum(w * per_sample) / np.sum(w), rel=1e-12)
    assert got == pytest.approx(skm.mean_absolute_error(y, p, sample_weight=w), rel=1e-12)


def test_reset_state_and_call(rng):
    y, p, _ = binary_data(rng, 50)
    for metric in (metrics.Precision(), metrics.Recall(), metrics.AUC(), metrics.F1Score()):
        if isinstance(metric, metrics.F1Score):
            fresh = metric(np.eye(2)[y], np.stack([1 - p, p], 1))
            metric.reset_state()
            assert metric.true_positives.size == 0
            np.testing.assert_array_equal(metric.result(), [])
        else:
            fresh = metric(y, p)
            metric.reset_state()
            assert metric.result() == 0.0
            assert metric(y, p) == fresh


def test_state_vector_adds_up_like_ranks_of_a_distributed_run(rng):
    """Two 'ranks' each see half the data; their summed state equals one metric fed it all."""
    y, p, _ = binary_data(rng, 200)
    both = np.stack([1 - p, p], 1)

    def fresh():
        return [
            metrics.AUC(curve="PR"),
            metrics.Precision(thresholds=[0.3, 0.6]),
            metrics.F1Score(average="macro"),
            metrics.BinaryAccuracy(),
        ]

    def feed(ms, s):
        for m in ms:
            m.update_state(
                np.eye(2)[y[s]] if isinstance(m, metrics.F1Score) else y[s],
                both[s] if isinstance(m, metrics.F1Score) else p[s],
            )
        return ms

    whole = feed(fresh(), slice(None))
    rank0, rank1 = feed(fresh(), slice(0, 120)), feed(fresh(), slice(120, None))
    summed = metrics.state_vector(rank0) + metrics.state_vector(rank1)
    metrics.load_state_vector(rank0, summed)
    np.testing.assert_allclose(
        list(metrics.results(rank0).values()), list(metrics.results(whole).values()), rtol=1e-12
    )
    with pytest.raises(ValueError, match="has 3 numbers"):
        metrics.load_state_vector(rank0, np.zeros(3))


# ---------------------------------------------------------------- in fit
def two_moons(n=160, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 2)) + np.where(y[:, None] == 1, 1.5, -1.5)
    return x.astype(np.float32), y.astype(np.float32)


def test_fit_history_has_the_metrics_and_their_val_keys():
    x, y = two_moons()
    gn.set_seed(0)
    model = gn.Sequential([L.Input((2,)), L.Dense(8, activation="relu"), L.Dense(1, "sigmoid")])
    model.compile(
        "adam",
        "binary_crossentropy",
        metrics=["precision", "recall", "auc", metrics.F1Score(threshold=0.5), "mae"],
    )
    history = model.fit(
        x[:120], y[:120], epochs=3, batch_size=16, validation_data=(x[120:], y[120:]), verbose=0
    )
    names = ["precision", "recall", "auc", "f1_score", "mae"]
    assert set(history.history) == {"loss", "val_loss", *names, *(f"val_{k}" for k in names)}
    assert all(len(v) == 3 for v in history.history.values())
    assert model.metrics_names == ["loss", *names]
    logs = model.evaluate(x[120:], y[120:], return_dict=True)
    probs = model.predict(x[120:])[:, 0]
    truth = y[120:]
    assert logs["precision"] == pytest.approx(skm.precision_score(truth, probs > 0.5))
    assert logs["recall"] == pytest.approx(skm.recall_score(truth, probs > 0.5))
    assert logs["f1_score"] == pytest.approx(skm.f1_score(truth, probs > 0.5))
    assert logs["auc"] == pytest.approx(skm.roc_auc_score(truth, probs), abs=5e-3)
    assert history.history["val_auc"][-1] == pytest.approx(logs["auc"])


def test_fit_with_top_k_and_per_class_f1():
    rng = np.random.default_rng(1)
    y = np.arange(150) % 5
    x = (np.eye(5)[y] * 3 + rng.normal(size=(150, 5))).astype(np.float32)
    gn.set_seed(0)
    model = gn.Sequential([L.Input((5,)), L.Dense(5, activation="softmax")])
    model.compile(
        "adam",
        "sparse_categorical_crossentropy",
        metrics=["sparse_top_k_categorical_accuracy", "f1_score"],
    )
    history = model.fit(x, y, epochs=2, validation_split=0.2, verbose=0)
    keys = set(history.history)
    assert {"sparse_top_k_categorical_accuracy", "val_sparse_top_k_categorical_accuracy"} <= keys
    # F1Score's default average=None gives one score per class: f1_score_0 … f1_score_4
    assert {f"f1_score_{i}" for i in range(5)} | {f"val_f1_score_{i}" for i in range(5)} <= keys
    onehot = np.eye(5, dtype=np.float32)[y]
    model.compile("adam", "categorical_crossentropy", metrics=["top_k_categorical_accuracy"])
    history = model.fit(x, onehot, epochs=1, validation_data=(x, onehot), verbose=0)
    assert history.history["val_top_k_categorical_accuracy"] == [1.0]  # 5 classes, k=5


# ---------------------------------------------------------------- errors a user meets
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: metrics.TopKCategoricalAccuracy(k=0), r"k must be a positive integer.*k=0"),
        (lambda: metrics.SparseTopKCategoricalAccuracy(k=2.5), r"Received k=2.5"),
        (lambda: metrics.Precision(thresholds=1.5), r"thresholds must lie in \[0, 1\].*1.5"),
        (lambda: metrics.Recall(thresholds=[0.2, -0.1]), r"Received thresholds=-0.1"),
        (lambda: metrics.Precision(top_k=0), r"top_k must be a positive integer.*top_k=0"),
        (lambda: metrics.Recall(class_id=-1), r"class_id must be a column"),
        (lambda: metrics.AUC(thresholds=[0.5, 2.0]), r"thresholds must lie in \[0, 1\].*2.0"),
        (lambda: metrics.AUC(num_thresholds=1), r"num_thresholds must be an integer > 1"),
        (lambda: metrics.AUC(curve="ROCK"), r"curve must be 'ROC' or 'PR'.*'ROCK'"),
        (lambda: metrics.AUC(summation_method="trapz"), r"summation_method must be"),
        (lambda: metrics.F1Score(average="samples"), r"average must be None.*'samples'"),
        (lambda: metrics.F1Score(threshold=0.0), r"threshold must lie in \(0, 1\].*0.0"),
        (lambda: metrics.FBetaScore(beta=0), r"beta must be a number > 0"),
    ],
)
def test_bad_arguments_name_the_culprit(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bad_batches_name_the_culprit():
    scores = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"y_pred has 3 columns but y_true has 4 .*4 units"):
        metrics.F1Score().update_state(np.eye(4)[:2], scores)
    with pytest.raises(ValueError, match=r"y_pred has 3 columns but y_true has 2"):
        metrics.TopKCategoricalAccuracy().update_state(np.eye(2), scores)
    with pytest.raises(ValueError, match=r"label 3 \(sample 1\) is not one of y_pred's 3"):
        metrics.SparseTopKCategoricalAccuracy().update_state([0, 3], scores)
    with pytest.raises(ValueError, match=r"label 0.5 \(sample 1\) is not a class number"):
        metrics.AUC().update_state([1, 0.5], scores[:, :2])
    with pytest.raises(ValueError, match=r"label -1 \(sample 0\)"):
        metrics.Precision(class_id=0).update_state([-1, 0], scores)
    with pytest.raises(ValueError, match=r"look like one-hot rows: use TopKCategoricalAccuracy"):
        metrics.SparseTopKCategoricalAccuracy().update_state(np.eye(3)[:2], scores)
    with pytest.raises(ValueError, match=r"class_id=5 but y_pred has shape \(2, 3\)"):
        metrics.Recall(class_id=5).update_state(np.eye(3)[:2], scores)
    with pytest.raises(ValueError, match=r"one column.*threshold=0.5"):
        metrics.F1Score().update_state([1, 0], [[0.9], [0.2]])
    with pytest.raises(ValueError, match=r"y_pred has 3 columns but earlier batches had 2"):
        f1 = metrics.F1Score()
        f1.update_state([0, 1], np.eye(2))
        f1.update_state([0, 1], scores)
    with pytest.raises(ValueError, match=r"label_weights has 2 values but y_pred has 3"):
        metrics.AUC(label_weights=[1, 2]).update_state(np.eye(3)[:2], scores)
    with pytest.raises(ValueError, match=r"sample_weight has shape \(3,\)"):
        metrics.Precision().update_state([0, 1], [0.2, 0.8], sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match=r"y_true's shape \(3,\) does not fit y_pred's \(2,\)"):
        metrics.AUC().update_state([0, 1, 1], [0.2, 0.8])


@pytest.mark.parametrize(
    "monitor",
    [
        "accuracy",
        "val_accuracy",
        "acc",
        "val_acc",
        "binary_accuracy",
        "categorical_accuracy",
        "sparse_categorical_accuracy",
        "top_k_categorical_accuracy",
        "val_sparse_top_k_categorical_accuracy",
        "auc",
        "val_auc_1",  # Keras names a second AUC auc_1
        "precision",
        "val_recall",
        "f1_score",
        "val_f1_score_2",  # one value per class: f1_score_0, f1_score_1, ...
        "fbeta_score",
        "precision_at_70",  # a metric given its own name
    ],
)
def test_monitor_mode_is_max_where_higher_is_better(monitor):
    assert metrics.monitor_mode(monitor) == "max"


@pytest.mark.parametrize(
    "monitor", ["loss", "val_loss", "mse", "val_mae", "mean_squared_error", "dense_1_loss", "x"]
)
def test_monitor_mode_is_min_for_losses_errors_and_unknown_names(monitor):
    assert metrics.monitor_mode(monitor) == "min"


def test_monitor_mode_follows_each_metric_class():
    # every registered name agrees with its class, so a new metric only sets higher_is_better
    for name in ("mse", "mae", "precision", "recall", "auc", "f1_score", "fbeta_score"):
        want = "max" if type(metrics.get(name)).higher_is_better else "min"
        assert metrics.monitor_mode(name) == want
    assert not metrics.MeanSquaredError.higher_is_better and metrics.AUC.higher_is_better


def test_accuracy_interval_is_wilsons():
    """Wilson's 95 % interval: 8/10 gives 0.490 to 0.943, 0/10 gives 0 to 0.278 (the normal
    approximation would say 0.55 to 1.05 and 0 to 0)."""
    low, high = gn.metrics.accuracy_interval(8, 10)
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    low, high = gn.metrics.accuracy_interval(0, 10)
    assert low == 0.0 and round(high, 3) == 0.278
    assert gn.metrics.accuracy_interval(50, 100, confidence=0.99)[0] < 0.5 - 0.12


def test_accuracy_interval_covers_the_true_accuracy_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    n, p, trials = 60, 0.8, 4000
    correct = rng.binomial(n, p, trials)
    covered = [
        low <= p <= high for low, high in (gn.metrics.accuracy_interval(int(c), n) for c in correct)
    ]
    assert 0.93 <= np.mean(covered) <= 0.97


@pytest.mark.parametrize(
    ("args", "match"),
    [((1, 0), "'total' must be positive"), ((5, 4), r"'correct' must lie in \[0, total=4\]")],
)
def test_accuracy_interval_refuses_impossible_counts(args, match):
    with pytest.raises(ValueError, match=match):
        gn.metrics.accuracy_interval(*args)
