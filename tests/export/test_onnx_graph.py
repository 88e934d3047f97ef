"""An imported ONNX graph (OnnxGraph: skip connections, explicit pads, a padded max-pool)
exports back to ONNX and gives the same numbers in onnxruntime as in glassnet and torch."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.export.onnx_import import OnnxGraph

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
nn = torch.nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 6, 3, 2, 1)  # pads 1 all round: not "same", a pad node
        self.pool = nn.MaxPool2d(3, 2, 1)  # a max_pool node with its own pads
        self.branch = nn.Conv2d(6, 6, 3, 1, 1)
        self.fc = nn.Linear(6 * 4 * 4, 3)

    def forward(self, x):
        x = self.pool(torch.relu(self.stem(x)))
        x = torch.sqrt(torch.relu(self.branch(x) + x) * 0.5 + 1.0)  # skip, mul, add, sqrt
        x = x - x[:, :, :, :2].mean(dim=(2, 3), keepdim=True)  # slice, reduce_mean, sub
        return torch.softmax(self.fc(torch.flatten(x, 1)), dim=1)


def test_imported_graph_round_trips_through_onnx(tmp_path):
    torch.manual_seed(0)
    net = Net().eval()
    path = tmp_path / "net.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net,
            (torch.rand(1, 3, 16, 16),),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0: "batch"}},
        )
    model = gn.import_onnx(path)
    assert isinstance(model, OnnxGraph)
    ops = {node["op"] for node in model.nodes}
    assert {"pad", "max_pool", "sqrt", "slice", "reduce_mean", "sub"} <= ops, ops
    images = np.random.default_rng(1).uniform(0, 1, (3, 16, 16, 3)).astype(np.float32)
    with torch.no_grad():
        expected = net(torch.from_numpy(images.transpose(0, 3, 1, 2).copy())).numpy()
    np.testing.assert_allclose(model.predict(images), expected, atol=1e-5)
    out = tmp_path / "again.onnx"
    gn.export_onnx(model, str(out))
    session = ort.InferenceSession(str(out))
    for batch in (1, 3):
        got = session.run(None, {session.get_inputs()[0].name: images[:batch]})[0]
        np.testing.assert_allclose(got, expected[:batch], atol=1e-5)
