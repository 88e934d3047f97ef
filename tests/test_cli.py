"""The glassnet command, driven through typer's CliRunner."""

from __future__ import annotations

import re

from typer.testing import CliRunner

import glassnet as gn
from glassnet.cli import app

runner = CliRunner()


def test_demo_trains_reports_and_saves(tmp_path):
    out = tmp_path / "digits.glassnet"
    result = runner.invoke(app, ["demo", "--epochs", "4", "--out", str(out), "--verbose", "0"])
    assert result.exit_code == 0, result.output
    assert "(3·3·1 + 1)·16 = 160" in result.output  # the summary came first
    accuracy = float(re.search(r"accuracy (\d+\.\d+)%", result.output).group(1))
    assert accuracy > 85.0
    assert "Confusion matrix" in result.output
    model = gn.load_model(out)
    assert model.class_names == [str(d) for d in range(10)]


def test_summary_of_a_saved_model_and_of_a_missing_one(tmp_path):
    runner.invoke(app, ["demo", "--epochs", "1", "--out", str(tmp_path / "m"), "--verbose", "0"])
    result = runner.invoke(app, ["summary", str(tmp_path / "m")])
    assert result.exit_code == 0 and "Total params: 38,282" in result.output
    result = runner.invoke(app, ["summary", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_version_and_help():
    assert runner.invoke(app, ["version"]).output.strip() == gn.__version__
    result = runner.invoke(app, ["--help"])
    assert "demo" in result.output and "summary" in result.output
