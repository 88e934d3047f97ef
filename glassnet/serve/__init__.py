"""Serve a saved model over HTTP: a JSON API and a web page to upload a photo.

``glassnet serve cats.glassnet`` (or ``create_app(path)`` in your own ASGI server). Needs the
``serve`` extra: ``pip install 'glassnet[serve]'`` (FastAPI, uvicorn, python-multipart). Nothing
in glassnet imports this package; the ``glassnet serve`` command imports it when it runs.
"""

from glassnet.serve.app import ServedModel, create_app, create_app_from_env, load_for_serving, run

__all__ = ["ServedModel", "create_app", "create_app_from_env", "load_for_serving", "run"]
