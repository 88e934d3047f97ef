"""Layers with Keras's names and arguments: ``Dense``, ``Conv2D``, ``MaxPooling2D``, ...

Every layer is a ``Layer`` (``glassnet/layers/layer.py``): it checks its arguments when created,
creates its weights on the first call, and can be saved as a config (``serialize``) and rebuilt
(``deserialize``) by class name (``glassnet/layers/serialization.py``).
"""

from glassnet.layers.activations import LeakyReLU, ReLU, Softmax
from glassnet.layers.augmentation import (
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from glassnet.layers.convolutional import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Convolution2D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from glassnet.layers.core import (
    Activation,
    ActivityRegularization,
    Dense,
    Dropout,
    Input,
    InputLayer,
)
from glassnet.layers.layer import IncompatibleKeys, InputSpec, Layer, clear_session
from glassnet.layers.merging import (
    Add,
    Average,
    Concatenate,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    maximum,
    minimum,
    multiply,
    subtract,
)
from glassnet.layers.node import KerasTensor
from glassnet.layers.normalization import BatchNormalization
from glassnet.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    GlobalMaxPool2D,
    GlobalMaxPooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from glassnet.layers.preprocessing import Rescaling
from glassnet.layers.recurrent import (
    GRU,
    LSTM,
    Bidirectional,
    Embedding,
    SimpleRNN,
    TimeDistributed,
)
from glassnet.layers.reshaping import Flatten, Reshape
from glassnet.layers.serialization import deserialize, get, serialize

__all__ = [
    "GRU",
    "LSTM",
    "Activation",
    "ActivityRegularization",
    "Add",
    "Average",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Convolution2D",
    "Dense",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Dropout",
    "Embedding",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling2D",
    "IncompatibleKeys",
    "Input",
    "InputLayer",
    "InputSpec",
    "KerasTensor",
    "Layer",
    "LeakyReLU",
    "MaxPool2D",
    "MaxPooling2D",
    "Maximum",
    "Minimum",
    "Multiply",
    "RandomBrightness",
    "RandomContrast",
    "RandomCrop",
    "RandomFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomZoom",
    "ReLU",
    "Rescaling",
    "Reshape",
    "SeparableConv1D",
    "SeparableConv2D",
    "SimpleRNN",
    "Softmax",
    "Subtract",
    "TimeDistributed",
    "add",
    "average",
    "clear_session",
    "concatenate",
    "deserialize",
    "get",
    "maximum",
    "minimum",
    "multiply",
    "serialize",
    "subtract",
]
