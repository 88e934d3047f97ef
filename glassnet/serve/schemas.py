"""The shapes of the server's JSON: pydantic models FastAPI turns into the OpenAPI schema at
``/docs``, so every answer the API gives is documented and checked against its model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "ActivationPanel",
    "BatchPrediction",
    "Explanation",
    "Health",
    "InputsRequest",
    "ModelInfo",
    "PixelsRequest",
    "Prediction",
    "Problem",
    "TensorSpec",
    "TensorsPrediction",
    "TopClass",
]


class PixelsRequest(BaseModel):
    """Raw pixels instead of a file: one image as a nested list ``(height, width, channels)``
    of 0–255 numbers (``POST /predict``), or a list of them (``POST /predict/batch``)."""

    pixels: list[Any] = Field(
        description="Nested lists of numbers of the model's input shape, e.g. 8×8×1 for the "
        "digits model: [[[0], [255], ...], ...]. Values 0–255, as load_image returns them."
    )


class InputsRequest(BaseModel):
    """A batch for each input of a model that is not a one-image classifier (several inputs or
    outputs, or outputs that are not class scores), in TF-Serving's "columnar" form."""

    inputs: dict[str, list[Any]] | list[list[Any]] = Field(
        description='One batch per input, by input name: {"a": [[...], ...], "b": [[...], ...]}, '
        "or a list of batches in input order. Each batch holds the same number of samples, each "
        "sample nested lists of numbers of that input's shape (GET /model lists them)."
    )


class TensorsPrediction(BaseModel):
    """What a model that takes named inputs computed: one batch per output, by output name,
    row ``i`` of each for sample ``i`` of the inputs."""

    outputs: dict[str, list[Any]] = Field(
        description="Each output's batch as nested lists, shape (samples, *that output's shape)."
    )
    model: str = Field(description="The model's name.")
    elapsed_ms: float = Field(description="Time spent in the server on this request.")


class TensorSpec(BaseModel):
    """One input or output of the model: its name and the shape of one sample."""

    name: str
    shape: list[int | None] = Field(
        description="One sample's shape, batch axis left out; null where any size is taken."
    )


class TopClass(BaseModel):
    """One of the most probable classes."""

    class_: str = Field(alias="class", description="The class name.")
    probability: float = Field(ge=0, le=1)

    model_config = {"populate_by_name": True}


class Prediction(BaseModel):
    """What the model says about one image."""

    label: str = Field(description="The most probable class.")
    probabilities: dict[str, float] = Field(description="Every class with its probability.")
    top_k: list[TopClass] = Field(description="The k most probable classes, best first.")
    model: str = Field(description="The model's name.")
    elapsed_ms: float = Field(description="Time spent in the server on this request.")


class BatchPrediction(BaseModel):
    """One ``Prediction`` per image, in the order the images were sent."""

    predictions: list[Prediction]
    model: str
    elapsed_ms: float


class ActivationPanel(BaseModel):
    """What one of the first layers computed for the photo, as a PNG."""

    layer: str
    kind: str = Field(description='"feature maps" or "bars".')
    shape: list[int]
    png: str = Field(description="The picture, base64-encoded PNG.")


class Explanation(BaseModel):
    """A prediction and pictures of why: saliency and the first layers' activations."""

    prediction: Prediction
    saliency_png: str = Field(
        description="Photo, saliency map and saliency over the photo, base64-encoded PNG."
    )
    activations: list[ActivationPanel]


class ModelInfo(BaseModel):
    """What is being served, and in which form ``POST /predict`` takes it."""

    name: str
    kind: Literal["image_classifier", "tensors"] = Field(
        description='"image_classifier": one image in, class scores out; /predict takes a file '
        'or {"pixels": ...} and answers classes. "tensors": any other model; /predict takes '
        '{"inputs": ...} and answers {"outputs": ...} by name.'
    )
    class_names: list[str] = Field(description="Empty unless an image classifier.")
    input_shape: list[int | None] | None = Field(
        description="The one input's sample shape; null for a model with several inputs."
    )
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    preprocessing: dict[str, Any] | None
    parameters: int
    summary: str = Field(description="The summary table, as `glassnet summary` prints it.")


class Health(BaseModel):
    """Liveness: the server answers, and whether the model is loaded."""

    status: str
    model_loaded: bool
    model: str | None = None


class Problem(BaseModel):
    """An error: what was wrong with the request, in words."""

    detail: str
