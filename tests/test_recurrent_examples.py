"""The recurrent examples run end to end on small data (the full runs are in their docstrings)."""

from __future__ import annotations

from tests.test_examples import load_example


def test_sequence_sum_learns_to_count(capsys):
    accuracy = load_example("sequence_sum").main(samples=1500, length=6, epochs=6)
    assert accuracy >= 0.95
    assert "test accuracy" in capsys.readouterr().out


def test_sentiment_reads_the_negation(capsys):
    accuracy = load_example("sentiment").main(reviews=1000, epochs=8)
    assert accuracy >= 0.9
    assert "test accuracy" in capsys.readouterr().out
