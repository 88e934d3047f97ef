"""Commands about one network: ``summary`` (its layers), ``explain`` (why it answered),
``export`` (to ONNX) and ``serve`` (a web page and REST API)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from glassnet.cli.errors import UserError, user_errors
from glassnet.cli.files import ModelPath, check_image_size, load_saved_model, side_file
from glassnet.data.images import model_preprocessing

__all__ = ["explain", "export", "serve", "summary"]


# ---------------------------------------------------------------------------- summary
def _parse_shape(text: str) -> tuple[int, ...]:
    """``--input-shape``'s text as a shape: ``"224,224,3"`` or ``"224x224x3"`` -> (224, 224, 3)."""
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(",") if part.strip())
    except ValueError:
        shape = ()
    if not shape or any(d <= 0 for d in shape):
        raise UserError(
            f"--input-shape must be positive integers separated by commas, e.g. 224,224,3. "
            f"Received: {text!r}"
        )
    return shape


def summary(
    model: Annotated[
        str,
        typer.Argument(
            metavar="MODEL|ARCHITECTURE",
            help="A saved model folder or .zip, or an architecture name such as vgg16.",
        ),
    ],
    input_shape: Annotated[
        str, typer.Option(help="For an architecture: one image's height,width,channels.")
    ] = "224,224,3",
    classes: Annotated[int, typer.Option(min=1, help="For an architecture: classes.")] = 1000,
) -> None:
    """Print a model's layers, output shapes, parameter formulas, sizes and MACs: of a saved
    model, or of a named architecture (glassnet summary resnet50 --input-shape 32,32,3)."""
    import glassnet as gn
    from glassnet import applications

    with user_errors():
        if os.path.exists(model):
            net = gn.load_model(model, compile=False)
        else:
            try:
                name = applications.canonical_name(model)
            except ValueError:
                raise UserError(
                    f"'{model}' does not exist as a file and is not a known architecture. Known "
                    f"architectures: {', '.join(applications.names())}."
                ) from None
            net = applications.get(name, _parse_shape(input_shape), classes)
    net.summary(print_fn=typer.echo)


def explain(
    model_path: ModelPath,
    image: Annotated[Path, typer.Argument(metavar="IMAGE", help="The photo to explain.")],
    out: Annotated[Path, typer.Option(help="Folder for report.html and its pictures.")] = Path(
        "report"
    ),
    top_k: Annotated[int, typer.Option(min=1, help="How many classes to list.")] = 3,
) -> None:
    """Write an HTML report on why the model classified IMAGE as it did: top classes, the
    saliency map, every layer's activations, the first-layer filters and the summary. Open
    report.html in a browser; no server is needed."""
    from glassnet.data import load_image
    from glassnet.inspect import explain as write_report

    with user_errors():
        net = load_saved_model(model_path)
        settings, resizes = model_preprocessing(net)
        pixels = load_image(image, **settings)
        if not resizes:
            check_image_size(pixels, net, image)
        page = write_report(net, pixels, out, top_k=top_k, title=image.name)
    typer.echo(f"Report: {page}")


def export(
    model_path: ModelPath,
    fmt: Annotated[str, typer.Option("--format", help="The file format: onnx.")] = "onnx",
    out: Annotated[
        Path | None, typer.Option(help="The file to write (default: MODEL's name + .onnx).")
    ] = None,
) -> None:
    """Export a saved model to run without glassnet: an ONNX file for onnxruntime (Python,
    C++, C#, JavaScript, phones), with class names and preprocessing in its metadata."""
    with user_errors():
        if fmt.lower() != "onnx":
            raise UserError(f"unknown --format {fmt!r}; supported formats: onnx.")
        net = load_saved_model(model_path)
        target = out if out is not None else side_file(model_path, "onnx")
        try:  # the onnx package is imported when the export starts
            from glassnet.export.onnx import export as export_onnx

            export_onnx(net, target)
        except ImportError as err:
            raise UserError(f"{err}") from None
    typer.echo(f"Wrote {target}")


def serve(
    model_path: ModelPath,
    host: Annotated[
        str, typer.Option(help="Address to listen on (0.0.0.0 to be reachable from others).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes, each with its own copy of the model.")
    ] = 1,
    max_upload_mb: Annotated[
        float, typer.Option(min=0.001, help="Largest upload accepted, in MiB (larger: 413).")
    ] = 10.0,
    batch_window_ms: Annotated[
        float,
        typer.Option(
            min=0, help="Gather predictions arriving within this many ms into one batch (0: off)."
        ),
    ] = 0.0,
) -> None:
    """Serve a saved model: a web page at http://HOST:PORT/ to upload or photograph an image
    and see the top classes and what the network saw, and a JSON API (POST /predict,
    POST /predict/batch, GET /model, GET /health; documentation at /docs). A model that is not
    a one-image classifier (several inputs or outputs, say) takes POST /predict with JSON
    {"inputs": {name: batch}} and answers {"outputs": {name: batch}}. Ctrl-C stops it."""
    with user_errors():
        try:
            from glassnet.serve import load_for_serving, run
        except ImportError as err:
            raise UserError(
                f"glassnet serve needs FastAPI, uvicorn and python-multipart ({err}). Install "
                "them with: pip install 'glassnet[serve]'"
            ) from None
        served = load_for_serving(model_path)  # report a bad model as one line, before binding
    if served.image_classifier:
        what = f"{len(served.class_names)} classes"
    else:
        names = ", ".join(name for name, _ in served.inputs)
        what = f'inputs {names}: POST /predict {{"inputs": ...}}'
    typer.echo(
        f"Serving '{served.name}' ({what}) at http://{host}:{port}/ "
        f"(API docs at /docs). Ctrl-C stops it."
    )
    del served
    run(
        model_path,
        host=host,
        port=port,
        workers=workers,
        max_upload_mb=max_upload_mb,
        batch_window_ms=batch_window_ms,
    )
