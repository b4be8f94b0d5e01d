"""Filter arithmetic and the echo filter that keep the bridge from duplicating or looping messages."""

from __future__ import annotations

import time

import pytest

from edgeloop.simulator.core.errors import CoreError
from edgeloop.simulator.core.mqtt.echo import EchoFilter
from edgeloop.simulator.core.mqtt.filters import minimal_filters
from edgeloop.simulator.core.mqtt.spool import Spool
from edgeloop.simulator.core.topics import filter_covers as covers


@pytest.mark.parametrize("general, specific, expected", [
    ("a/#", "a", True), ("a/#", "a/b/c", True), ("a/#", "a/+/c", True), ("#", "x/#", True),
    ("a/+", "a/b", True), ("a/+", "a/+", True), ("a/b", "a/+", False), ("a/+", "a/#", False),
    ("a/+/c", "a/b/+", False), ("a/b/#", "a", False), ("a/+", "a/b/c", False),
])
def test_covers(general, specific, expected):
    assert covers(general, specific) is expected


def test_minimal_filters_keeps_only_uncovered_filters():
    assert minimal_filters(["a/b", "a/#", "a/#", "x/+/y", "x/1/y", "q"]) == {"a/#", "x/+/y", "q"}


def test_echo_filter_consumes_exactly_the_expected_copies():
    echo = EchoFilter(window_s=30)
    echo.expect("t", b"p", copies=2)
    assert echo.is_echo("t", b"other") is False
    assert echo.is_echo("t", b"p") and echo.is_echo("t", b"p")
    assert echo.is_echo("t", b"p") is False  # a third identical message is a real one
    echo.expect("t", b"p", copies=0)
    assert echo.pending() == 0 and echo.is_echo("t", b"p") is False


def test_echo_filter_forgets_after_its_window():
    echo = EchoFilter(window_s=0.2)
    echo.expect("t", b"p")
    time.sleep(0.3)
    echo.expect("t", b"q")
    assert echo.is_echo("t", b"p") is False and echo.is_echo("t", b"q") is True


def test_a_corrupt_spool_file_is_a_clear_error(tmp_path):
    path = tmp_path / "iotcore.sqlite"
    path.write_bytes(b"this is not an SQLite database" * 100)
    with pytest.raises(CoreError, match=f"cannot open the IoT Core spool {path}"):
        Spool(path)
