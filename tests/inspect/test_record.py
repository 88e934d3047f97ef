"""One forward-hook mechanism: observe_calls and inspect's record_calls see the same calls,
a repeat predict's as much as the first (the faster paths step aside while either is open)."""

from __future__ import annotations

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.inspect._record import record_calls
from glassnet.layers.observers import observe_calls, observing_calls, watch_calls


class _Residual(gn.Model):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.head = L.Dense(4, activation="relu"), L.Dense(4), L.Dense(2)

    def call(self, x, training=False):
        h = self.a(x)
        return self.head(h + self.b(h))


def _sequential():
    return gn.Sequential([L.Input((6,)), L.Dense(4, activation="relu"), L.Dense(2)])


@pytest.mark.parametrize("make", [_sequential, _Residual], ids=["sequential", "subclassed"])
def test_record_calls_sees_every_predict_as_observe_calls_does(make):
    gn.set_seed(0)
    model = make()
    model.build((None, 6))
    x = np.random.default_rng(0).random((5, 6), dtype=np.float32)
    for _ in range(3):  # whatever predict keeps for this shape is built by now
        model.predict(x)
    with record_calls(model) as recorded:  # alone: no other watcher opens the way
        first = model.predict(x)
        second = model.predict(x)
    with observe_calls() as observed:
        model.predict(x)
        model.predict(x)
    leaves = [layer for layer, _, _ in observed if not layer.children()]
    assert [call.layer for call in recorded] == leaves
    dense = [call for call in recorded if isinstance(call.layer, L.Dense)]
    assert len(dense) == 2 * (2 if make is _sequential else 3)  # both predicts, every Dense
    np.testing.assert_array_equal(dense[-1].output.numpy(), second)
    np.testing.assert_array_equal(first, second)


def test_a_watcher_sees_inputs_and_outputs_and_is_removed_after():
    model = _sequential()
    seen = []
    x = np.ones((2, 6), np.float32)
    with watch_calls(lambda layer, inputs, out: seen.append((layer, inputs.shape, out.shape))):
        assert observing_calls()
        model.predict(x)
    assert not observing_calls()
    dense = [(shape, out) for layer, shape, out in seen if isinstance(layer, L.Dense)]
    assert dense == [((2, 6), (2, 4)), ((2, 4), (2, 2))]
    assert seen[-1][0] is model  # the model's own call comes last, after its layers'
    count = len(seen)
    model.predict(x)
    assert len(seen) == count  # nothing is watched after the block
