"""The architectures by name: ``get("resnet18", input_shape=(32, 32, 3), classes=10)``.

One table maps the names that ``glassnet train --model`` and ``glassnet summary`` accept to
the functions that build them, so a script can pick a network from a string (a config file, a
command line) exactly as the command does. Case, ``-`` and ``_`` do not matter in a name:
``"ResNet_18"`` is ``"resnet18"``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glassnet.applications.alexnet import AlexNet
from glassnet.applications.googlenet import GoogLeNet
from glassnet.applications.lenet import LeNet5
from glassnet.applications.mlp import mlp
from glassnet.applications.mobilenet_v2 import MobileNetV2
from glassnet.applications.photo_cnn import photo_cnn
from glassnet.applications.resnet import ResNet18, ResNet34, ResNet50, ResNet101, ResNet152
from glassnet.applications.small_cnn import small_cnn
from glassnet.applications.vgg import VGG11, VGG13, VGG16, VGG19
from glassnet.models import Model

__all__ = ["canonical_name", "get", "names"]

_BUILDERS: dict[str, Callable[..., Model]] = {
    "small-cnn": small_cnn,
    "lenet5": LeNet5,
    "mlp": mlp,
    "photo-cnn": photo_cnn,
    "alexnet": AlexNet,
    "vgg11": VGG11,
    "vgg13": VGG13,
    "vgg16": VGG16,
    "vgg19": VGG19,
    "resnet18": ResNet18,
    "resnet34": ResNet34,
    "resnet50": ResNet50,
    "resnet101": ResNet101,
    "resnet152": ResNet152,
    "googlenet": GoogLeNet,
    "mobilenetv2": MobileNetV2,
}


def names() -> list[str]:
    """The known architecture names, smallest networks first, as ``get`` accepts them."""
    return list(_BUILDERS)


def _key(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def canonical_name(name: str) -> str:
    """The table's spelling of ``name`` (``"ResNet_18"`` -> ``"resnet18"``); raises
    ``ValueError`` naming ``name`` and listing the known names when there is no such network."""
    for known in _BUILDERS:
        if _key(known) == _key(str(name)):
            return known
    raise ValueError(f"unknown architecture {name!r}. Known architectures: {', '.join(names())}.")


def get(name: str, input_shape: tuple[int, ...], classes: int, **kwargs: Any) -> Model:
    """Build the architecture called ``name`` for ``input_shape`` (one sample, no batch axis)
    and ``classes``; other keyword arguments go to its builder (e.g. ``classifier_activation``).
    Raises ``ValueError`` listing the known names for an unknown one."""
    builder = _BUILDERS[canonical_name(name)]
    return builder(input_shape=input_shape, classes=classes, **kwargs)
