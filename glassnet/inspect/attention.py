"""Which words each word looks at: a model's attention weights for one sentence, as a heat map.

``attention_map(model, tokens, layer="mha")`` runs the model on one sequence, catches what
the attention layer was given (its inputs and masks), calls it once more with
``return_attention_scores=True`` and draws, per head, a grid whose row i shows how query word
i spreads its attention over the words (columns). The numbers are the layer's own softmax
weights: every row sums to 1, and the columns of padded words (an
``Embedding(mask_zero=True)`` mask) are 0 in the rows of real words. A padded word's own row
attends to nothing real (Keras spreads it evenly; the layers after leave it out).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glassnet.inspect._record import as_batch
from glassnet.inspect.visual import DPI, HEADER, PathLike, new_figure, save_figure
from glassnet.layers.attention import MultiHeadAttention, _BaseDenseAttention
from glassnet.layers.layer import Layer
from glassnet.layers.observers import watch_calls
from glassnet.tensor import no_grad

__all__ = ["AttentionMap", "attention_map"]

#: Pixels per word in the drawn grid (at least ``MIN_PANEL`` per head).
CELL = 36
MIN_PANEL = 240


@dataclass
class AttentionMap:
    """One sequence's attention weights: ``scores`` (heads, queries, keys), the layer's
    name, the ``words`` labelling the rows and columns, and the PNG's ``path`` if drawn."""

    layer: str
    scores: np.ndarray
    words: list[str]
    path: Path | None = None

    def top(self, query: int, k: int = 3, head: int | None = None) -> list[tuple[str, float]]:
        """The ``k`` words that word ``query`` attends to most (averaged over heads unless
        ``head`` is given), with their weights."""
        row = self.scores[head, query] if head is not None else self.scores[:, query].mean(0)
        order = np.argsort(-row)[:k]
        return [(self.words[i], float(row[i])) for i in order]


def _attention_layer(model: Layer, layer: Any) -> Layer:
    if isinstance(layer, Layer):
        found = layer
    elif layer is None:
        found = next(
            (
                sub
                for _, sub in model.named_layers()
                if isinstance(sub, (MultiHeadAttention, _BaseDenseAttention))
            ),
            None,
        )
        if found is None:
            raise ValueError(
                f"attention_map: '{model.name}' has no MultiHeadAttention, Attention or "
                "AdditiveAttention layer."
            )
    else:
        found = model.get_layer(layer)
    if not isinstance(found, (MultiHeadAttention, _BaseDenseAttention)):
        raise TypeError(
            f"attention_map: layer '{found.name}' is a {type(found).__name__}, not an attention "
            "layer. Name a MultiHeadAttention, Attention or AdditiveAttention layer."
        )
    return found


def attention_map(
    model: Layer,
    tokens: Any,
    layer: Any = None,
    path: PathLike | None = None,
    words: list[str] | None = None,
) -> AttentionMap:
    """The attention weights of ``layer`` (a name, a layer, or the first attention layer)
    for one sequence ``tokens`` (a sample or a batch of one), drawn to ``path`` if given.

    ``words`` labels the positions (default: the token ids, or the positions' numbers).
    Returns an ``AttentionMap`` whose ``scores`` are (heads, queries, keys); Attention and
    AdditiveAttention give one "head".
    """
    target = _attention_layer(model, layer)
    batch = as_batch(model, tokens, "attention_map")
    seen: list[tuple[Any, dict[str, Any]]] = []

    def catch(layer: Layer, inputs: Any, out: Any) -> None:  # its inputs and masks, as given
        if layer is target:
            seen.append((inputs, dict(layer._call_args)))

    with watch_calls(catch), no_grad():
        model(batch, training=False)
    if not seen:
        raise ValueError(
            f"attention_map: layer '{target.name}' did not run when '{model.name}' was called."
        )
    inputs, args = seen[0]
    with no_grad():
        if isinstance(target, MultiHeadAttention):
            _, scores = target(
                *inputs,
                query_mask=args.get("query_mask"),
                value_mask=args.get("value_mask"),
                key_mask=args.get("key_mask"),
                attention_mask=args.get("attention_mask"),
                use_causal_mask=args.get("causal", False),
                return_attention_scores=True,
                training=False,
            )
            array = scores.numpy()[0]
        else:
            _, scores = target(
                inputs,
                mask=args.get("mask"),
                use_causal_mask=args.get("causal", False),
                return_attention_scores=True,
                training=False,
            )
            array = scores.numpy()[0][None]
    keys = array.shape[-1]
    if words is not None:
        labels = list(words)
    elif batch[0].ndim == 1:  # token ids
        labels = [str(int(t)) for t in batch[0]]
    else:  # a sequence of feature vectors: its positions
        labels = [str(i) for i in range(keys)]
    if len(labels) != keys:
        raise ValueError(
            f"attention_map: {len(labels)} words given for a sequence of {keys} positions. "
            "Give one word per token, padding included."
        )
    result = AttentionMap(target.name, array, labels)
    if path is not None:
        result.path = _draw(result, path)
    return result


def _draw(amap: AttentionMap, path: PathLike) -> Path:
    heads, queries, keys = amap.scores.shape
    panel = max(MIN_PANEL, CELL * keys + 120)
    height = max(MIN_PANEL, CELL * queries + 120) + HEADER
    fig = new_figure(panel * heads, height)
    fig.suptitle(f"attention of '{amap.layer}': row = word attending, column = word attended to")
    for h in range(heads):
        ax = fig.add_subplot(1, heads, h + 1)
        image = ax.imshow(amap.scores[h], cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(range(keys), amap.words[:keys], rotation=90, fontsize=8)
        ax.set_yticks(range(queries), amap.words[:queries], fontsize=8)
        ax.set_title(f"head {h}" if heads > 1 else "weights", fontsize=9)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return save_figure(fig, path, dpi=DPI)
