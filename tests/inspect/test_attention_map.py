"""``inspect.attention_map``: the weights it returns and draws are the attention layer's own
(rows sum to 1, padded words' columns are 0 for the real words), and the PNG is written."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import glassnet as gn
from glassnet import Tensor, inspect, layers


def _model():
    gn.set_seed(0)
    inputs = gn.Input((6,), dtype="int64")
    x = layers.Embedding(10, 8, mask_zero=True)(inputs)
    x = layers.Dense(8, name="hidden")(x)
    att = layers.MultiHeadAttention(2, 4, name="att")(x, x)
    pooled = layers.GlobalAveragePooling1D()(att + x)
    return gn.Model(inputs, layers.Dense(2)(pooled))


def test_the_map_is_the_layers_scores_and_is_drawn(tmp_path):
    model = _model()
    tokens = np.array([3, 1, 4, 1, 0, 0])
    words = ["a", "b", "c", "d", "<pad>", "<pad>"]
    amap = inspect.attention_map(model, tokens, "att", path=tmp_path / "map.png", words=words)
    assert amap.scores.shape == (2, 6, 6) and amap.words == words
    np.testing.assert_allclose(amap.scores.sum(-1), 1.0, rtol=1e-6)
    assert np.all(amap.scores[:, :4, 4:] == 0)  # real words never attend to the padding
    # The same numbers as the layer's, called by hand on what it sees in the model.
    mha = model.get_layer("att")
    seen = gn.Model(model.input, model.get_layer("hidden").output)
    hidden = seen(Tensor(tokens[None]))
    _, scores = mha(hidden, hidden, value_mask=tokens[None] != 0, query_mask=tokens[None] != 0,
                    return_attention_scores=True)  # fmt: skip
    np.testing.assert_allclose(amap.scores, scores.numpy()[0], atol=1e-7)
    with Image.open(amap.path) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1] > 100
    assert amap.top(0, k=2)[0][1] >= amap.top(0, k=2)[1][1]


def test_dense_attention_maps_and_errors(tmp_path):
    q = gn.Input((5, 4))
    out = layers.Attention(name="luong")([q, q])
    model = gn.Model(q, layers.GlobalAveragePooling1D(name="pool")(out))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    amap = inspect.attention_map(model, x)
    assert amap.scores.shape == (1, 5, 5)
    np.testing.assert_allclose(amap.scores.sum(-1), 1.0, rtol=1e-6)
    with pytest.raises(TypeError, match="not an attention layer"):
        inspect.attention_map(model, x, layer=model.get_layer("pool"))
    with pytest.raises(ValueError, match="words"):
        inspect.attention_map(model, x, words=["a"])
