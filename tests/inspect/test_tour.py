"""docs/tour.md runs: every ``>>>`` block is executed with doctest and its output checked, so
the top-down tour cannot drift from the code."""

from __future__ import annotations

import doctest
import pathlib
import re

import numpy as np

import glassnet as gn

TOUR = pathlib.Path(__file__).resolve().parents[2] / "docs" / "tour.md"

NUMBER = doctest.register_optionflag("NUMBER")  # the same flag pytest's doctest plugin uses
_FLOAT = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?![\w.])")


class NumberChecker(doctest.OutputChecker):
    """doctest's checker plus pytest's NUMBER option: a float in the expected output matches
    any number that agrees to the decimals written (``0.93`` matches 0.9312)."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        if super().check_output(want, got, optionflags):
            return True
        if not optionflags & NUMBER:
            return False
        wants, gots = _FLOAT.findall(want), list(_FLOAT.finditer(got))
        if not wants or len(wants) != len(gots):
            return False
        pieces, last = [], 0
        for w, g in zip(wants, gots, strict=True):
            decimals = len(w.split(".")[1])
            close = abs(float(w) - float(g.group())) <= 1.01 * 10.0**-decimals
            pieces += [got[last : g.start()], w if close else g.group()]
            last = g.end()
        return super().check_output(want, "".join(pieces) + got[last:], optionflags)


def test_tour_runs_and_prints_what_it_says(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # anything the tour writes lands in a temporary folder
    text = TOUR.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {"np": np, "gn": gn}, "tour", str(TOUR), 0)
    assert len(test.examples) > 40, "the tour lost its code blocks"
    flags = NUMBER | doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    runner = doctest.DocTestRunner(checker=NumberChecker(), optionflags=flags)
    failures = []
    runner.run(test, out=failures.append)
    assert runner.failures == 0, "".join(failures)
