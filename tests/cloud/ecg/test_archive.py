"""The pathology archive, its pictures and their low-priority renderer process, the alert fan-out and
`edgeloop ecg archive` (no broker here; tests/cloud/ecg/test_receiver.py covers MQTT). Windows are
real simulated ECG through the wire format. Tests about the archive's layout draw in-process (a
renderer process costs seconds to start); the renderer's own tests use the default process."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import re
import signal
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgeloop.cloud.ecg.alerts import AlertFanout
from edgeloop.cloud.ecg.archive import PathologyArchive
from edgeloop.cloud.ecg.render import render_window_png
from edgeloop.cloud.ecg.render_pool import RENDER_NICENESS, InProcessRenderer, RenderPool
from edgeloop.cloud.errors import ArchiveError, RenderError, UnsafeIdError
from edgeloop.contracts.ecg import (
    parse_window,
)
from edgeloop.simulator.wearable.simulator import WearableSimulator
from tests.kits.core import wait_for
from tests.kits.ecg_archive import FS, T0, Webhook, recording, run, window_body


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def in_process(root: Path) -> PathologyArchive:
    return PathologyArchive(root, renderer=InProcessRenderer())


# -- archive -------------------------------------------------------------------------------------

def test_store_writes_the_layout_once_and_counts_a_redelivery_as_duplicate(tmp_path):
    archive = in_process(tmp_path / "arch")
    body = window_body()
    window = parse_window(json.dumps(body))
    stored = archive.store(window, received_at=T0 + 61.5)

    folder = tmp_path / "arch" / "windows" / "af" / "2024-03-01" / "wearable-0001" / "wearable-0001-1709294400000"
    assert stored.path == folder and not stored.duplicate
    assert sorted(p.name for p in folder.iterdir()) == ["raw.npy", "spectrogram.png", "window.json"]
    raw = np.load(folder / "raw.npy")
    assert raw.dtype == np.float32 and raw.shape == (15000,)
    assert np.abs(raw - recording("wearable-0001", "af")).max() < 1e-3     # 1 uV wire resolution
    assert png_size(folder / "spectrogram.png") == (1000, 500)
    meta = json.loads((folder / "window.json").read_text())
    assert "data" not in meta["raw"] and meta["raw"]["n"] == 15000
    assert meta["label"] == "af" and meta["score"] == 0.91 and meta["model_version"] == "1.0.3"
    assert meta["received_at"] == T0 + 61.5 and meta["fs"] == FS and meta["n"] == 15000
    assert set(meta["features"]) == set(body["features"]) and meta["spectrogram"]["shape"] == [16, 12]
    assert stored.ecg is not None and np.array_equal(stored.ecg, raw)

    again = archive.store(parse_window(json.dumps(body)), received_at=T0 + 70)   # a QoS 1 redelivery
    assert again.duplicate and again.received_at == T0 + 61.5
    assert (archive.stored, archive.duplicates, len(archive)) == (1, 1, 1)
    other = in_process(tmp_path / "arch")              # another process's view: the index, not memory
    assert other.store(window).duplicate and len(other) == 1
    assert not list((tmp_path / "arch" / "tmp").iterdir())


def _store_in_process(root: str, bodies: list[dict], out) -> None:
    with PathologyArchive(root) as archive:         # the default renderer: its own worker process
        results = [archive.store(parse_window(body)).duplicate for body in bodies]
    out.put(results)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_two_processes_storing_the_same_windows_store_each_once_while_a_reader_reads(tmp_path, start_method):
    root = tmp_path / "arch"
    PathologyArchive(root)
    bodies = [window_body(window_id=f"wearable-0001-w{i}", start=T0 + 60 * i) for i in range(2)]
    ctx = multiprocessing.get_context(start_method)   # a receiver may run in either kind of process
    out = ctx.Queue()
    procs = [ctx.Process(target=_store_in_process, args=(str(root), bodies, out)) for _ in range(2)]
    for proc in procs:
        proc.start()
    reader = PathologyArchive(root, create=False)
    seen = []
    while any(p.is_alive() for p in procs):
        seen.append(len(reader.windows()))          # never fails, never sees a row without files
        for item in reader.windows():
            assert item.raw_path.exists() and item.png_path.exists()
        time.sleep(0.02)
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    duplicates = [out.get(timeout=5) for _ in procs]
    assert sum(d for result in duplicates for d in result) == 2       # each window stored exactly once
    assert len(reader) == 2 and sorted(seen) == seen


def test_review_labelled_filters_and_agreement(tmp_path):
    archive = in_process(tmp_path)
    day2 = T0 + 86400
    for device, wid, condition, start in (("wearable-0001", "w-a", "af", T0), ("wearable-0001", "w-b", "noisy", T0 + 60),
                                          ("wearable-0002", "w-c", "other", day2)):
        archive.store(parse_window(window_body(device, wid, condition=condition, start=start)))

    reviewed = archive.review("w-a", "af", "dr-lee", "clear AF")
    assert (reviewed.label, reviewed.reviewer, reviewed.note, reviewed.gateway_label) == ("af", "dr-lee", "clear AF", "af")
    archive.review("w-c", "normal", "dr-lee")                  # gateway was wrong
    archive.review("w-c", "other", "dr-kim", "bigeminy")       # second opinion wins, first stays audited

    labelled = {w.window_id: w for w in archive.labelled()}
    assert set(labelled) == {"w-a", "w-c"}
    assert labelled["w-c"].label == "other" and labelled["w-c"].reviewer == "dr-kim"
    assert labelled["w-a"].ecg.shape == (15000,) and labelled["w-a"].fs == FS
    assert json.loads(labelled["w-c"].meta_path.read_text())["review"]["label"] == "other"

    assert [w.window_id for w in archive.windows(reviewed=False)] == ["w-b"]
    assert [w.window_id for w in archive.windows(device="wearable-0001")] == ["w-a", "w-b"]
    assert [w.window_id for w in archive.windows(date="2024-03-02")] == ["w-c"]
    assert [w.window_id for w in archive.windows(label="noisy")] == ["w-b"]

    stats = archive.stats()
    assert stats["windows"] == 3 and stats["devices"] == 2 and stats["reviewed"] == 2
    assert stats["by_gateway_label"] == {"normal": 0, "af": 1, "other": 1, "noisy": 1}
    assert stats["agreement"]["agree"] == 2 and stats["agreement"]["rate"] == 1.0

    with pytest.raises(ArchiveError, match="label 'vfib'"):
        archive.review("w-b", "vfib", "dr-lee")
    with pytest.raises(KeyError, match="no archived window 'w-zz'"):
        archive.review("w-zz", "af", "dr-lee")
    with pytest.raises(ArchiveError, match="date"):
        archive.windows(date="March 1")


@pytest.mark.parametrize(("device_id", "window_id"), [("wearable-0001", ".."), ("wearable-0001", "../../../evil"),
                                                        ("..", "w-1"), ("wearable-0001", "a/b"), ("wearable-0001", ""),
                                                        ("wearable-0001", "x" * 201)])
def test_ids_that_would_leave_the_archive_are_refused(tmp_path, device_id, window_id):
    window = dataclasses.replace(parse_window(window_body()), device_id=device_id, window_id=window_id)
    archive = PathologyArchive(tmp_path / "arch")
    with pytest.raises(UnsafeIdError, match="_id"):
        archive.store(window)
    assert len(archive) == 0
    assert [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("archive.sqlite")] == []


def test_render_draws_a_png_and_names_the_install_when_matplotlib_is_missing(tmp_path, monkeypatch):
    ecg = recording("wearable-0003", "other")
    assert png_size(render_window_png(ecg, FS, tmp_path / "w.png", "bigeminy")) == (1000, 500)
    with pytest.raises(RenderError, match="1-D finite"):
        render_window_png(np.full(100, np.nan), FS, tmp_path / "nan.png", "bad")
    monkeypatch.setitem(__import__("sys").modules, "matplotlib.figure", None)
    with pytest.raises(RenderError, match=r"pip install 'edgeloop\[cloud\]'"):
        render_window_png(ecg, FS, tmp_path / "x.png", "no matplotlib")


def picture(path: Path) -> tuple[Image.Image, str]:
    """The decoded PNG (a truncated or corrupt file fails here) and the headline it carries."""
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB"), image.text["Title"]


def drawn(image: Image.Image) -> tuple[int, float]:
    """Trace-blue pixels in the upper panel, and the share of white in the spectrogram panel."""
    pixels = np.asarray(image).astype(int)
    trace = pixels[50:240, 80:910]
    blue = int(np.count_nonzero((trace[..., 2] - trace[..., 0] > 60) & (trace[..., 0] < 120)))
    spectrum = pixels[280:430, 80:910]
    return blue, float(np.mean((spectrum == 255).all(axis=-1)))


def test_the_picture_is_a_png_of_trace_and_spectrogram_with_its_scale_in_the_title(tmp_path):
    ecg = recording("wearable-0001", "af")
    image, title = picture(render_window_png(ecg, FS, tmp_path / "w.png", "wearable-0001 w-1"))
    assert image.size == (1000, 500)
    assert re.fullmatch(r"wearable-0001 w-1  \(trace ±[12] mV around [+-]0\.\d\d mV\)", title)  # not clipped
    blue, white = drawn(image)
    assert blue > 2000 and white < 0.01


def test_an_out_of_range_trace_is_clipped_and_the_title_says_how_much(tmp_path):
    ecg = recording("wearable-0001", "af").astype(np.float64)
    ecg[3000:3500] += 60.0                                  # 2 s of electrode pop far beyond +-20 mV
    image, title = picture(render_window_png(ecg, FS, tmp_path / "w.png", "popped"))
    assert re.fullmatch(r"popped  \(trace ±20 mV around [+-]0\.\d\d mV, clipped: 3\.3 % of samples beyond\)", title)
    assert image.size == (1000, 500) and drawn(image)[0] > 500


@pytest.mark.parametrize(("seconds", "fs"), [(10, 250.0), (600, 125.0), (61, 360.0)])
def test_windows_of_other_lengths_and_rates_draw_on_their_own_templates(tmp_path, seconds, fs):
    ecg = WearableSimulator(fs, seed=3).record(seconds / 60, device_id="wearable-0005").ecg
    image, title = picture(render_window_png(ecg, fs, tmp_path / "w.png", f"{seconds} s"))
    assert image.size == (1000, 500) and title.startswith(f"{seconds} s  (trace ±")
    assert drawn(image)[0] > 500


def test_threads_drawing_at_once_get_the_pictures_they_would_get_alone(tmp_path):
    windows = [(recording("wearable-0001", "af"), "af"), (recording("wearable-0002", "noisy"), "noisy")] * 3
    alone = [render_window_png(ecg, FS, tmp_path / f"alone-{i}.png", name).read_bytes()
             for i, (ecg, name) in enumerate(windows)]
    threads = [threading.Thread(target=render_window_png, args=(ecg, FS, tmp_path / f"thread-{i}.png", name))
               for i, (ecg, name) in enumerate(windows)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [(tmp_path / f"thread-{i}.png").read_bytes() for i in range(len(windows))] == alone


# -- the renderer process ------------------------------------------------------------------------

def dead(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_the_archive_draws_in_a_worker_process_at_low_priority_and_close_ends_it(tmp_path):
    archive = PathologyArchive(tmp_path / "arch")
    assert isinstance(archive.renderer, RenderPool)         # the default, as the receiver uses it
    niceness = os.nice(0)
    try:
        stored = archive.store(parse_window(window_body()))
        assert picture(stored.png_path)[1].startswith("wearable-0001  wearable-0001-1709294400000  gateway: af")
        again = archive.renderer.render(stored.raw_path, FS, tmp_path / "again.png", "again")
        assert again.pid != os.getpid() and again.niceness >= RENDER_NICENESS
        assert os.nice(0) == niceness                                     # only the worker was lowered
        assert (tmp_path / "again.png").read_bytes()[1:4] == b"PNG"
    finally:
        archive.close()
    assert dead(again.pid)
    assert archive.store(parse_window(window_body(window_id="w-after-close"))).png_path.is_file()
    archive.close()


def test_a_killed_worker_costs_one_window_and_the_next_window_stores(tmp_path):
    with PathologyArchive(tmp_path / "arch") as archive:
        first = archive.store(parse_window(window_body(window_id="w-1")))
        victim = archive.renderer.render(first.raw_path, FS, tmp_path / "probe.png", "probe").pid
        os.kill(victim, signal.SIGKILL)                       # the OOM killer, or an operator
        wait_for(lambda: dead(victim), timeout=10, what=f"worker {victim} to die")
        with pytest.raises(RenderError, match="w-2 .*renderer process died"):
            archive.store(parse_window(window_body(window_id="w-2", start=T0 + 60)))
        third = archive.store(parse_window(window_body(window_id="w-3", start=T0 + 120)))
        assert [w.window_id for w in archive.windows()] == ["w-1", "w-3"]
        assert third.png_path.is_file() and not list((tmp_path / "arch" / "tmp").iterdir())
        assert archive.renderer.render(third.raw_path, FS, tmp_path / "probe.png", "probe").pid != victim


def test_a_window_of_nan_samples_is_refused_by_name_and_the_next_window_stores(tmp_path):
    good = parse_window(window_body(window_id="w-good"))
    ecg = good.ecg.copy()
    ecg[100:103] = np.nan                                   # what a broken decoder upstream might send
    bad = dataclasses.replace(good, window_id="w-bad", ecg=ecg)
    with PathologyArchive(tmp_path / "arch") as archive:
        with pytest.raises(RenderError, match="w-bad .*3 of 15000 samples are NaN or infinite .*index 100"):
            archive.store(bad)
        assert len(archive) == 0 and not (tmp_path / "arch" / "windows" / "af").exists()
        assert archive.store(good).png_path.is_file() and len(archive) == 1


# -- alert fan-out -------------------------------------------------------------------------------

@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def _alerts(n: int) -> list[dict]:
    return [{"schema": 1, "device_id": "wearable-0001", "window_id": f"w-{i}", "start": T0, "end": T0 + 60,
             "label": "af", "score": 0.9, "model_version": "1.0.3", "hr_bpm": 110.0, "quality": 0.9}
            for i in range(n)]


def test_fanout_logs_every_alert_and_posts_it_to_the_webhook(tmp_path, webhook):
    fanout = AlertFanout(tmp_path / "alerts.jsonl", webhook.url)
    for i, alert in enumerate(_alerts(3)):
        fanout.publish(alert, received_at=T0 + 61 + i)
    fanout.close(timeout_s=5)
    lines = [json.loads(line) for line in (tmp_path / "alerts.jsonl").read_text().splitlines()]
    assert [line["window_id"] for line in lines] == ["w-0", "w-1", "w-2"]
    assert [line["received_at"] for line in lines] == [T0 + 61, T0 + 62, T0 + 63]
    assert sorted(webhook.bodies, key=lambda b: b["window_id"]) == lines
    stats = fanout.stats()
    assert (stats["alerts"], stats["delivered"], stats["failed"], stats["dropped"]) == (3, 3, 0, 0)


def test_failing_and_slow_webhooks_are_counted_and_never_block(tmp_path, unused_port):
    failing = Webhook(status=500)
    slow = Webhook(delay_s=0.6)
    try:
        fanout = AlertFanout(tmp_path / "a.jsonl", failing.url, retries=1, retry_delay_s=0.01)
        for alert in _alerts(2):
            fanout.publish(alert)
        fanout.close(timeout_s=5)
        assert fanout.stats()["failed"] == 2 and failing.requests == 4      # 1 try + 1 retry each
        assert "HTTP 500" in fanout.stats()["sinks"][fanout.sinks[0]]["last_error"]

        nobody = AlertFanout(tmp_path / "b.jsonl", f"http://127.0.0.1:{unused_port}/", retries=0, timeout_s=1)
        nobody.publish(_alerts(1)[0])
        nobody.close(timeout_s=5)
        assert nobody.stats()["failed"] == 1 and len((tmp_path / "b.jsonl").read_text().splitlines()) == 1

        logged: list[str] = []
        queued = AlertFanout(tmp_path / "c.jsonl", slow.url, queue_size=1, log=logged.append)
        started = time.monotonic()
        for alert in _alerts(4):                   # one in flight, one queued, two dropped
            queued.publish(alert)
        assert time.monotonic() - started < 0.3    # the receiver's thread never waits for the webhook
        queued.close(timeout_s=5)
        stats = queued.stats()
        assert stats["delivered"] + stats["dropped"] == 4 and stats["dropped"] >= 2
        assert len((tmp_path / "c.jsonl").read_text().splitlines()) == 4
        assert any("dropped" in line for line in logged)
    finally:
        failing.close()
        slow.close()


def test_fanout_refuses_a_webhook_that_is_not_http(tmp_path):
    with pytest.raises(ValueError, match="webhook URL 'ftp://x'"):
        AlertFanout(tmp_path / "a.jsonl", "ftp://x")


# -- CLI -----------------------------------------------------------------------------------------


def test_cli_list_review_show_stats(tmp_path, capsys, monkeypatch):
    root = tmp_path / "arch"
    archive = in_process(root)
    archive.store(parse_window(window_body("wearable-0001", "w-a", condition="af")))
    archive.store(parse_window(window_body("wearable-0002", "w-b", condition="noisy", start=T0 + 60)))

    code, out, _ = run(capsys, "list", "--archive", root)
    assert code == 0 and "w-a" in out and "w-b" in out and out.strip().endswith("2 windows")
    code, out, _ = run(capsys, "review", "w-b", "other", "--archive", root, "--reviewer", "dr-lee",
                         "--note", "PVCs under noise")
    assert code == 0 and "reviewed other by dr-lee" in out and "differs from the gateway's noisy" in out
    code, out, _ = run(capsys, "list", "--archive", root, "--reviewed", "--json")
    assert code == 0 and [(w["window_id"], w["label"]) for w in json.loads(out)] == [("w-b", "other")]
    code, out, _ = run(capsys, "list", "--archive", root, "--unreviewed", "--device", "wearable-0001")
    assert "w-a" in out and "w-b" not in out

    code, out, _ = run(capsys, "show", "w-b", "--archive", root)
    assert code == 0 and "noisy (score 0.910, model 1.0.3)" in out and "other by dr-lee" in out
    assert str(root / "windows" / "noisy" / "2024-03-01" / "wearable-0002" / "w-b" / "spectrogram.png") in out
    code, out, _ = run(capsys, "show", "w-a", "--archive", root, "--json")
    shown = json.loads(out)
    assert shown["gateway_label"] == "af" and Path(shown["png"]).is_file() and "data" not in shown["window"]["raw"]

    code, out, _ = run(capsys, "stats", "--archive", root, "--json")
    assert json.loads(out)["agreement"] == {"reviewed": 1, "agree": 0, "rate": 0.0,
                                            "confusion": {"noisy": {"other": 1}}}

    # --archive defaults to the cloud home's ecg-archive
    monkeypatch.setenv("EDGELOOP_HOME", str(tmp_path / "home"))
    in_process(tmp_path / "home" / "ecg-archive").store(parse_window(window_body("wearable-0009", "w-h")))
    code, out, _ = run(capsys, "list")
    assert code == 0 and "w-h" in out


@pytest.mark.parametrize(("args", "message"), [
    (["review", "w-a", "vfib", "--reviewer", "x"], "label 'vfib': expected one of normal, af, other, noisy"),
    (["review", "w-zz", "af", "--reviewer", "x"], "no archived window 'w-zz'"),
    (["show", "w-zz"], "no archived window 'w-zz'"),
    (["list", "--date", "yesterday"], "date 'yesterday': expected YYYY-MM-DD"),
])
def test_cli_errors_are_one_line_and_exit_2(tmp_path, capsys, args, message):
    PathologyArchive(tmp_path / "arch")
    code, out, err = run(capsys, *args, "--archive", tmp_path / "arch")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_cli_read_commands_refuse_a_folder_that_is_no_archive(tmp_path, capsys):
    code, _, err = run(capsys, "stats", "--archive", tmp_path / "nothing")
    assert code == 2 and "no pathology archive at" in err
    assert not (tmp_path / "nothing").exists()
