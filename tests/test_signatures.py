"""The public signatures that users, configs and saved models rely on, pinned as text.

Keras spells every optimizer's and schedule's arguments out, and ``get_config``/``from_config``
and the saved-model format use their names, so a refactor that shares code between classes
(a common base, a helper for the pass-through) must leave ``inspect.signature`` of each one
exactly as it was: names, order, kinds, defaults and annotations. The same holds for the layers
whose twins (Conv1D and Conv2D, LayerNormalization and GroupNormalization) share a base.
"""

from __future__ import annotations

import inspect

import pytest

from glassnet import checks, constraints, losses, metrics, optimizers, regularizers
from glassnet.layers import convolutional, normalization
from glassnet.optimizers import schedules

MODULES = {
    "checks": checks,
    "constraints": constraints,
    "convolutional": convolutional,
    "losses": losses,
    "metrics": metrics,
    "normalization": normalization,
    "optimizers": optimizers,
    "regularizers": regularizers,
    "schedules": schedules,
}

SIGNATURES = {
    "optimizers.Adadelta": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001, rho: 'float' = 0.95,"
        " epsilon: 'float' = 1e-07, *, params: 'Iterable[Tensor] | None' = None,"
        " weight_decay: 'float | None' = None, clipnorm: 'float | None' = None,"
        " clipvalue: 'float | None' = None, global_clipnorm: 'float | None' = None,"
        " name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.Adagrad": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001,"
        " initial_accumulator_value: 'float' = 0.1, epsilon: 'float' = 1e-07, *,"
        " params: 'Iterable[Tensor] | None' = None, weight_decay: 'float | None' = None,"
        " clipnorm: 'float | None' = None, clipvalue: 'float | None' = None,"
        " global_clipnorm: 'float | None' = None, name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.Adam": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001, beta_1: 'float' = 0.9,"
        " beta_2: 'float' = 0.999, epsilon: 'float' = 1e-07, amsgrad: 'bool' = False, *,"
        " params: 'Iterable[Tensor] | None' = None, weight_decay: 'float | None' = None,"
        " clipnorm: 'float | None' = None, clipvalue: 'float | None' = None,"
        " global_clipnorm: 'float | None' = None, name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.AdamW": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001,"
        " weight_decay: 'float' = 0.004, beta_1: 'float' = 0.9, beta_2: 'float' = 0.999,"
        " epsilon: 'float' = 1e-07, amsgrad: 'bool' = False, *,"
        " params: 'Iterable[Tensor] | None' = None, clipnorm: 'float | None' = None,"
        " clipvalue: 'float | None' = None, global_clipnorm: 'float | None' = None,"
        " name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.Adamax": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001, beta_1: 'float' = 0.9,"
        " beta_2: 'float' = 0.999, epsilon: 'float' = 1e-07, *,"
        " params: 'Iterable[Tensor] | None' = None, weight_decay: 'float | None' = None,"
        " clipnorm: 'float | None' = None, clipvalue: 'float | None' = None,"
        " global_clipnorm: 'float | None' = None, name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.Lion": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001, beta_1: 'float' = 0.9,"
        " beta_2: 'float' = 0.99, *, params: 'Iterable[Tensor] | None' = None,"
        " weight_decay: 'float | None' = None, clipnorm: 'float | None' = None,"
        " clipvalue: 'float | None' = None, global_clipnorm: 'float | None' = None,"
        " name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.Nadam": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001, beta_1: 'float' = 0.9,"
        " beta_2: 'float' = 0.999, epsilon: 'float' = 1e-07, *,"
        " params: 'Iterable[Tensor] | None' = None, weight_decay: 'float | None' = None,"
        " clipnorm: 'float | None' = None, clipvalue: 'float | None' = None,"
        " global_clipnorm: 'float | None' = None, name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.Optimizer": (
        "(learning_rate: 'float | LearningRateSchedule', *,"
        " params: 'Iterable[Tensor] | None' = None, weight_decay: 'float | None' = None,"
        " clipnorm: 'float | None' = None, clipvalue: 'float | None' = None,"
        " global_clipnorm: 'float | None' = None, name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.RMSprop": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.001, rho: 'float' = 0.9,"
        " momentum: 'float' = 0.0, epsilon: 'float' = 1e-07, centered: 'bool' = False, *,"
        " params: 'Iterable[Tensor] | None' = None, weight_decay: 'float | None' = None,"
        " clipnorm: 'float | None' = None, clipvalue: 'float | None' = None,"
        " global_clipnorm: 'float | None' = None, name: 'str | None' = None) -> 'None'"
    ),
    "optimizers.SGD": (
        "(learning_rate: 'float | LearningRateSchedule' = 0.01, momentum: 'float' = 0.0,"
        " nesterov: 'bool' = False, *, params: 'Iterable[Tensor] | None' = None,"
        " weight_decay: 'float | None' = None, clipnorm: 'float | None' = None,"
        " clipvalue: 'float | None' = None, global_clipnorm: 'float | None' = None,"
        " name: 'str | None' = None) -> 'None'"
    ),
    "schedules.CosineDecay": (
        "(initial_learning_rate: 'float', decay_steps: 'int', alpha: 'float' = 0.0,"
        " name: 'str' = 'CosineDecay', warmup_target: 'float | None' = None,"
        " warmup_steps: 'int' = 0) -> 'None'"
    ),
    "schedules.ExponentialDecay": (
        "(initial_learning_rate: 'float', decay_steps: 'int', decay_rate: 'float',"
        " staircase: 'bool' = False, name: 'str' = 'ExponentialDecay') -> 'None'"
    ),
    "schedules.InverseTimeDecay": (
        "(initial_learning_rate: 'float', decay_steps: 'int', decay_rate: 'float',"
        " staircase: 'bool' = False, name: 'str' = 'InverseTimeDecay') -> 'None'"
    ),
    "schedules.LearningRateSchedule": ("()"),
    "schedules.PiecewiseConstantDecay": (
        "(boundaries: 'Sequence[int]', values: 'Sequence[float]',"
        " name: 'str' = 'PiecewiseConstant') -> 'None'"
    ),
    "schedules.PolynomialDecay": (
        "(initial_learning_rate: 'float', decay_steps: 'int',"
        " end_learning_rate: 'float' = 0.0001, power: 'float' = 1.0,"
        " cycle: 'bool' = False, name: 'str' = 'PolynomialDecay') -> 'None'"
    ),
    "schedules.serialize": ("(schedule: 'LearningRateSchedule') -> 'dict[str, Any]'"),
    "schedules.deserialize": (
        "(config: 'Mapping[str, Any]', custom_objects: 'Mapping[str,"
        " type] | None' = None) -> 'LearningRateSchedule'"
    ),
    "constraints.get": ("(identifier: 'Any') -> 'Constraint | None'"),
    "constraints.serialize": ("(constraint: 'Constraint | None') -> 'dict[str, Any] | None'"),
    "constraints.deserialize": ("(config: 'str | dict[str, Any]') -> 'Constraint'"),
    "regularizers.get": ("(identifier: 'Any') -> 'Regularizer | None'"),
    "regularizers.serialize": ("(regularizer: 'Regularizer | None') -> 'dict[str, Any] | None'"),
    "regularizers.deserialize": ("(config: 'str | dict[str, Any]') -> 'Regularizer'"),
    "losses.get": ("(identifier: 'str | Loss') -> 'Loss'"),
    "losses.serialize": ("(loss: 'Loss') -> 'dict[str, Any]'"),
    "losses.deserialize": ("(config: 'dict[str, Any]') -> 'Loss'"),
    "metrics.get": ("(identifier: 'str | Metric', loss_name: 'str | None' = None) -> 'Metric'"),
    "metrics.serialize": ("(metric: 'Metric') -> 'dict[str, Any]'"),
    "metrics.deserialize": ("(config: 'dict[str, Any]') -> 'Metric'"),
    "checks.build_from_config": ("(kind: 'str', known: 'dict[str, Any]', config: 'Any') -> 'Any'"),
    # Layers: Keras's argument names and order are the saved configs' keys (#25's convolutions
    # and normalizations, pinned before their twins share a base).
    "convolutional.Conv1D": (
        "(filters: 'int', kernel_size: 'int | tuple[int]', strides: 'int | tuple[int]' = 1,"
        " padding: 'str' = 'valid', dilation_rate: 'int | tuple[int]' = 1, activation: "
        "'Any' = None, use_bias: 'bool' = True, kernel_initializer: 'Any' = "
        "'glorot_uniform', bias_initializer: 'Any' = 'zeros', kernel_regularizer: 'Any' = "
        "None, bias_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "kernel_constraint: 'Any' = None, bias_constraint: 'Any' = None, *, name: 'str | "
        "None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "convolutional.Conv1DTranspose": (
        "(filters: 'int', kernel_size: 'int | tuple[int]', strides: 'int | tuple[int]' = 1,"
        " padding: 'str' = 'valid', output_padding: 'int | tuple[int] | None' = None, "
        "dilation_rate: 'int | tuple[int]' = 1, activation: 'Any' = None, use_bias: 'bool' "
        "= True, kernel_initializer: 'Any' = 'glorot_uniform', bias_initializer: 'Any' = "
        "'zeros', kernel_regularizer: 'Any' = None, bias_regularizer: 'Any' = None, "
        "activity_regularizer: 'Any' = None, kernel_constraint: 'Any' = None, "
        "bias_constraint: 'Any' = None, *, name: 'str | None' = None, trainable: 'bool' = "
        "True) -> 'None'"
    ),
    "convolutional.Conv2D": (
        "(filters: 'int', kernel_size: 'int | tuple[int, int]', strides: 'int | tuple[int, "
        "int]' = (1, 1), padding: 'str' = 'valid', dilation_rate: 'int | tuple[int, int]' ="
        " (1, 1), activation: 'Any' = None, use_bias: 'bool' = True, kernel_initializer: "
        "'Any' = 'glorot_uniform', bias_initializer: 'Any' = 'zeros', kernel_regularizer: "
        "'Any' = None, bias_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "kernel_constraint: 'Any' = None, bias_constraint: 'Any' = None, *, name: 'str | "
        "None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "convolutional.Conv2DTranspose": (
        "(filters: 'int', kernel_size: 'int | tuple[int, int]', strides: 'int | tuple[int, "
        "int]' = (1, 1), padding: 'str' = 'valid', output_padding: 'int | tuple[int, int] |"
        " None' = None, dilation_rate: 'int | tuple[int, int]' = (1, 1), activation: 'Any' "
        "= None, use_bias: 'bool' = True, kernel_initializer: 'Any' = 'glorot_uniform', "
        "bias_initializer: 'Any' = 'zeros', kernel_regularizer: 'Any' = None, "
        "bias_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "kernel_constraint: 'Any' = None, bias_constraint: 'Any' = None, *, name: 'str | "
        "None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "convolutional.Conv3D": (
        "(filters: 'int', kernel_size: 'int | tuple[int, int, int]', strides: 'int | "
        "tuple[int, int, int]' = (1, 1, 1), padding: 'str' = 'valid', dilation_rate: 'int | "
        "tuple[int, int, int]' = (1, 1, 1), activation: 'Any' = None, use_bias: 'bool' = "
        "True, kernel_initializer: 'Any' = 'glorot_uniform', bias_initializer: 'Any' = "
        "'zeros', kernel_regularizer: 'Any' = None, bias_regularizer: 'Any' = None, "
        "activity_regularizer: 'Any' = None, kernel_constraint: 'Any' = None, "
        "bias_constraint: 'Any' = None, *, name: 'str | None' = None, trainable: 'bool' = "
        "True) -> 'None'"
    ),
    "convolutional.Convolution2D": (
        "(filters: 'int', kernel_size: 'int | tuple[int, int]', strides: 'int | tuple[int, "
        "int]' = (1, 1), padding: 'str' = 'valid', dilation_rate: 'int | tuple[int, int]' ="
        " (1, 1), activation: 'Any' = None, use_bias: 'bool' = True, kernel_initializer: "
        "'Any' = 'glorot_uniform', bias_initializer: 'Any' = 'zeros', kernel_regularizer: "
        "'Any' = None, bias_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "kernel_constraint: 'Any' = None, bias_constraint: 'Any' = None, *, name: 'str | "
        "None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "convolutional.Convolution3D": (
        "(filters: 'int', kernel_size: 'int | tuple[int, int, int]', strides: 'int | "
        "tuple[int, int, int]' = (1, 1, 1), padding: 'str' = 'valid', dilation_rate: 'int | "
        "tuple[int, int, int]' = (1, 1, 1), activation: 'Any' = None, use_bias: 'bool' = "
        "True, kernel_initializer: 'Any' = 'glorot_uniform', bias_initializer: 'Any' = "
        "'zeros', kernel_regularizer: 'Any' = None, bias_regularizer: 'Any' = None, "
        "activity_regularizer: 'Any' = None, kernel_constraint: 'Any' = None, "
        "bias_constraint: 'Any' = None, *, name: 'str | None' = None, trainable: 'bool' = "
        "True) -> 'None'"
    ),
    "convolutional.DepthwiseConv1D": (
        "(kernel_size: 'int | tuple[int]', strides: 'int | tuple[int]' = 1, padding: 'str' "
        "= 'valid', depth_multiplier: 'int' = 1, dilation_rate: 'int | tuple[int]' = 1, "
        "activation: 'Any' = None, use_bias: 'bool' = True, depthwise_initializer: 'Any' = "
        "'glorot_uniform', bias_initializer: 'Any' = 'zeros', depthwise_regularizer: 'Any' "
        "= None, bias_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "depthwise_constraint: 'Any' = None, bias_constraint: 'Any' = None, *, name: 'str |"
        " None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "convolutional.DepthwiseConv2D": (
        "(kernel_size: 'int | tuple[int, int]', strides: 'int | tuple[int, int]' = (1, 1), "
        "padding: 'str' = 'valid', depth_multiplier: 'int' = 1, dilation_rate: 'int | "
        "tuple[int, int]' = (1, 1), activation: 'Any' = None, use_bias: 'bool' = True, "
        "depthwise_initializer: 'Any' = 'glorot_uniform', bias_initializer: 'Any' = "
        "'zeros', depthwise_regularizer: 'Any' = None, bias_regularizer: 'Any' = None, "
        "activity_regularizer: 'Any' = None, depthwise_constraint: 'Any' = None, "
        "bias_constraint: 'Any' = None, *, name: 'str | None' = None, trainable: 'bool' = "
        "True) -> 'None'"
    ),
    "convolutional.SeparableConv1D": (
        "(filters: 'int', kernel_size: 'int | tuple[int]', strides: 'int | tuple[int]' = 1,"
        " padding: 'str' = 'valid', dilation_rate: 'int | tuple[int]' = 1, "
        "depth_multiplier: 'int' = 1, activation: 'Any' = None, use_bias: 'bool' = True, "
        "depthwise_initializer: 'Any' = 'glorot_uniform', pointwise_initializer: 'Any' = "
        "'glorot_uniform', bias_initializer: 'Any' = 'zeros', depthwise_regularizer: 'Any' "
        "= None, pointwise_regularizer: 'Any' = None, bias_regularizer: 'Any' = None, "
        "activity_regularizer: 'Any' = None, depthwise_constraint: 'Any' = None, "
        "pointwise_constraint: 'Any' = None, bias_constraint: 'Any' = None, *, name: 'str |"
        " None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "convolutional.SeparableConv2D": (
        "(filters: 'int', kernel_size: 'int | tuple[int, int]', strides: 'int | tuple[int, "
        "int]' = (1, 1), padding: 'str' = 'valid', dilation_rate: 'int | tuple[int, int]' ="
        " (1, 1), depth_multiplier: 'int' = 1, activation: 'Any' = None, use_bias: 'bool' ="
        " True, depthwise_initializer: 'Any' = 'glorot_uniform', pointwise_initializer: "
        "'Any' = 'glorot_uniform', bias_initializer: 'Any' = 'zeros', "
        "depthwise_regularizer: 'Any' = None, pointwise_regularizer: 'Any' = None, "
        "bias_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "depthwise_constraint: 'Any' = None, pointwise_constraint: 'Any' = None, "
        "bias_constraint: 'Any' = None, *, name: 'str | None' = None, trainable: 'bool' = "
        "True) -> 'None'"
    ),
    "normalization.BatchNormalization": (
        "(axis: 'int' = -1, momentum: 'float' = 0.99, epsilon: 'float' = 0.001, center: "
        "'bool' = True, scale: 'bool' = True, beta_initializer: 'Any' = 'zeros', "
        "gamma_initializer: 'Any' = 'ones', moving_mean_initializer: 'Any' = 'zeros', "
        "moving_variance_initializer: 'Any' = 'ones', beta_regularizer: 'Any' = None, "
        "gamma_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "beta_constraint: 'Any' = None, gamma_constraint: 'Any' = None, *, name: 'str | "
        "None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "normalization.GroupNormalization": (
        "(groups: 'int' = 32, axis: 'int' = -1, epsilon: 'float' = 0.001, center: 'bool' = "
        "True, scale: 'bool' = True, beta_initializer: 'Any' = 'zeros', gamma_initializer: "
        "'Any' = 'ones', beta_regularizer: 'Any' = None, gamma_regularizer: 'Any' = None, "
        "activity_regularizer: 'Any' = None, beta_constraint: 'Any' = None, "
        "gamma_constraint: 'Any' = None, *, name: 'str | None' = None, trainable: 'bool' = "
        "True) -> 'None'"
    ),
    "normalization.LayerNormalization": (
        "(axis: 'int | list[int]' = -1, epsilon: 'float' = 0.001, center: 'bool' = True, "
        "scale: 'bool' = True, rms_scaling: 'bool' = False, beta_initializer: 'Any' = "
        "'zeros', gamma_initializer: 'Any' = 'ones', beta_regularizer: 'Any' = None, "
        "gamma_regularizer: 'Any' = None, activity_regularizer: 'Any' = None, "
        "beta_constraint: 'Any' = None, gamma_constraint: 'Any' = None, *, name: 'str | "
        "None' = None, trainable: 'bool' = True) -> 'None'"
    ),
    "normalization.UnitNormalization": (
        "(axis: 'int | list[int]' = -1, *, name: 'str | None' = None, trainable: 'bool' = "
        "True) -> 'None'"
    ),
}


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_is_unchanged(name: str) -> None:
    module, attr = name.split(".")
    assert str(inspect.signature(getattr(MODULES[module], attr))) == SIGNATURES[name]


@pytest.mark.parametrize("module", [optimizers, schedules, convolutional, normalization])
def test_every_public_class_is_pinned(module) -> None:
    prefix = module.__name__.split(".")[-1]
    classes = {n for n in module.__all__ if isinstance(getattr(module, n), type)}
    pinned = {n.split(".")[1] for n in SIGNATURES if n.startswith(prefix + ".")}
    assert classes <= pinned
