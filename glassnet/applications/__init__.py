"""Classic architectures, ready to build: ``ResNet50(input_shape=(224, 224, 3), classes=1000)``.

Each function returns a built glassnet model for the given input shape and number of classes,
with Keras's names and arguments (``input_shape``, ``classes``, ``include_top``, ``pooling``,
``classifier_activation``). Plain stacks are ``Sequential`` models; the residual and inception
blocks are ``Model`` subclasses registered as layers, so ``model.save()`` and
``glassnet.load_model()`` work for every network. Layouts follow torchvision, so parameter counts
at 224×224×3 with 1000 classes are torchvision's exactly. No pretrained weights are included,
but the ResNets load torchvision's from a safetensors file and then give torchvision's numbers:
export them where PyTorch and torchvision are installed with ::

    import torch, torchvision
    from safetensors.torch import save_file
    save_file(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "resnet18.safetensors")

then ``ResNet18(weights="resnet18.safetensors")``, or read its ONNX export,
``ResNet18(weights="resnet18.onnx")``; torchvision's networks expect pixels in [0, 1]
normalised with ImageNet's mean and std (see ``glassnet.applications.resnet``). To fine-tune a
pretrained network on your own photos, see ``glassnet.transfer``.

- ``mlp``: fully connected layers (the multilayer perceptron).
- ``small_cnn``: a small, quick classifier for your own folders (``glassnet demo``-sized).
- ``photo_cnn``: four blocks of two convolutions with batch normalization, for your own photos
  at around 100 pixels, trained from scratch (``glassnet train``'s default).
- ``LeNet5``: LeCun et al. 1998, digits.
- ``AlexNet``: Krizhevsky et al. 2012, the first big GPU-trained CNN.
- ``VGG11``, ``VGG13``, ``VGG16``, ``VGG19``: Simonyan and Zisserman 2014, stacks of 3×3.
- ``ResNet18``, ``ResNet34``, ``ResNet50``, ``ResNet101``, ``ResNet152``: He et al. 2015, skip
  connections (blocks ``BasicBlock``, ``Bottleneck``).
- ``GoogLeNet``: Szegedy et al. 2014, Inception v1 (blocks ``Inception``, ``BasicConv2D``).
- ``MobileNetV2``: Sandler et al. 2018, inverted residual blocks of depthwise convolutions,
  for phones; a functional ``Model`` with Keras's layout, names and parameter count
  (3,538,984), rather than torchvision's.

By name, as ``glassnet train --model`` and ``glassnet summary`` take them: ``names()`` lists
them and ``get("vgg16", input_shape=(32, 32, 3), classes=10)`` builds one.
"""

from glassnet.applications.alexnet import AlexNet
from glassnet.applications.googlenet import BasicConv2D, GoogLeNet, Inception
from glassnet.applications.lenet import LeNet5
from glassnet.applications.mlp import mlp
from glassnet.applications.mobilenet_v2 import MobileNetV2
from glassnet.applications.photo_cnn import photo_cnn
from glassnet.applications.registry import canonical_name, get, names
from glassnet.applications.resnet import (
    BasicBlock,
    Bottleneck,
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet101,
    ResNet152,
)
from glassnet.applications.small_cnn import small_cnn
from glassnet.applications.vgg import VGG11, VGG13, VGG16, VGG19

__all__ = [
    "VGG11",
    "VGG13",
    "VGG16",
    "VGG19",
    "AlexNet",
    "BasicBlock",
    "BasicConv2D",
    "Bottleneck",
    "GoogLeNet",
    "Inception",
    "LeNet5",
    "MobileNetV2",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ResNet101",
    "ResNet152",
    "canonical_name",
    "get",
    "mlp",
    "names",
    "photo_cnn",
    "small_cnn",
]
