"""The multilayer perceptron: layers of fully connected neurons, the first deep network."""

from __future__ import annotations

from typing import Any

from glassnet.applications._common import check_classes, classifier, is_size
from glassnet.checks import is_int
from glassnet.layers import Dense, Flatten, Input
from glassnet.layers.layer import Layer
from glassnet.models import Sequential

__all__ = ["mlp"]


def mlp(
    input_shape: Any,
    hidden: Any = (256, 128),
    classes: int = 10,
    activation: Any = "relu",
    classifier_activation: Any = "softmax",
    name: str = "mlp",
) -> Sequential:
    """A multilayer perceptron: the input flattened, ``hidden`` Dense layers, and a classifier.

    Every neuron of a layer sees every output of the layer before; with non-linear activations
    between them, stacked layers can learn any smooth function (the universal approximation
    theorem), and backpropagation (Rumelhart, Hinton and Williams, 1986) trains them. On 28×28
    MNIST digits the default 784-256-128-10 network has 235,146 parameters.

    Args:
        input_shape: the shape of one sample, e.g. ``(784,)`` or ``(28, 28, 1)`` (flattened
            first); an int means ``(input_shape,)``.
        hidden: the number of neurons of each hidden layer, in order; ``()`` for none
            (multinomial logistic regression).
        classes: the number of categories.
        activation: the hidden layers' activation.
        classifier_activation: the last layer's activation, "softmax" by default; None gives
            logits.
        name: the model's name.

    Returns:
        A built ``Sequential``: ``flatten`` (for inputs of more than one axis), ``dense1``,
        ``dense2``, ..., ``predictions``.

    Shape:
        Input: ``(batch, *input_shape)``. Output: ``(batch, classes)``.
    """
    where = "mlp"
    if is_int(input_shape):
        input_shape = (input_shape,)
    if not (
        isinstance(input_shape, (tuple, list)) and input_shape and all(map(is_size, input_shape))
    ):
        raise ValueError(
            f"{where}: 'input_shape' must be the shape of one sample, a tuple of positive "
            f"integers such as (784,) or (28, 28, 1). Received: input_shape={input_shape!r}"
        )
    if is_int(hidden):
        hidden = (hidden,)
    if not isinstance(hidden, (tuple, list)) or not all(map(is_size, hidden)):
        raise ValueError(
            f"{where}: 'hidden' must be a tuple of positive integers, the sizes of the hidden "
            f"layers, e.g. hidden=(256, 128). Received: hidden={hidden!r}"
        )
    classes = check_classes(where, classes)
    stack: list[Layer] = [Input(tuple(int(d) for d in input_shape))]
    if len(input_shape) > 1:
        stack.append(Flatten(name="flatten"))
    for index, units in enumerate(hidden, 1):
        stack.append(Dense(int(units), activation=activation, name=f"dense{index}"))
    stack.append(classifier(classes, classifier_activation))
    return Sequential(stack, name=name)
