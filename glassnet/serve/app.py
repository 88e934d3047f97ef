"""``create_app(model_path)``: a FastAPI app that serves one saved model.

::

    GET  /               the page: upload or photograph an image, see the top classes and
                         "look inside" panels (saliency, first-layer activations)
    POST /predict        one image: a multipart file field ``file``, or JSON {"pixels": [...]};
                         for any other model, JSON {"inputs": {name: batch}} -> {"outputs": ...}
    POST /predict/batch  several images: multipart fields ``files``, or JSON {"pixels": [img, ...]}
    POST /explain        one image file: the prediction, a saliency PNG and activation PNGs
    GET  /model          name, kind, classes, inputs and outputs (names, shapes),
                         preprocessing, parameters, summary
    GET  /health         liveness and whether the model is loaded
    GET  /docs           the OpenAPI documentation

How it stays correct under load:

* **One model, loaded once** in the lifespan into ``app.state``, and warmed up with one
  prediction so the first user does not pay for it.
* **Off the event loop.** Decoding an upload (Pillow) and running the model (NumPy/BLAS) happen
  in the thread pool (``run_in_threadpool``), so the loop keeps accepting connections.
* **One lock around the model.** A glassnet model is plain Python objects; ``inspect`` patches
  the model instance while it records activations and saliency writes ``weight.grad``. A
  ``threading.Lock`` around every use of the model makes concurrent requests safe without a
  copy of the weights per thread; BLAS already uses every core inside one call, so running two
  calls at once would not be faster. Decoding images runs outside the lock, in parallel.
* **Micro-batching** (``batch_window_ms > 0``): images arriving within the window go through
  the model as one batch (one lock acquisition, one GEMM per layer instead of many).
* **Upload limit before reading.** ``_BodyLimit`` (ASGI middleware) answers 413 at once when
  ``Content-Length`` is over the limit, and counts the bytes as they stream in, answering 413 the
  moment the count passes it — so a client that lies about or omits the length is stopped too.
* **Bad input is a 4xx naming the problem**: 415 not an image, 400 corrupt or a possible
  decompression bomb (refused from the header by ``load_image``, nothing allocated), 422 JSON of
  the wrong shape (stating the expected one), 413 too large. Anything unexpected is a 500 with
  a one-line message, logged, and the server goes on.

Two kinds of model. A **one-image classifier** (one input of shape (height, width, channels),
one output of class scores) is served through the image endpoints and the page. **Any other
model** (several inputs or outputs, outputs that are not class scores, inputs that are not
images) takes JSON in TF-Serving's columnar form, a batch per input by name, and answers a batch
per output by name::

    POST /predict  {"inputs": {"a": [[...], ...], "b": [[...], ...]}}   (or a list in input order)
    ->             {"outputs": {"reg": [[...], ...], "cls": [[...], ...]}, "model": ..., ...}

The published schema states the loaded model's input names and shapes; a missing or unknown
input, a wrong shape, values that are not numbers, batches of different sizes, more than
``max_batch`` samples or ``MAX_VALUES`` numbers are each a 4xx naming the input at fault, and
the image endpoints answer such a model with a 4xx pointing at this form.

Serving loads images with ``load_image`` and the preprocessing stored with the model, exactly as
``glassnet predict`` does, so both give the same answer for the same file.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import os
import tempfile
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from glassnet.data.images import ImageLoadError, load_image, model_preprocessing
from glassnet.models import saving
from glassnet.models.probabilities import output_activation, probabilities
from glassnet.models.saving import load_model
from glassnet.serve.schemas import (
    BatchPrediction,
    Explanation,
    Health,
    InputsRequest,
    ModelInfo,
    PixelsRequest,
    Prediction,
    Problem,
    TensorSpec,
    TensorsPrediction,
)

__all__ = ["ServedModel", "create_app", "create_app_from_env", "load_for_serving"]

log = logging.getLogger("glassnet.serve")
_TopK = Annotated[int, Query(ge=1, le=1000, description="How many classes in top_k.")]

STATIC = Path(__file__).resolve().parent / "static"
#: Room for the multipart framing (boundaries, part headers) on top of the upload limit.
_FORM_OVERHEAD = 64 * 1024
#: Most images one ``/predict/batch`` request may carry.
MAX_BATCH = 64
#: Most numbers one ``{"inputs": ...}`` request may carry over all its inputs (413 beyond): the
#: body's byte limit bounds the JSON, this bounds the arrays and the model's work on them.
MAX_VALUES = 2**22
#: The largest float32; JSON numbers beyond it would become infinity.
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_ENV = "GLASSNET_SERVE_"


# ---------------------------------------------------------------------------- the model
Shape = tuple[int | None, ...]


@dataclass
class ServedModel:
    """The model and what serving it needs: how to load images, a lock, the class names, and
    the names and one sample's shape of each input and output.

    ``image_classifier`` says which form ``/predict`` takes: images (a file or pixels) for a
    model with one image input and one output of class scores, ``{"inputs": ...}`` otherwise.
    """

    model: Any
    path: str
    settings: dict[str, Any]
    resizes: bool
    class_names: list[str]
    inputs: list[tuple[str, Shape]] = field(default_factory=list)
    outputs: list[tuple[str, Shape]] = field(default_factory=list)
    image_classifier: bool = True
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return str(self.model.name)

    @property
    def input_shape(self) -> Shape:
        """The one input's sample shape (an image classifier's (height, width, channels))."""
        return self.inputs[0][1] if self.inputs else tuple(self.model.input_shape[1:])

    def run(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """The model's outputs for one batch per input, in output order; one caller at a time.

        Shape: one array (N, *input shape) per input -> one (N, *output shape) per output.
        """
        with self.lock:
            return _run_model(self.model, arrays)

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities ``(N, classes)`` for a batch; one caller at a time."""
        with self.lock:
            outputs = self.model.predict(batch, batch_size=max(1, len(batch)))
        return probabilities(outputs, self.model)

    def load(self, data: bytes, filename: str) -> np.ndarray:
        """An upload as model input, exactly as ``glassnet predict`` loads a file."""
        source = io.BytesIO(data)
        source.name = filename  # so errors name the upload
        image = load_image(source, **self.settings)
        expected = self.input_shape[:2]
        if not self.resizes and None not in expected and tuple(image.shape[:2]) != expected:
            h, w = image.shape[:2]
            raise ImageLoadError(
                filename,
                f"the image is {h}×{w} pixels but model '{self.name}' takes "
                f"{expected[0]}×{expected[1]} and stores no preprocessing to resize with",
                kind="wrong_size",
            )
        return image


def _run_model(model: Any, arrays: list[np.ndarray]) -> list[np.ndarray]:
    """``model.predict`` on one batch per input: its outputs as a list. Overflow is not
    warned about here: the request's answer says which output is not finite
    (_tensor_outputs)."""
    with np.errstate(over="ignore", invalid="ignore"):
        out = model.predict(arrays if len(arrays) > 1 else arrays[0], batch_size=len(arrays[0]))
    if isinstance(out, dict):
        out = list(out.values())
    return [np.asarray(o) for o in (out if isinstance(out, list) else [out])]


def _shapes(shape: Any) -> list[Shape]:
    """One shape, or a list of them (several inputs or outputs), as a list of sample shapes."""
    several = bool(shape) and isinstance(shape[0], (tuple, list))
    return [tuple(s[1:]) for s in (shape if several else [shape])]


def _class_scores(model: Any, outputs: list[np.ndarray]) -> bool:
    """Whether one image's outputs are class scores (N, classes): two or more classes, or one
    unit that stored class names or a sigmoid make a yes/no probability (one plain unit is a
    regression, not a class)."""
    if len(outputs) != 1 or outputs[0].ndim != 2:
        return False
    return (
        outputs[0].shape[1] > 1
        or bool(getattr(model, "class_names", None))
        or output_activation(model) == "sigmoid"
    )


def load_for_serving(path: str | os.PathLike[str]) -> ServedModel:
    """Load a saved model and find how to serve it: a one-image classifier (one input of shape
    (height, width, channels), one output of class scores) through the image endpoints, any
    other model through JSON ``{"inputs": ...}``. Raises ``ValueError`` (or ``OSError``) naming
    the problem."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"model '{path}' does not exist. Check the path.")
    model = load_model(path, compile=False)
    if model.input_shape is None:
        raise ValueError(
            f"model '{model.name}' does not know its input shape, so the server cannot check "
            "requests against it. Build it (model.build((None, *shape))) before saving."
        )
    in_shapes = _shapes(model.input_shape)
    in_names = getattr(model, "input_names", None) or ["input"]
    inputs = list(zip(in_names, in_shapes, strict=True))
    probe = [np.zeros((1, *(1 if n is None else n for n in s)), np.float32) for s in in_shapes]
    outputs = _run_model(model, probe)  # also warms up
    try:  # the graph's own shapes keep a size that depends on the input's as None
        out_shapes = _shapes(model.output_shape)
    except (AttributeError, ValueError, TypeError):
        out_shapes = [tuple(o.shape[1:]) for o in outputs]
    out_names = getattr(model, "output_names", None) or ["output"]
    described = list(zip(out_names, out_shapes, strict=True))
    try:  # images: one input of (height, width, 1, 3 or 4 channels), or stored preprocessing
        settings, resizes = model_preprocessing(model) if len(inputs) == 1 else ({}, False)
        images = len(inputs) == 1
    except ValueError:
        settings, resizes, images = {}, False, False
    if not (images and _class_scores(model, outputs)):
        return ServedModel(model, path, settings, resizes, [], inputs, described, False)
    classes = outputs[0].shape[1]
    names = getattr(model, "class_names", None)
    class_names = [str(n) for n in (names if names and len(names) == classes else range(classes))]
    return ServedModel(model, path, settings, resizes, class_names, inputs, described)


class _Batcher:
    """Gathers images that arrive within ``window`` seconds into one model call.

    The first image of a batch starts a timer; images arriving before it fires join the batch
    (up to ``max_size``, which fires it at once). Each caller gets its own row back."""

    def __init__(self, served: ServedModel, window: float, max_size: int = MAX_BATCH) -> None:
        self.served, self.window, self.max_size = served, window, max_size
        self.pending: list[tuple[np.ndarray, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None
        self.running: set[asyncio.Task] = set()  # kept so the tasks are not collected early

    async def predict(self, image: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self.pending.append((image, future))
        if len(self.pending) >= self.max_size:
            self._fire()
        elif self.timer is None:
            self.timer = loop.call_later(self.window, self._fire)
        return await future

    def _fire(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if batch:
            task = asyncio.ensure_future(self._run(batch))
            self.running.add(task)
            task.add_done_callback(self.running.discard)

    async def _run(self, batch: list[tuple[np.ndarray, asyncio.Future]]) -> None:
        # Images of one model all have its input shape, except for models that take any size
        # (None in the input shape): those are grouped by shape.
        groups: dict[tuple[int, ...], list[tuple[np.ndarray, asyncio.Future]]] = {}
        for item in batch:
            groups.setdefault(item[0].shape, []).append(item)
        for items in groups.values():
            try:
                probs = await run_in_threadpool(
                    self.served.predict, np.stack([image for image, _ in items])
                )
            except Exception as err:  # every waiting request learns of it
                for _, future in items:
                    if not future.done():
                        future.set_exception(err)
                continue
            for (_, future), row in zip(items, probs, strict=True):
                if not future.done():
                    future.set_result(row)


# ---------------------------------------------------------------------------- upload limit
class UploadTooLarge(Exception):
    """The request body passed the upload limit while it was being read."""


class _BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, before it has been read.

    A declared ``Content-Length`` over the limit is refused without calling the app. Otherwise
    ``receive`` counts the bytes as they arrive and raises ``UploadTooLarge`` as soon as the
    count passes the limit (a client may send no length, or a false one); the app's handler
    turns that into the 413, and this middleware does if the app did not.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _send_problem(send, 400, f"bad Content-Length header {declared!r}.")
                return
            if length > self.max_bytes:
                await _send_problem(send, 413, _too_large(self.max_bytes, length))
                return
        received = 0
        started = False

        async def counting_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise UploadTooLarge(_too_large(self.max_bytes))
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except UploadTooLarge as err:
            if started:
                raise
            await _send_problem(send, 413, str(err))


def _too_large(limit: int, length: int | None = None) -> str:
    sent = f" ({length:,} bytes)" if length is not None else ""
    upload = (limit - _FORM_OVERHEAD) / 2**20
    return (
        f"the request body{sent} is larger than this server's upload limit of {upload:g} MiB "
        f"({limit:,} bytes with the form's framing). Send a smaller image."
    )


async def _send_problem(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------------------- requests
def _problem(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=detail)


def _image_problem(err: ImageLoadError) -> HTTPException:
    """415 for a file that is not an image, 400 for a corrupt or too large one."""
    return _problem(415 if err.kind == "not_image" else 400, str(err))


def _expected_shape(served: ServedModel) -> str:
    dims = ", ".join("any" if d is None else str(d) for d in served.input_shape)
    return f"({dims}) (height, width, channels)"


def _only_numbers(value: Any) -> bool:
    """Whether nested lists hold JSON numbers only (not strings, booleans or null)."""
    if isinstance(value, list):
        return all(_only_numbers(v) for v in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _pixels(served: ServedModel, value: Any, batch: bool) -> np.ndarray:
    """JSON pixels as a float32 array of the model's input shape, or a 422 stating it."""
    expected = _expected_shape(served)
    if batch:
        expected = f"(images, {expected[1:]}"
    try:
        if not _only_numbers(value):
            raise TypeError("not all numbers")  # NumPy would read "7" or true as a pixel
        with np.errstate(over="ignore"):  # 1e308 becomes inf here and is refused below
            array = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError):
        raise _problem(
            422,
            f"'pixels' must be nested lists of numbers of shape {expected}; received lists of "
            "uneven lengths or values that are not numbers.",
        ) from None
    if array.size and not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= 255):
        raise _problem(
            422,
            f"'pixels' must be numbers from 0 to 255 (as load_image gives them), in shape "
            f"{expected}; received values from {float(np.nanmin(array)):g} to "
            f"{float(np.nanmax(array)):g}.",
        )
    want = (None, *served.input_shape) if batch else served.input_shape
    fits = array.ndim == len(want) and all(
        w is None or w == n for w, n in zip(want, array.shape, strict=False)
    )
    if not fits or (batch and not 1 <= len(array) <= MAX_BATCH):
        more = f", 1 to {MAX_BATCH} images" if batch else ""
        raise _problem(
            422,
            f"'pixels' must have shape {expected}{more}; received shape {array.shape}.",
        )
    return array


async def _json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return PixelsRequest.model_validate_json(body).pixels
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise _problem(
            422,
            f'send JSON {{"pixels": [...]}} (nested lists of the model\'s input shape); '
            f"{where}: {first.get('msg', 'invalid')}.",
        ) from None


def _batch_shape(shape: Shape) -> str:
    return "(" + ", ".join(["batch", *("any" if n is None else str(n) for n in shape)]) + ")"


def _inputs_form(served: ServedModel) -> str:
    """How to send this model's inputs, in words: the JSON with each input's shape."""
    keys = ", ".join(f'"{name}": [...]' for name, _ in served.inputs)
    shapes = ", ".join(f"'{name}' {_batch_shape(shape)}" for name, shape in served.inputs)
    return (
        f'JSON {{"inputs": {{{keys}}}}} to POST /predict, one batch per input '
        f"(model '{served.name}' takes {shapes})"
    )


def _not_images(served: ServedModel, what: str) -> str:
    return (
        f"model '{served.name}' is not a one-image classifier, so it takes no {what}: send "
        f"{_inputs_form(served)}."
    )


async def _inputs_body(request: Request, served: ServedModel) -> dict[str, Any] | list[Any]:
    """The ``inputs`` of a ``{"inputs": ...}`` request, or a 415/422 saying how to send them."""
    if not _is_json(request):
        raise _problem(415, _not_images(served, "files or forms"))
    try:
        return InputsRequest.model_validate_json(await request.body()).inputs
    except ValidationError as err:
        first = err.errors()[0]
        # The loc names the union's branch too ("inputs.dict[str,list[any]].a"): left out.
        where = ".".join(str(p) for p in first.get("loc", ()) if "[" not in str(p)) or "body"
        raise _problem(
            422, f"send {_inputs_form(served)}; {where}: {first.get('msg', 'invalid')}."
        ) from None


def _tensor_inputs(
    served: ServedModel, given: dict[str, Any] | list[Any], max_batch: int
) -> list[np.ndarray]:
    """The batches of a ``{"inputs": ...}`` request as float32 arrays in input order, checked
    against the model's inputs (names, one sample's shape, numbers, equal batch sizes, limits);
    a 422 (413 past ``MAX_VALUES``) naming the input at fault otherwise."""
    names = [name for name, _ in served.inputs]
    if isinstance(given, dict):
        missing = [n for n in names if n not in given]
        unknown = [n for n in given if n not in names]
        if missing or unknown:
            problems = [f"missing input {n!r}" for n in missing]
            problems += [f"unknown input {n!r}" for n in unknown]
            raise _problem(422, f"{'; '.join(problems)}. Send {_inputs_form(served)}.")
        batches = [given[n] for n in names]
    elif len(given) != len(names):
        raise _problem(
            422,
            f"'inputs' is a list of {len(given)} batches but the model has {len(names)} inputs "
            f"({', '.join(names)}); send one batch per input in that order, or by name: "
            f"{_inputs_form(served)}.",
        )
    else:
        batches = given
    sizes = [len(batch) for batch in batches]
    for name, size in zip(names, sizes, strict=True):
        if size == 0 or size > max_batch:
            raise _problem(
                422,
                f"input '{name}' holds {size} samples; send from 1 to {max_batch} per request "
                "(the same number for every input).",
            )
    if len(set(sizes)) > 1:
        counts = ", ".join(f"'{n}' {size}" for n, size in zip(names, sizes, strict=True))
        raise _problem(
            422,
            f"the inputs hold different numbers of samples ({counts}); sample i of every "
            "input belongs together, so send the same number for each.",
        )
    arrays, total = [], 0
    for (name, shape), batch in zip(served.inputs, batches, strict=True):
        expected = _batch_shape(shape)
        try:
            if not _only_numbers(batch):
                raise TypeError("not all numbers")  # NumPy would read "7" or true as a number
            array = np.asarray(batch, dtype=np.float64)
        except (ValueError, TypeError):
            raise _problem(
                422,
                f"input '{name}' must be nested lists of numbers of shape {expected}; received "
                "lists of uneven lengths or values that are not numbers.",
            ) from None
        fits = array.ndim == len(shape) + 1 and all(
            want is None or want == got for want, got in zip(shape, array.shape[1:], strict=True)
        )
        if not fits:
            raise _problem(
                422,
                f"input '{name}' must have shape {expected}; received shape {array.shape}.",
            )
        total += array.size
        if total > MAX_VALUES:
            raise _problem(
                413,
                f"the inputs hold more than {MAX_VALUES:,} numbers, the most one request may "
                "carry; send fewer samples per request.",
            )
        if not (np.abs(array) <= _FLOAT32_MAX).all():
            raise _problem(
                422,
                f"input '{name}' holds numbers beyond ±{_FLOAT32_MAX:.4g}, which float32 cannot "
                "hold; scale the inputs as the model was trained.",
            )
        arrays.append(array.astype(np.float32))
    return arrays


def _tensor_outputs(served: ServedModel, outputs: list[np.ndarray]) -> dict[str, list[Any]]:
    """The outputs by name as nested lists; a 422 for one that is not finite (JSON has no NaN
    or infinity, and the inputs made it)."""
    named = {}
    for (name, _), value in zip(served.outputs, outputs, strict=True):
        if not np.isfinite(value).all():
            raise _problem(
                422,
                f"output '{name}' of model '{served.name}' is NaN or infinite for these inputs, "
                "which JSON cannot carry; check that the inputs are scaled as in training.",
            )
        named[name] = value.tolist()
    return named


async def _form_files(request: Request, names: tuple[str, ...]) -> list[tuple[bytes, str]]:
    form = await request.form(max_files=MAX_BATCH + 1, max_fields=MAX_BATCH + 1)
    files = [item for name in names for item in form.getlist(name) if isinstance(item, UploadFile)]
    if not files:
        fields = " or ".join(repr(n) for n in names)
        raise _problem(422, f"send the image as a multipart form file field named {fields}.")
    out = []
    for upload in files:
        out.append((await upload.read(), upload.filename or "upload"))
        await upload.close()
    return out


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _is_json(request: Request) -> bool:
    content_type = _content_type(request)
    return content_type == "application/json" or content_type.endswith("+json")


def _kind(request: Request) -> str:
    content_type = _content_type(request)
    if content_type == "multipart/form-data":
        return "form"
    if _is_json(request):
        return "json"
    raise _problem(
        415,
        f"unsupported Content-Type {content_type or 'none'!r}: send multipart/form-data with "
        "an image file field 'file', or application/json {\"pixels\": [...]}.",
    )


def _prediction(served: ServedModel, row: np.ndarray, top_k: int, started: float) -> Prediction:
    names = served.class_names
    k = min(top_k, len(names))
    best = np.argsort(-row, kind="stable")[:k]
    return Prediction(
        label=names[int(best[0])],
        probabilities={name: round(float(p), 6) for name, p in zip(names, row, strict=True)},
        top_k=[{"class": names[c], "probability": round(float(row[c]), 6)} for c in best],
        model=served.name,
        elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
    )


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _explain(served: ServedModel, image: np.ndarray, layers: int) -> tuple[str, list[dict]]:
    """Saliency and the first ``layers`` layers' activation maps, as base64 PNGs."""
    from glassnet.inspect import activations, saliency

    with tempfile.TemporaryDirectory(prefix="glassnet-explain-") as tmp:
        with served.lock:  # inspect patches the model and writes weight.grad while it works
            found = saliency(served.model, image)
            pictures = activations(served.model, image, Path(tmp), max_maps=16, cell=96)
        label = served.class_names[found.class_index]
        panel = found.save(Path(tmp) / "saliency.png", title=f"what made it say {label}")
        panels = [
            {"layer": p.layer, "kind": p.kind, "shape": list(p.shape), "png": _b64(p.path)}
            for p in pictures
            if p.kind in ("feature maps", "bars")
        ][:layers]
        return _b64(panel), panels


# ---------------------------------------------------------------------------- the app
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (400, "A corrupt image, or one declaring too many pixels (decompression bomb)."),
        (413, "The body is over --max-upload-mb, or holds more numbers than one request may."),
        (415, "Not an image, or an unsupported Content-Type."),
        (
            422,
            "JSON or a form of the wrong shape; the message states the expected shape. An "
            'image sent to a model that takes named inputs (the message states its {"inputs": '
            "...} form).",
        ),
    )
}


def _pixels_schema(shape: tuple[int, ...] | None) -> dict[str, Any]:
    """The JSON schema of one image as nested lists: exactly ``shape`` (height, width,
    channels) when the model's input size is known, so the published schema is the contract
    the server enforces (schemathesis checks the two agree)."""
    if shape is None or any(n is None for n in shape):
        return PixelsRequest.model_json_schema()["properties"]["pixels"]
    return _nested(shape, {"type": "number", "minimum": 0, "maximum": 255})


def _nested(shape: Shape, leaf: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of nested lists of ``shape`` (None: any length) holding ``leaf``."""
    schema = leaf
    for n in reversed(shape):
        schema = {"type": "array", "items": schema}
        if n is not None:
            schema.update(minItems=n, maxItems=n)
    return schema


def _document_inputs(schema: dict[str, Any], served: ServedModel, max_batch: int) -> None:
    """Rewrite the OpenAPI ``schema`` for a model that takes named inputs: /predict takes the
    loaded model's ``{"inputs": ...}`` (each input's exact sample shape, by name or in order)
    and answers ``TensorsPrediction``; the image-only endpoints are left out."""
    number = {"type": "number", "minimum": -_FLOAT32_MAX, "maximum": _FLOAT32_MAX}
    batches = {
        name: {
            "type": "array",
            "items": _nested(shape, number),
            "minItems": 1,
            "maxItems": max_batch,
        }
        for name, shape in served.inputs
    }
    by_name = {
        "type": "object",
        "required": list(batches),
        "properties": batches,
        "additionalProperties": False,
    }
    in_order = {
        "type": "array",
        "prefixItems": list(batches.values()),
        "items": False,
        "minItems": len(batches),
        "maxItems": len(batches),
    }
    body = {
        "type": "object",
        "required": ["inputs"],
        "properties": {"inputs": {"anyOf": [by_name, in_order]}},
    }
    paths = schema["paths"]
    for path in ("/predict/batch", "/explain"):
        paths.pop(path, None)
    predict = paths["/predict"]["post"]
    predict.pop("parameters", None)  # top_k ranks classes; this model answers its outputs
    predict["summary"] = "Run the model on a batch per input; a batch per output comes back"
    predict["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    answer = {"schema": {"$ref": "#/components/schemas/TensorsPrediction"}}
    predict["responses"]["200"]["content"] = {"application/json": answer}
    schema["components"]["schemas"]["TensorsPrediction"] = TensorsPrediction.model_json_schema()
    schema["info"]["description"] = (
        f"Run glassnet model '{served.name}': POST /predict with {_inputs_form(served)}; "
        "GET /model lists its inputs and outputs."
    )


def _request_bodies(shape: tuple[int, ...] | None, max_batch: int) -> dict[str, Any]:
    """The OpenAPI request bodies of /predict, /predict/batch and /explain."""

    def one_field(key: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"type": "object", "required": [key], "properties": {key: schema}}

    def listed(items: dict[str, Any]) -> dict[str, Any]:
        return {"type": "array", "items": items, "minItems": 1, "maxItems": max_batch}

    def body(multipart: dict[str, Any], pixels: dict[str, Any] | None) -> dict[str, Any]:
        content: dict[str, Any] = {"multipart/form-data": {"schema": multipart}}
        if pixels is not None:
            content["application/json"] = {"schema": one_field("pixels", pixels)}
        return {"requestBody": {"required": True, "content": content}}

    binary = {"type": "string", "format": "binary"}
    one, image = one_field("file", binary), _pixels_schema(shape)
    many = body(one_field("files", listed(binary)), listed(image))
    return {"one": body(one, image), "batch": many, "file": body(one, None)}


def _input_shape(model_path: str) -> tuple[int, ...] | None:
    """The (height, width, channels) the saved model takes, read from its config.json only."""
    try:
        files = saving.read_files(model_path)
        config = saving.parse_config(files[saving.CONFIG], model_path)
    except (OSError, ValueError):
        return None  # the lifespan reports the real problem when it loads the model
    shape = config.get("input_shape")
    return tuple(shape[1:]) if shape and len(shape) == 4 else None


def create_app(
    model_path: str | os.PathLike[str],
    *,
    max_upload_mb: float = 10,
    batch_window_ms: float = 0,
    max_batch: int = MAX_BATCH,
    explain_layers: int = 2,
) -> FastAPI:
    """The FastAPI app serving the model saved at ``model_path`` (loaded in the lifespan).

    Args:
        max_upload_mb: the largest request body accepted, in MiB; larger ones get 413 before
            they are read.
        batch_window_ms: when > 0, single-image predictions arriving within this many
            milliseconds go through the model together (micro-batching).
        max_batch: the most images in one micro-batch.
        explain_layers: how many of the first layers ``/explain`` draws.
    """
    if max_upload_mb <= 0:
        raise ValueError(f"create_app: max_upload_mb must be positive. Received: {max_upload_mb}")
    if batch_window_ms < 0:
        raise ValueError(
            f"create_app: batch_window_ms must be 0 or more. Received: {batch_window_ms}"
        )
    model_path = os.fspath(model_path)
    bodies = _request_bodies(_input_shape(model_path), max_batch)

    @asynccontextmanager
    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        served = await run_in_threadpool(load_for_serving, model_path)
        app.state.served = served
        app.state.batcher = (
            _Batcher(served, batch_window_ms / 1000, max_batch) if batch_window_ms > 0 else None
        )
        log.info("serving model '%s' from %s", served.name, model_path)
        yield
        app.state.served = None

    app = FastAPI(
        title="glassnet serve",
        description="Classify images with a glassnet model. Upload a photo on the page at `/`, "
        "or POST it to `/predict`.",
        lifespan=lifespan,
    )
    app.state.served = None

    def openapi() -> dict[str, Any]:
        """FastAPI's schema of the routes; for a model that takes named inputs, rewritten
        for the loaded model (``_document_inputs``). Not kept before the model is loaded."""
        if app.openapi_schema is None:
            served = app.state.served
            schema = FastAPI.openapi(app)
            if served is None:
                app.openapi_schema = None
            elif not served.image_classifier:
                _document_inputs(schema, served, max_batch)
            return schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(_BodyLimit, max_bytes=int(max_upload_mb * 2**20) + _FORM_OVERHEAD)

    @app.exception_handler(UploadTooLarge)
    async def _upload_too_large(request: Request, err: UploadTooLarge) -> JSONResponse:
        return JSONResponse({"detail": str(err)}, status_code=413, headers={"connection": "close"})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in err.errors()
        )
        return JSONResponse({"detail": problems or "invalid request"}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, err: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": f"internal error: {type(err).__name__}: {err}"}, status_code=500
        )

    def served_model(images: str | None = None) -> ServedModel:
        """The loaded model (503 before); with ``images`` (what the endpoint takes), a 422
        unless it is an image classifier."""
        served = app.state.served
        if served is None:
            raise _problem(503, "the model is not loaded yet.")
        if images is not None and not served.image_classifier:
            raise _problem(422, _not_images(served, images))
        return served

    async def decode(served: ServedModel, data: bytes, filename: str) -> np.ndarray:
        try:
            return await run_in_threadpool(served.load, data, filename)
        except ImageLoadError as err:
            raise _image_problem(err) from None

    async def one_image(request: Request, served: ServedModel) -> np.ndarray:
        """The image of a one-image request: JSON pixels, or the multipart field ``file``."""
        if _kind(request) == "json":
            return _pixels(served, await _json_body(request), batch=False)
        ((data, filename),) = (await _form_files(request, ("file",)))[:1]
        return await decode(served, data, filename)

    async def predict_one(served: ServedModel, image: np.ndarray) -> np.ndarray:
        batcher = app.state.batcher
        if batcher is not None:
            return await batcher.predict(image)
        return (await run_in_threadpool(served.predict, image[None]))[0]

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    @app.get("/health", response_model=Health, summary="Liveness and whether the model is loaded")
    async def health() -> Health:
        served = app.state.served
        name = served.name if served is not None else None
        return Health(status="ok", model_loaded=served is not None, model=name)

    @app.get("/model", response_model=ModelInfo, summary="What is being served")
    async def model_info() -> ModelInfo:
        served = served_model()
        lines: list[str] = []
        with served.lock:
            served.model.summary(print_fn=lines.append)
        return ModelInfo(
            name=served.name,
            kind="image_classifier" if served.image_classifier else "tensors",
            class_names=served.class_names,
            input_shape=list(served.input_shape) if len(served.inputs) == 1 else None,
            inputs=[TensorSpec(name=n, shape=list(s)) for n, s in served.inputs],
            outputs=[TensorSpec(name=n, shape=list(s)) for n, s in served.outputs],
            preprocessing=served.model.preprocessing,
            parameters=int(served.model.count_params()),
            summary="\n".join(lines),
        )

    @app.post(
        "/predict",
        response_model=Prediction,
        responses=_ERRORS,
        openapi_extra=bodies["one"],
        summary="Classify one image (a file, or JSON pixels)",
    )
    async def predict(request: Request, top_k: _TopK = 3) -> Prediction | JSONResponse:
        started = time.perf_counter()
        served = served_model()
        if not served.image_classifier:
            given = await _inputs_body(request, served)
            arrays = await run_in_threadpool(_tensor_inputs, served, given, max_batch)
            outputs = await run_in_threadpool(lambda: _tensor_outputs(served, served.run(arrays)))
            answer = TensorsPrediction(
                outputs=outputs,
                model=served.name,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            # Returned as it is: the route's response_model is the classifier's Prediction.
            return JSONResponse(answer.model_dump())
        image = await one_image(request, served)
        row = await predict_one(served, image)
        return _prediction(served, row, top_k, started)

    @app.post(
        "/predict/batch",
        response_model=BatchPrediction,
        responses=_ERRORS,
        openapi_extra=bodies["batch"],
        summary=f"Classify several images (up to {MAX_BATCH}) in one request",
    )
    async def predict_batch(request: Request, top_k: _TopK = 3) -> BatchPrediction:
        started = time.perf_counter()
        served = served_model("image batches (its /predict takes a batch per input)")
        if _kind(request) == "json":
            images = _pixels(served, await _json_body(request), batch=True)
        else:
            uploads = await _form_files(request, ("files", "file"))
            if len(uploads) > MAX_BATCH:
                raise _problem(
                    422, f"at most {MAX_BATCH} images per batch; received {len(uploads)}."
                )
            decoded = [await decode(served, data, name) for data, name in uploads]
            shapes = {image.shape for image in decoded}
            if len(shapes) > 1:
                raise _problem(
                    422,
                    f"the images have different sizes {sorted(shapes)} and the model stores no "
                    "size to resize them to; send them one at a time.",
                )
            images = np.stack(decoded)
        probs = await run_in_threadpool(served.predict, images)
        return BatchPrediction(
            predictions=[_prediction(served, row, top_k, started) for row in probs],
            model=served.name,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    @app.post(
        "/explain",
        response_model=Explanation,
        responses=_ERRORS,
        openapi_extra=bodies["file"],
        summary="Look inside: saliency and first-layer activations for one image",
    )
    async def explain(request: Request, top_k: _TopK = 3) -> Explanation:
        started = time.perf_counter()
        served = served_model("image to explain")
        image = await one_image(request, served)
        row = (await run_in_threadpool(served.predict, image[None]))[0]
        picture, panels = await run_in_threadpool(_explain, served, image, explain_layers)
        return Explanation(
            prediction=_prediction(served, row, top_k, started),
            saliency_png=picture,
            activations=panels,
        )

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def create_app_from_env() -> FastAPI:
    """``create_app`` with its arguments from ``GLASSNET_SERVE_*`` environment variables: how
    ``glassnet serve --workers N`` starts each uvicorn worker process (uvicorn imports the app
    by name in every worker, so the arguments travel through the environment)."""
    return create_app(
        os.environ[_ENV + "MODEL"],
        max_upload_mb=float(os.environ.get(_ENV + "MAX_UPLOAD_MB", "10")),
        batch_window_ms=float(os.environ.get(_ENV + "BATCH_WINDOW_MS", "0")),
    )


def run(
    model_path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    max_upload_mb: float = 10,
    batch_window_ms: float = 0,
    log_level: str = "info",
) -> None:
    """Serve with uvicorn until Ctrl-C (what ``glassnet serve`` calls)."""
    import uvicorn

    if workers > 1:
        os.environ[_ENV + "MODEL"] = os.fspath(model_path)
        os.environ[_ENV + "MAX_UPLOAD_MB"] = str(max_upload_mb)
        os.environ[_ENV + "BATCH_WINDOW_MS"] = str(batch_window_ms)
        uvicorn.run(
            "glassnet.serve.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
        )
        return
    app = create_app(model_path, max_upload_mb=max_upload_mb, batch_window_ms=batch_window_ms)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
