"""Ground truth of windows and the score of a gateway's forwarding decisions against it."""

from __future__ import annotations

from edgeloop.simulator.wearable.truth import score_forwarding, window_label, windows_cut

# one device: normal 0-70 s, AF 70-150 s, normal after; a second device normal throughout
LABELS = {"w1": [(0.0, 70.0, "normal"), (70.0, 150.0, "af"), (150.0, 300.0, "normal")],
          "w2": [(0.0, 300.0, "normal")]}


def test_windows_cut_counts_only_whole_windows() -> None:
    assert windows_cut(59.0) == 0 and windows_cut(60.0) == 1 and windows_cut(179.9) == 2
    assert windows_cut(120.0, window_s=60.0, hop_s=30.0) == 3


def test_window_label_reports_transition_windows_apart() -> None:
    assert window_label(LABELS["w1"], 0, 60) == "normal"
    assert window_label(LABELS["w1"], 60, 120) == "af"          # 50 s of AF
    assert window_label(LABELS["w1"], 120, 180) == "af"         # 30 s of AF
    assert window_label(LABELS["w1"], 140, 200) is None         # 10 s of AF: a transition


def test_score_counts_every_window_cut_and_only_the_received_stream() -> None:
    forwarded = {("w1", 60), ("w2", 120)}                       # w1 misses the AF window at 120 s
    score = score_forwarding(LABELS, {"w1": 180.0, "w2": 300.0}, forwarded)
    assert score["windows_by_truth"] == {"normal": 6, "af": 2, "other": 0, "noisy": 0, "transition": 0}
    assert score["forwarded_by_truth"]["af"] == 1 and score["forwarded_by_truth"]["normal"] == 1
    assert score["sensitivity_non_normal"] == 0.5
    assert score["normal_forwarded_fraction"] == round(1 / 6, 4)


def test_score_without_abnormal_windows_has_no_sensitivity() -> None:
    score = score_forwarding({"w2": LABELS["w2"]}, {"w2": 120.0}, set())
    assert score["sensitivity_non_normal"] is None and score["normal_forwarded_fraction"] == 0.0
