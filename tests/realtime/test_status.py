"""ModelStatus: the one line a performer reads per running model."""

import dataclasses
import subprocess
import sys

import pytest

from hoot.realtime.status import ModelStatus, improviser_on, pitch_name, serving


def _status(**changes) -> ModelStatus:
    base = ModelStatus(
        name="harmony",
        does="harmonizes keys: 2 voices below, strings",
        model="notochord-hoot",
        state="running",
        p50_ms=1.23,
        p95_ms=1.9,
        playing=(64, 60),
        late=0,
        restarts=0,
    )
    return dataclasses.replace(base, **changes)


def test_line_reads_what_it_does_its_latency_and_its_notes():
    assert _status().line() == (
        "harmony  harmonizes keys: 2 voices below, strings  notochord-hoot"
        "  p50 1.2 p95 1.9 ms  E4 C4"
    )


def test_line_says_the_state_late_answers_and_restarts_when_not_plain_running():
    status = _status(state="restarting", p50_ms=None, p95_ms=None, playing=(), late=3, restarts=1)
    assert status.line() == (
        "harmony  harmonizes keys: 2 voices below, strings  notochord-hoot"
        "  restarting  3 late  1 restart"
    )


def test_status_is_frozen_and_has_exactly_the_contract_fields():
    status = _status()
    with pytest.raises(dataclasses.FrozenInstanceError):
        status.state = "failed"  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(ModelStatus)] == [
        "name", "does", "model", "state", "p50_ms", "p95_ms", "playing", "late", "restarts",
        "kind", "hears", "latency_samples", "latency_ms", "level_db",
    ]


def test_an_audio_model_reads_its_declared_latency_and_its_level_not_notes():
    transfer = _status(name="trombone~", does="transfers trombone -> rave-hoot", kind="transfer",
                       model="rave-hoot", playing=(), p50_ms=0.84, p95_ms=1.42,
                       latency_samples=256, latency_ms=5.33, level_db=-14.4)  # fmt: skip
    assert transfer.audio and not _status().audio
    assert transfer.line() == ("trombone~  transfers trombone -> rave-hoot, 5.3 ms"
                               "  p50 0.8 p95 1.4 ms  -14 dB")  # fmt: skip
    quiet = dataclasses.replace(transfer, level_db=-120.0, late=480)
    assert quiet.line().endswith("480 samples late  silent")
    loading = dataclasses.replace(transfer, state="loading", latency_ms=None, p50_ms=None)
    assert loading.line() == "trombone~  transfers trombone -> rave-hoot  loading"


def test_pitch_names_put_middle_c_at_c4():
    assert [pitch_name(p) for p in (60, 64, 61, 21, 108)] == ["C4", "E4", "Db4", "A0", "C8"]


def test_importing_the_status_never_imports_torch():
    code = "import sys, hoot.realtime.status; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_serving_finds_the_model_that_hears_a_track_and_improviser_on_the_one_it_plays():
    harmony = _status(kind="harmonize", hears=("keys",))
    lead = _status(name="lead", does="improvises on lead", kind="improvise", hears=("keys", "bass"))
    stopped = _status(kind="harmonize", hears=("guitar",), state="stopped")
    models = (harmony, lead, stopped)
    assert serving(models, "harmonize", "keys") is harmony
    assert serving(models, "harmonize", "key") is None  # the whole name, not a prefix
    assert serving(models, "harmonize", "guitar") is None  # stopped: not armed
    assert serving(models, "improvise", "bass") is lead
    assert serving(models, "improvise", "lead") is None  # it plays lead; it hears keys, bass
    assert improviser_on(models, "lead") is lead and improviser_on(models, "keys") is None


def test_perf_models_reads_as_one_line_a_model_and_a_drone_shows_no_latency():
    from hoot.realtime.status import Models

    transfer = ModelStatus("trombone~", "transfers trombone -> rave-hoot", "rave-hoot",
                           "running", 0.8, 1.4, (), 256, 0, kind="transfer",
                           latency_samples=383, latency_ms=7.98, level_db=-14.0)  # fmt: skip
    drone = ModelStatus("drone", "drones from rave-hoot", "rave-hoot", "running", 0.4, 0.6,
                        (), 0, 0, kind="drone", latency_samples=0, latency_ms=0.0,
                        level_db=-20.0)  # fmt: skip
    shown = repr(Models([transfer, drone])).splitlines()
    assert shown[0].startswith("trombone~  transfers trombone -> rave-hoot, 8.0 ms")
    assert "256 samples late" in shown[0]
    assert shown[1].startswith("drones from rave-hoot", len("drone  ")) and " ms  p50" not in (
        shown[1].split("p50")[0]
    ), "a drone has nothing to line up with: no latency"
    assert repr(Models()) == "no models running" and Models() == []
