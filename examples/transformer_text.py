"""Who chased whom: a one-block transformer reads word order, on sentences it writes itself.

Every sentence names both a cat and a dog — "the big cat quietly chased the dog today" — and
the label says whether the cat is the one doing the chasing. Counting words cannot tell (both
animals are always there): the model has to see which animal comes before the verb. It is
keras.io's "Text classification with Transformer", written with glassnet's functional API:

    tokens → TokenAndPositionEmbedding (two Embeddings: the word, and its position)
           → MultiHeadAttention → Dropout → Add → LayerNormalization
           → Dense → Dense → Dropout → Add → LayerNormalization
           → GlobalAveragePooling1D → Dropout → Dense(2, softmax)

Sentences are padded with 0 to a fixed length; the word embedding has ``mask_zero=True``, so
attention never looks at the padding and the average pools over the real words only. With
the defaults (2,000 sentences, 6 epochs) it reaches at least 95 % accuracy on 500 new
sentences in seconds, where a bag of words stays at chance (50 %). ``--map attention.png``
draws which words each word attends to (``glassnet.inspect.attention_map``).

Run it:  python examples/transformer_text.py  [--sentences 2000] [--epochs 6] [--map attention.png]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import glassnet as gn
from glassnet import layers

ANIMALS = ("cat", "dog")
VERBS = ["chased", "followed", "watched", "bit", "pushed"]
ADJECTIVES = ["", "", "big", "small", "old", "young", "angry"]
ADVERBS = ["", "", "quietly", "suddenly", "slowly"]
ENDINGS = ["", "", "today", "again", "at night", "in the garden"]
PAD = "<pad>"
LENGTH = 12


def make_sentences(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` sentences and labels (1 = the cat chased the dog)."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        cat_first = bool(rng.integers(2))
        subject, obj = ANIMALS if cat_first else ANIMALS[::-1]
        words = ["the", rng.choice(ADJECTIVES), subject, rng.choice(ADVERBS), rng.choice(VERBS)]
        words += ["the", rng.choice(ADJECTIVES), obj, rng.choice(ENDINGS)]
        texts.append(" ".join(w for w in words if w))
        labels.append(int(cat_first))
    return texts, np.array(labels)


def build_vocabulary() -> dict[str, int]:
    """Word -> id; id 0 is the padding."""
    words = " ".join([*ANIMALS, *VERBS, *ADJECTIVES, *ADVERBS, *ENDINGS, "the"]).split()
    return {w: i for i, w in enumerate([PAD, *sorted(set(words))])}


def encode(texts: list[str], vocabulary: dict[str, int]) -> np.ndarray:
    """Token ids (n, LENGTH), padded with 0 at the end."""
    ids = np.zeros((len(texts), LENGTH), dtype=np.int64)
    for row, text in enumerate(texts):
        tokens = [vocabulary[w] for w in text.split()][:LENGTH]
        ids[row, : len(tokens)] = tokens
    return ids


class TokenAndPositionEmbedding(layers.Layer):
    """A word's vector plus its position's vector, so attention (which sees a set) knows the
    order. The word embedding's padding mask is handed on with the sum."""

    def __init__(self, maxlen: int, vocab_size: int, embed_dim: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.maxlen, self.vocab_size, self.embed_dim = maxlen, vocab_size, embed_dim
        self.token_emb = layers.Embedding(vocab_size, embed_dim, mask_zero=True)
        self.pos_emb = layers.Embedding(maxlen, embed_dim)

    def call(self, x: gn.Tensor, training: bool = False) -> gn.Tensor:
        positions = self.pos_emb(gn.Tensor(np.arange(x.shape[-1])))  # (steps, embed_dim)
        words = self.token_emb(x)  # (batch, steps, embed_dim), carries the padding mask
        out = words + positions
        out._keras_mask = words._keras_mask
        return out

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*input_shape, self.embed_dim)

    def get_config(self) -> dict[str, Any]:
        return super().get_config() | {
            "maxlen": self.maxlen,
            "vocab_size": self.vocab_size,
            "embed_dim": self.embed_dim,
        }


def build_model(vocab_size: int, embed_dim: int = 16, num_heads: int = 2, ff_dim: int = 32):
    """The transformer classifier, layer by layer in the functional API."""
    inputs = gn.Input((LENGTH,), dtype="int64")
    x = TokenAndPositionEmbedding(LENGTH, vocab_size, embed_dim)(inputs)
    # One transformer block: self-attention, then a position-wise feed-forward network, each
    # added to its input (a residual connection) and layer-normalised.
    attention = layers.MultiHeadAttention(num_heads, key_dim=embed_dim, name="attention")(x, x)
    x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(0.1)(attention))
    ff = layers.Dense(ff_dim, activation="relu")(x)
    ff = layers.Dense(embed_dim)(ff)
    x = layers.LayerNormalization(epsilon=1e-6)(x + layers.Dropout(0.1)(ff))
    x = layers.GlobalAveragePooling1D()(x)  # the mean over the real words
    x = layers.Dropout(0.1)(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    return gn.Model(inputs, outputs)


def main(
    sentences: int = 2000,
    epochs: int = 6,
    seed: int = 0,
    map_path: str | None = None,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train on ``sentences`` generated sentences; return the accuracy on 500 new ones (and
    the attention map of the first test sentence, drawn to ``map_path`` if given)."""
    gn.manual_seed(seed)
    vocabulary = build_vocabulary()
    texts, y = make_sentences(sentences, seed)
    test_texts, y_test = make_sentences(500, seed + 1)
    x, x_test = encode(texts, vocabulary), encode(test_texts, vocabulary)
    model = build_model(len(vocabulary))
    model.compile(gn.optimizers.Adam(0.005), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    accuracy = float((model.predict(x_test).argmax(1) == y_test).mean())
    words = test_texts[0].split()
    labels = words + [PAD] * (LENGTH - len(words))
    amap = gn.inspect.attention_map(model, x_test[0], "attention", path=map_path, words=labels)
    if verbose:
        for text, p in zip(test_texts[:4], model.predict(x_test[:4])[:, 1], strict=True):
            print(f"{p:.2f}  {text}")
        print(f"test accuracy: {accuracy:.2%}")
        cat = words.index("cat")
        print("'cat' attends most to:", ", ".join(f"{w} {s:.2f}" for w, s in amap.top(cat)))
        if amap.path is not None:
            print(f"attention map: {amap.path}")
    return {"accuracy": accuracy, "attention": amap, "model": model}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--map", default=None, help="draw the attention map to this PNG")
    args = parser.parse_args()
    main(sentences=args.sentences, epochs=args.epochs, map_path=args.map)
