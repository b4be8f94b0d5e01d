"""CSV validation: every problem names the file line and the column."""

from __future__ import annotations

import pytest

from edgeloop.components.digital_twin.configurations import standard_configurations
from edgeloop.components.digital_twin.telemetry import read_csv
from edgeloop.components.errors import TrainingDataError
from tests.kits import synthetic_plant as synthetic

KNOWN = standard_configurations()
HEADER = "timestamp,flow,pressure,power,config\n"
GOOD = "2024-01-01T00:00:00Z,250.5,70.1,52.3,c1c2\n2024-01-01T00:01:00Z,251.0,70.0,52.9,c1c2\n"


def write(tmp_path, text):
    path = tmp_path / "data.csv"
    path.write_text(text)
    return path


def test_reads_the_contract_format(tmp_path):
    frame = read_csv(write(tmp_path, HEADER + GOOD), KNOWN)
    assert len(frame) == 2
    assert frame.flow.tolist() == [250.5, 251.0]
    assert frame.time[1] - frame.time[0] == 60.0
    assert frame.config.tolist() == ["c1c2", "c1c2"]


def test_standard_configurations_follow_the_contract():
    assert KNOWN == ["c1c2", "c1c3", "c1c4", "c2c3", "c2c4", "c3c4",
                     "c1c2c3", "c1c2c4", "c1c3c4", "c2c3c4", "c1c2c3c4"]


def test_missing_column_is_named(tmp_path):
    path = write(tmp_path, "timestamp,flow,power,config\n2024-01-01T00:00:00Z,1,2,c1c2\n")
    with pytest.raises(TrainingDataError) as err:
        read_csv(path, KNOWN)
    assert err.value.column == "pressure" and err.value.line == 1
    assert "pressure" in str(err.value) and "missing column" in str(err.value)


def test_non_numeric_value_names_line_and_column(tmp_path):
    path = write(tmp_path, HEADER + GOOD + "2024-01-01T00:02:00Z,252,seventy,53,c1c2\n")
    with pytest.raises(TrainingDataError) as err:
        read_csv(path, KNOWN)
    assert (err.value.line, err.value.column) == (4, "pressure")
    assert "line 4" in str(err.value) and "'seventy' is not a number" in str(err.value)


def test_non_finite_value_is_refused(tmp_path):
    with pytest.raises(TrainingDataError) as err:
        read_csv(write(tmp_path, HEADER + "2024-01-01T00:00:00Z,nan,70,50,c1c2\n"), KNOWN)
    assert (err.value.line, err.value.column) == (2, "flow")


def test_unknown_configuration_names_line_and_column(tmp_path):
    path = write(tmp_path, HEADER + GOOD + "2024-01-01T00:02:00Z,252,70,53,c1c5\n")
    with pytest.raises(TrainingDataError) as err:
        read_csv(path, KNOWN)
    assert (err.value.line, err.value.column) == (4, "config")
    assert "unknown configuration 'c1c5'" in str(err.value)


def test_bad_timestamp_and_short_row(tmp_path):
    with pytest.raises(TrainingDataError) as err:
        read_csv(write(tmp_path, HEADER + "yesterday,250,70,52,c1c2\n"), KNOWN)
    assert (err.value.line, err.value.column) == (2, "timestamp")
    with pytest.raises(TrainingDataError) as err:
        read_csv(write(tmp_path, HEADER + "2024-01-01T00:00:00Z,250,70\n"), KNOWN)
    assert (err.value.line, err.value.column) == (2, "power")


def test_naive_timestamps_and_negative_readings_are_refused(tmp_path):
    """The live telemetry contract's rules: a timestamp needs a timezone, readings are >= 0."""
    with pytest.raises(TrainingDataError) as err:
        read_csv(write(tmp_path, HEADER + GOOD + "2024-01-01T00:02:00,252,70,53,c1c2\n"), KNOWN)
    assert (err.value.line, err.value.column) == (4, "timestamp") and "has no timezone" in str(err.value)
    with pytest.raises(TrainingDataError) as err:
        read_csv(write(tmp_path, HEADER + "2024-01-01T00:00:00Z,250,70,-1.5,c1c2\n"), KNOWN)
    assert (err.value.line, err.value.column) == (2, "power") and "negative" in str(err.value)


def test_synthetic_csv_round_trip(tmp_path):
    rows = synthetic.rows(50)
    synthetic.write_csv(tmp_path / "d.csv", rows)
    frame = read_csv(tmp_path / "d.csv", KNOWN)
    assert len(frame) == 50 and frame.power[7] == rows[7]["power"]
