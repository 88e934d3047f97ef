"""Data-parallel training over MPI, run for real with mpirun (skipped without mpi4py/mpirun)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import glassnet as gn

pytest.importorskip("mpi4py")
MPIRUN = shutil.which("mpirun")
pytestmark = pytest.mark.skipif(MPIRUN is None, reason="mpirun is not installed")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Open MPI refuses to run as root unless told; CI machines run as root.
ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}


def mpirun(n: int, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    command = [MPIRUN, "--oversubscribe", "-n", str(n), sys.executable, "-m", *args]
    return subprocess.run(
        command, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=timeout
    )


def test_two_ranks_equal_one_process_with_the_same_global_batch(tmp_path):
    """2 ranks × 32 samples with averaged gradients == 1 process × 64 samples, 20 steps."""
    one, two = tmp_path / "one.npz", tmp_path / "two.npz"
    single = subprocess.run(
        [sys.executable, "-m", "tests.distributed.worker", "equivalence", str(one)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert single.returncode == 0, single.stderr
    result = mpirun(2, "tests.distributed.worker", "equivalence", str(two))
    assert result.returncode == 0, result.stderr + result.stdout
    a, b = np.load(one), np.load(two)
    assert a.files == b.files
    for key in a.files:
        np.testing.assert_allclose(a[key], b[key], atol=1e-5, rtol=1e-5, err_msg=key)


def test_a_failing_rank_stops_the_whole_job_with_its_message():
    start = time.perf_counter()
    result = mpirun(2, "tests.distributed.worker", "fail", timeout=60)
    assert result.returncode != 0
    assert "rank 1 of 2 failed" in result.stderr and "deliberate failure" in result.stderr
    assert time.perf_counter() - start < 30


def test_one_process_distributed_is_ordinary_training():
    from tests.distributed.worker import data, model

    x, y = data(128)
    plain = model()  # model() seeds the run: build and train one after the other
    plain.fit(x, y, batch_size=32, epochs=2, verbose=0)
    spread = model()
    spread.fit(x, y, batch_size=32, epochs=2, verbose=0, distributed=True)
    for p, s in zip(plain.get_weights(), spread.get_weights(), strict=True):
        np.testing.assert_array_equal(p, s)
    assert spread._parallel is None and gn.distributed.rank() == 0


def test_glassnet_train_distributed_on_two_ranks(tmp_path):
    """The command line under mpirun: one rank speaks, one model is written, it loads."""
    from tests.test_cli import draw_shapes

    data = draw_shapes(tmp_path / "shapes", per_class=24, size=16)
    out = tmp_path / "shapes.glassnet"
    result = mpirun(
        2,
        "glassnet.cli",
        "train",
        str(data),
        "--distributed",
        "--epochs",
        "2",
        "--image-size",
        "24",
        "--batch-size",
        "16",
        "--out",
        str(out),
        "--verbose",
        "2",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.count("Epoch 2/2") == 1  # rank 1 stays quiet
    assert gn.load_model(out).class_names == ["circles", "squares"]


def test_glassnet_train_distributed_to_a_time_budget(tmp_path):
    """Every rank trains rank 0's planned number of epochs (a mismatch would hang the job)."""
    from tests.test_cli import draw_shapes

    data = draw_shapes(tmp_path / "shapes", per_class=16, size=16)
    out = tmp_path / "shapes.glassnet"
    args = ["train", str(data), "--distributed", "--time-budget", "3s", "--image-size", "24"]
    result = mpirun(2, "glassnet.cli", *args, "--out", str(out), "--verbose", "2")
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.count("epoch(s) are planned") == 1
    assert gn.load_model(out).class_names == ["circles", "squares"]
