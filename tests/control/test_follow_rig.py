"""The follow-the-band rig end to end with a tracker that knows the clip (band_rig's
MarkerOracle): a JACK client plays the groove into hoot's input, the follower reads the
engine's ring on its thread and steers; on hoot's output, as a listener hears it, hoot's
beats sit on the band's through the ramp and a stem queued after the lock starts on the
band's downbeat. This checks the ring's clock, the round trip and the steering together,
apart from any tracker's accuracy (tests/control/test_follow_e2e.py runs hoot.beats)."""

from __future__ import annotations

import numpy as np
import pytest

from hoot.engine.client import EngineClient
from hoot.session import Session
from hoot.stage import Stage
from tests.control.band_rig import MarkerOracle, band_clip, follow_band


@pytest.mark.jack
def test_an_oracle_tracker_on_the_live_ring_puts_hoots_output_on_the_band(
    jack_server, tmp_path, report
):
    session = Session(tmp_path / "gig")
    stage = Stage.live(session, backend="sounddevice", idle_timeout=60)
    clip = band_clip()
    try:
        got = follow_band(stage, tmp_path / "stems", clip, tracker=MarkerOracle(clip))
    finally:
        stage.close()
        EngineClient(session.dir).shutdown()
    report(
        f"following a band (oracle tracker), JACK dummy server: hoot's beats through the ramp "
        f"p50 {np.percentile(np.abs(got.ramp_ms), 50):.1f} ms, max "
        f"{np.abs(got.ramp_ms).max():.1f} ms; downbeats max {np.abs(got.downbeat_ms).max():.1f}"
        f" ms (round trip {got.round_trip} frames, {got.xruns} xruns)"
    )
    assert len(got.downbeat_ms) >= 3 and got.on_a_downbeat
    assert abs(got.downbeat_ms[0]) <= 40.0, got.downbeat_ms  # 20 ms target; xruns shift it
    assert len(got.ramp_ms) >= 24
    assert np.abs(got.ramp_ms).max() <= 40.0, (np.round(got.ramp_ms, 1), f"{got.xruns} xruns")
