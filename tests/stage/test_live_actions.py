"""The live layer's stage actions: harmonize and improvise toggle, one sentence each."""

from __future__ import annotations

from hoot.stage.actions import SetActions
from tests.stage.fake_layer import FakeLayerPerf, status


def test_harmonize_arms_then_disarms_with_one_sentence_each():
    perf = FakeLayerPerf()
    actions = SetActions(perf)
    assert actions.harmonize("keys") == "keys: harmony armed"
    assert perf.calls == [("harmonize", "keys")], "the defaults: nothing but the track"
    assert actions.harmonize("keys") == "keys: harmony disarmed"
    assert perf.calls[-1] == ("harmonize", "keys", None) and perf.models == []


def test_a_harmonizer_started_from_code_is_disarmed_by_the_press_too():
    perf = FakeLayerPerf()
    perf.models.append(status("harmony", "harmonizes keys: 3 voices above", "harmonize", "keys"))
    assert SetActions(perf).harmonize("keys") == "keys: harmony disarmed"


def test_a_failed_model_is_disarmed_and_says_so_and_the_next_press_arms_afresh():
    perf = FakeLayerPerf()
    actions = SetActions(perf)
    actions.harmonize("keys")
    perf.fail("harmony")
    assert actions.harmonize("keys") == "keys: harmony disarmed (its model had failed)"
    assert actions.harmonize("keys") == "keys: harmony armed"


def test_why_not_is_the_layers_sentence():
    actions = SetActions(FakeLayerPerf(audio=("guitar",)))
    assert actions.harmonize("guitar") == "guitar is audio: harmonize a track a keyboard plays"
    assert actions.improvise("guitar") == "guitar is audio: an improviser hears keyboards"


def test_improvise_pads_say_which_keyboards_the_lead_improviser_hears():
    perf = FakeLayerPerf()
    actions = SetActions(perf)
    assert actions.improvise("keys") == "lead improvises, hearing keys"
    assert perf.calls == [("improvise", "lead", ("keys",))]
    assert actions.improvise("bass") == "lead improvises, hearing keys, bass"
    assert actions.improvise("keys") == "lead improvises, hearing bass"
    assert actions.improvise("bass") == "lead: improviser stops at the phrase"
    assert perf.calls[-1] == ("stop", "lead") and perf.models == []


def test_an_improviser_from_code_is_heard_by_its_pads_too():
    perf = FakeLayerPerf()
    perf.improvise("pad", listen=["keys"])  # from the console, on another track
    assert SetActions(perf).improvise("keys") == "pad: improviser stops at the phrase"
    assert perf.models == []
