"""The live line says while a level runs how many of its connections are open."""

import io

from loadtest.runner import ProgressLine


def test_the_live_line_says_reached_n_of_m_while_short_of_the_target():
    stream = io.StringIO()
    line = ProgressLine("flask health c=10000", 2.0, 10000, stream=stream)
    line(5000, 0, 1.0, 4096)
    assert "open 4,096/10,000 (reached 4,096 of 10,000)" in stream.getvalue()


def test_the_live_line_has_no_marker_once_every_connection_is_open():
    stream = io.StringIO()
    line = ProgressLine("fastapi health c=100", 2.0, 100, stream=stream)
    line(5000, 0, 1.0, 100)
    assert "open 100/100" in stream.getvalue() and "reached" not in stream.getvalue()
