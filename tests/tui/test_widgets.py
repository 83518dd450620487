"""The stage screen's display widgets, fed SetViews in a tiny app, and hoot tui's whole
screen in pictures (snapshots): no engine."""

from __future__ import annotations

import time
from concurrent.futures import Future
from dataclasses import replace

import pytest
from textual.app import App, ComposeResult
from textual.geometry import Region, Size

from hoot.realtime.status import ModelStatus
from hoot.stage.view import (
    EMPTY,
    BatchView,
    CandidateView,
    InputView,
    QueueItem,
    SetView,
    TrackLevel,
)
from hoot.tui.app import HootApp
from hoot.tui.messages import CandidateChosen, RunCode, ViewUpdated
from hoot.tui.widgets import STYLESHEET
from hoot.tui.widgets.beat_grid import BeatGrid
from hoot.tui.widgets.code_input import CodeInput
from hoot.tui.widgets.console import Console
from hoot.tui.widgets.console_log import ConsoleLog
from hoot.tui.widgets.meters import Meters
from hoot.tui.widgets.picker import StemPicker, describe
from hoot.tui.widgets.queue import QueueView, middle
from hoot.tui.widgets.status_line import LOST as LOST_TEXTS
from hoot.tui.widgets.status_line import StatusLine

SR = 48000


# ---- views ----------------------------------------------------------------------------------


def level(name: str, peak_db: float, rms_db: float | None = None) -> TrackLevel:
    """A track at `peak_db` (left; the right 6 dB lower) and `rms_db` (default 8 dB under)."""
    peak = 10 ** (peak_db / 20)
    rms = 10 ** (((peak_db - 8) if rms_db is None else rms_db) / 20)
    return TrackLevel(name, (peak, peak / 2), (rms, rms / 2))


def candidate(index: int, status: str, progress: float = 0.0, reason: str | None = None):
    return CandidateView(index, status, progress, reason, "C minor", 4, 1000 + index, "offbeat")


BASS = BatchView(
    "bass",
    "bass-20260101-120000-3",
    "default",
    (
        candidate(0, "pending"),
        candidate(1, "rendering", 0.4),
        candidate(2, "ready", 1.0),
        candidate(3, "failed", reason="generator timed out"),
        candidate(4, "queued", 1.0),
        candidate(5, "playing", 1.0),
    ),
)
DRUMS = BatchView(
    "drums", "drums-20260101-115800-1", "default", tuple(candidate(i, "ready") for i in range(4))
)
TRACKS = ("drums", "bass", "chords", "lead", "pad", "perc", "fx", "vox")

PLAYING = replace(
    EMPTY,
    session="demo",
    backend="jack",
    device="system",
    latency_ms=5.3,
    xruns=0,
    cpu=0.12,
    position=17 * 4 * SR // 2,
    key="C minor",
    chords=("Cm", "Ab", "Eb", "Bb"),
    bar=17,
    beat_in_bar=1.5,
    phrase=4,
    bar_in_phrase=1,
    samples_to_boundary=int(9.5 * SR / 2),
    tracks=tuple(level(name, -6 - 3 * i) for i, name in enumerate(TRACKS)),
    master=level("master", -1.0, -9.0),
    batches=(BASS, DRUMS),
    selected_role="bass",
    selected_index=3,
    queue=(
        QueueItem("bass", "bass-20260101-120000-3-5", 20 * 4 * SR // 2, 21, "queued"),
        QueueItem("drums", "drums-20260101-115800-1-2", 0, 1, "playing"),
        QueueItem("bass", "bass-20260101-115500-1-4", 8 * 4 * SR // 2, 9, "playing"),
    ),
)
LOST = replace(
    PLAYING,
    engine_alive=False,
    recording=True,
    xruns=3,
    cpu=0.93,
    limiter_db=-2.5,
    master=level("master", 0.0, -4.0),
    selected_role="drums",
    selected_index=2,
)


def at(view: SetView, beats_in_phrase: float, beats_left: float) -> SetView:
    """`view` at a beat of its phrase, with `beats_left` to the next phrase."""
    return replace(
        view,
        bar_in_phrase=int(beats_in_phrase // view.beats_per_bar),
        beat_in_bar=beats_in_phrase % view.beats_per_bar,
        samples_to_boundary=round(beats_left * SR * 60 / view.bpm),
    )


# ---- the app --------------------------------------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Stage(App):
    """The display widgets stacked as `hoot tui` might: meters take what is left."""

    CSS_PATH = STYLESHEET
    CSS = "Meters { height: 1fr; }"

    def __init__(self, view: SetView = EMPTY) -> None:
        super().__init__()
        self.clock = Clock()
        self.first = view
        self.chosen: list[CandidateChosen] = []
        self.shown: list[SetView] = []

    def compose(self) -> ComposeResult:
        yield StatusLine()
        yield BeatGrid()
        yield StemPicker(flash=None)
        yield QueueView()
        yield Meters(clock=self.clock)

    def on_mount(self) -> None:
        self.show(self.first)

    def show(self, view: SetView) -> None:
        for widget in self.query("StatusLine, BeatGrid, StemPicker, QueueView, Meters"):
            widget.update(view)

    def on_view_updated(self, message: ViewUpdated) -> None:
        self.shown.append(message.view)
        self.show(message.view)

    def on_candidate_chosen(self, message: CandidateChosen) -> None:
        self.chosen.append(message)


def meter_row(meters: Meters, name: str) -> str:
    return next(line for line in meters.text().splitlines() if line.startswith(name))


def bar_of(meters: Meters, row: str) -> str:
    """The bar cells of a meter row."""
    g = meters.lines[0][0]
    return row[g.name + 1 : g.name + 1 + g.bar]


def styled(widget, y: int, text: str, classes: str) -> bool:
    """Whether `text` on line `y` of `widget` has the style of component `classes`."""
    style = next((s.style for s in widget.render_line(y) if text in s.text), None)
    if style is None:
        raise AssertionError(f"{text!r} is not on line {y}: {widget.render_line(y).text!r}")
    return style == widget.style_of(classes)


# ---- meters ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_meters_show_levels_in_db_on_a_60_db_scale():
    view = replace(EMPTY, tracks=(level("loud", -6.0, -6.0), level("quiet", -30.0, -30.0)))
    app = Stage(view)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        meters = app.query_one(Meters)
        g = meters.lines[0][0]
        loud, quiet = (
            bar_of(meters, meter_row(meters, "loud")),
            bar_of(meters, meter_row(meters, "quiet")),
        )
        # RMS fills to 54/60 and 30/60 of the bar; the peak marker sits at its end
        assert loud.index("┃") == int(54 / 60 * g.bar)
        assert quiet.index("┃") == int(30 / 60 * g.bar)
        assert loud.count("█") == pytest.approx(54 / 60 * g.bar, abs=1)
        assert quiet.count("█") == pytest.approx(30 / 60 * g.bar, abs=1)
        assert meter_row(meters, "loud").split()[-1] == "-6"
        assert meter_row(meters, "quiet").split()[-1] == "-30"
        assert "CLIP" not in meters.text()
        # colours: green below -18 dBFS, amber to -6, red above
        body = {segment.style for segment in list(meters.render_line(0))[1:3]}
        assert body == {meters.style_of(f"meters--track meters--{z}") for z in ("low", "mid")}
        assert styled(meters, 1, "┃", "meters--track meters--low")
        assert styled(meters, 1, "quiet", "meters--name")
        scale = meters.text().splitlines()[3]
        assert scale.split()[0] == "-60" and scale.split()[-1] == "0"
        assert scale.rindex("0") == g.name + g.bar  # 0 dB under the bar's last cell


@pytest.mark.asyncio
async def test_meters_peak_hold_holds_then_falls_at_20_db_a_second():
    app = Stage(replace(EMPTY, tracks=(level("bass", -6.0),)))
    async with app.run_test(size=(80, 24)) as pilot:
        meters = app.query_one(Meters)

        def after(seconds: float) -> str:
            app.clock.now = 100.0 + seconds
            meters.update(replace(EMPTY, tracks=(level("bass", -40.0),)))
            return meter_row(meters, "bass").split()[-1]

        await pilot.pause()
        assert [after(0.1), after(1.0), after(1.5)] == ["-6", "-6", "-6"]
        assert after(2.0) == "-16"  # 0.5 s of falling
        assert after(2.5) == "-26"
        g = meters.lines[0][0]
        bar = bar_of(meters, meter_row(meters, "bass"))
        assert bar.index("│") == int(34 / 60 * g.bar)  # the hold marker, apart from the peak
        assert bar.index("┃") == int(20 / 60 * g.bar)
        assert after(5.0) == "-40"  # down to the signal, where it holds again
        assert "│" not in bar_of(meters, meter_row(meters, "bass"))


@pytest.mark.asyncio
async def test_meters_clip_lamp_lights_for_two_seconds():
    app = Stage(replace(EMPTY, tracks=(level("lead", -12.0),)))
    async with app.run_test(size=(80, 24)) as pilot:
        meters = app.query_one(Meters)

        def lamp(seconds: float, peak_db: float) -> bool:
            app.clock.now = 100.0 + seconds
            meters.update(replace(EMPTY, tracks=(level("lead", peak_db),)))
            return meter_row(meters, "lead").endswith("CLIP")

        await pilot.pause()
        assert not lamp(0.0, -1.0)
        assert lamp(0.1, 0.5)  # over full scale
        assert lamp(2.0, -20.0)
        assert not lamp(2.2, -20.0)
        assert lamp(3.0, -0.35)  # within 0.1 dB of the limiter's -0.3 dBFS ceiling
        assert not lamp(5.1, -0.5)
        assert lamp(5.2, 0.0)
        assert styled(meters, 0, "CLIP", "meters--clip")


@pytest.mark.asyncio
async def test_meters_mark_inputs_monitored_or_not_and_light_their_clip_lamp():
    drums = level("drums", -12.0)
    horn, sax = level("trombone", -14.0), level("sax", -31.0)
    inputs = (InputView("trombone", True, False, "channel 1"),
              InputView("sax", False, False, "file take.wav"),
              InputView("trombone~", True, False, "model"))  # fmt: skip
    view = replace(EMPTY, tracks=(drums, horn, sax, level("trombone~", -20.0)), inputs=inputs)
    app = Stage(view)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        meters = app.query_one(Meters)
        assert meter_row(meters, "trombone").split()[-2:] == ["in", "mon"]
        assert meter_row(meters, "sax").split()[-2:] == ["in", "off"]
        assert meter_row(meters, "drums").split()[-1] == "-12", "a generated track: no mark"
        assert meter_row(meters, "trombone~").split()[-1] == "model", "a model's output"
        assert styled(meters, 1, "in mon", "meters--input")
        assert styled(meters, 2, "in off", "meters--input meters--unheard")
        ends = {meter_row(meters, n).index(v) + 3 for n, v in (("drums", "-12"), ("sax", "-31"))}
        assert len(ends) == 1, "the bars line up whether or not a row is an input"

        def lamp(seconds: float, clip: bool) -> bool:
            app.clock.now = 100.0 + seconds
            lit = (InputView("trombone", True, clip, "channel 1"), *inputs[1:])
            meters.update(replace(view, inputs=lit))
            return meter_row(meters, "trombone").endswith("CLIP")

        assert not lamp(0.0, False)
        assert lamp(0.1, True), "the engine saw the input reach full scale (its fader is lower)"
        assert not meter_row(meters, "sax").endswith("CLIP") and not meter_row(
            meters, "master"
        ).endswith("CLIP"), "nothing else lights"
        assert lamp(2.0, False), "held 2 s"
        assert not lamp(2.2, False)


@pytest.mark.asyncio
async def test_meters_repaint_only_the_bars_that_changed():
    app = Stage(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        meters = app.query_one(Meters)
        painted: list[tuple[Region, ...]] = []
        real = meters.refresh
        meters.refresh = lambda *regions, **kw: painted.append(regions) or real(*regions, **kw)
        meters.update(PLAYING)
        assert painted == []
        tracks = list(PLAYING.tracks)
        tracks[2] = level("chords", -20.0)
        meters.update(replace(PLAYING, tracks=tuple(tracks)))
        assert [[r.y for r in regions] for regions in painted] == [[2]]


@pytest.mark.asyncio
async def test_meters_flow_into_columns_when_short():
    class Short(Stage):
        CSS = "Meters { height: 5; }"

    app = Short(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        meters = app.query_one(Meters)
        g = meters.lines[0][0]
        assert (g.columns, g.rows, g.scale) == (2, 5, False)
        rows = meters.text().splitlines()
        assert rows[0].startswith("drums") and "perc" in rows[0]
        assert rows[3].startswith("lead") and "master" in rows[3]
        assert rows[4].startswith("pad") and rows[4].rstrip().endswith("-18")
        assert len(rows) == 5


@pytest.mark.asyncio
async def test_meters_keep_the_master_when_even_columns_are_too_few():
    class Shorter(Stage):
        CSS = "Meters { height: 4; }"

    quiet = tuple(level(name, -90.0) if name in ("bass", "lead") else t
                  for name, t in zip(TRACKS, PLAYING.tracks))  # fmt: skip
    app = Shorter(replace(PLAYING, tracks=quiet))
    async with app.run_test(size=(40, 24)) as pilot:  # one column of 4 for 9 bars
        await pilot.pause()
        rows = app.query_one(Meters).text().splitlines()
        assert [row.split()[0] for row in rows] == ["drums", "chords", "pad", "master"]


@pytest.mark.asyncio
async def test_meters_render_time_per_update(report):
    """Printed, not asserted: one update and every line drawn, 8 tracks changing."""
    app = Stage(PLAYING)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        meters = app.query_one(Meters)
        times = []
        for i in range(300):
            app.clock.now += 1 / 30
            wobble = tuple(
                level(name, -6 - 3 * t - 6 * ((i * (t + 3)) % 7) / 7)
                for t, name in enumerate(TRACKS)
            )
            view = replace(PLAYING, tracks=wobble)
            start = time.perf_counter()
            meters.update(view)
            for y in range(meters.size.height):
                meters.render_line(y)
            times.append(time.perf_counter() - start)
        times.sort()
        line = (
            f"Meters, 8 tracks at 120x40: median {times[150] * 1e6:.0f} us, "
            f"worst {times[-1] * 1e6:.0f} us an update (all lines drawn)"
        )
        print(line)
        report(line)


# ---- beat grid ------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_beat_grid_playhead_follows_the_beat_and_counts_down():
    app = Stage(at(PLAYING, 0.0, 16.0))
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(BeatGrid)
        await pilot.pause()
        first = grid.text().splitlines()[0]
        assert first.startswith("1 ■□□□ 2 □□□□ 3 □□□□ 4 □□□□")
        assert first.endswith("next phrase in 16 beats (8 s)")
        assert styled(grid, 0, "■", "beat-grid--now")

        app.show(at(PLAYING, 6.5, 9.5))  # bar 2, beat 3
        first = grid.text().splitlines()[0]
        assert first.startswith("1 ■■■■ 2 ■■■□ 3 □□□□ 4 □□□□")
        assert first.endswith("next phrase in 10 beats (5 s)")
        assert [text for text, classes in grid.lines[0] if classes == "beat-grid--now"] == ["■"]
        assert styled(grid, 0, "2 ", "beat-grid--bar-now")

        app.show(at(PLAYING, 12.8, 3.2))
        assert grid.text().splitlines()[0].endswith("next phrase in 4 beats (2 s)")


@pytest.mark.asyncio
async def test_beat_grid_shows_tempo_meter_key_chords_and_sync():
    app = Stage(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(BeatGrid)
        await pilot.pause()
        info = grid.text().splitlines()[-1]
        for part in ("bar 18", "phrase 5", "120.0 BPM", "4/4", "C minor", "sync internal"):
            assert part in info
        assert styled(grid, 1, "Ab", "beat-grid--chord-now")  # bar 18 plays chord 2 of 4
        assert styled(grid, 1, "Eb", "beat-grid--chord")
        app.show(replace(PLAYING, bar=18))
        assert styled(grid, 1, "Eb", "beat-grid--chord-now")


@pytest.mark.asyncio
async def test_beat_grid_shows_a_followed_clock_and_whether_it_holds():
    app = Stage(replace(PLAYING, sync="MIDI clock: Drum machine", locked=False))
    async with app.run_test(size=(100, 24)) as pilot:
        grid = app.query_one(BeatGrid)
        await pilot.pause()
        assert grid.text().splitlines()[-1].endswith("sync MIDI clock: Drum machine seeking")
        assert styled(grid, 1, "seeking", "beat-grid--seeking")
        app.show(replace(PLAYING, sync="MIDI clock: Drum machine", locked=True))
        await pilot.pause()
        assert grid.text().splitlines()[-1].endswith("sync MIDI clock: Drum machine locked")


@pytest.mark.asyncio
async def test_beat_grid_shows_a_followed_band_its_state_and_confidence():
    band = replace(PLAYING, sync="band: kit", locked=False, sync_state="listening", confidence=0.12)
    app = Stage(band)
    async with app.run_test(size=(100, 24)) as pilot:
        grid = app.query_one(BeatGrid)
        await pilot.pause()
        assert grid.text().splitlines()[-1].endswith("sync band: kit listening 10%")
        assert styled(grid, 1, "listening", "beat-grid--seeking")
        app.show(replace(band, locked=True, sync_state="locked", confidence=0.83))
        await pilot.pause()
        assert grid.text().splitlines()[-1].endswith("sync band: kit locked 80%")
        assert styled(grid, 1, "locked", "beat-grid--value")


@pytest.mark.asyncio
async def test_beat_grid_wraps_in_a_narrow_terminal():
    app = Stage(at(PLAYING, 6.5, 9.5))
    async with app.run_test(size=(40, 24)) as pilot:
        grid = app.query_one(BeatGrid)
        await pilot.pause()
        assert grid.text().splitlines() == [
            "1 ■■■■ 2 ■■■□ 3 □□□□ 4 □□□□",
            "next phrase in 10 beats (5 s)",
            "bar 18  phrase 5  120.0 BPM  4/4",
            "C minor   Cm  Ab  Eb  Bb   sync internal",
        ]
        assert grid.size.height == 4
        assert styled(grid, 3, "Ab", "beat-grid--chord-now")


@pytest.mark.asyncio
async def test_beat_grid_long_phrases_wrap_and_page_with_the_playhead():
    view = replace(PLAYING, phrase_bars=16, bar_in_phrase=13, beat_in_bar=0.0)
    app = Stage(view)
    async with app.run_test(size=(80, 24)) as pilot:
        grid = app.query_one(BeatGrid)
        await pilot.pause()
        lines = grid.text().splitlines()
        assert lines[0].startswith(" 1 ■■■■  2 ■■■■")  # 10 bars a row at 80 columns
        assert lines[0].endswith("10 ■■■■")
        assert lines[1].startswith("11 ■■■■") and "14 ■□□□ 15 □□□□" in lines[1]
        assert lines[2].startswith("next phrase in")
        assert len(lines) == 4

        # 64 bars would take 7 rows: an overview instead, a cell a bar, the beats beside
        app.show(replace(view, phrase_bars=64, bar_in_phrase=50, beat_in_bar=2.0))
        await pilot.pause()
        lines = grid.text().splitlines()
        assert lines[0].startswith("51/64 ■■■■ ■■■■ ■■■■")
        assert lines[0].endswith(" ■■■■ ■■■□  ■■■□")  # bars 49-52: 51 is lit
        assert lines[1] == "      □□□□ □□□□ □□□□"
        assert [text for text, classes in grid.lines[0] if classes == "beat-grid--now"] == [
            "■",
            "■",
        ]


@pytest.mark.asyncio
async def test_beat_grid_shows_a_long_phrase_of_an_odd_meter_as_an_overview():
    seven = replace(PLAYING, meter="7/8", beats_per_bar=7, phrase_bars=16)
    app = Stage(replace(seven, bar_in_phrase=4, beat_in_bar=2.0))
    async with app.run_test(size=(40, 24)) as pilot:
        grid = app.query_one(BeatGrid)
        await pilot.pause()
        assert grid.text().splitlines()[:2] == [
            " 5/16 ■■■■ ■□□□ □□□□ □□□□  ■■■□□□□",
            "next phrase in 10 beats (5 s)",
        ]
        app.show(replace(seven, phrase_bars=64, bar_in_phrase=50))  # 4 rows of 20: 2 shown
        await pilot.pause()
        assert grid.text().splitlines()[:2] == [
            "51/64 ■■■■ ■■■■ ■■■□ □□□□ □□□□  ■■□□□□□",
            "      □□□□",
        ]


# ---- picker ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_picker_shows_each_status_and_the_selection():
    app = Stage(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        picker = app.query_one(StemPicker)
        await pilot.pause()
        bass, drums, detail = picker.text().splitlines()
        assert bass.split() == ["bass", "1·", "2◌40%", "3●", "4✗", "5◆", "6▶"]
        assert drums.split() == ["drums", "1●", "2●", "3●", "4●"]
        assert (
            detail == "bass #4  failed: generator timed out  C minor · 4 bars · seed 1003 · offbeat"
        )
        statuses = {t.strip(): c for t, c in picker.lines[0][2:] if t.strip()}
        assert statuses == {
            "1·": "picker--pending",
            "2◌40%": "picker--rendering",
            "3●": "picker--ready",
            "4✗": "picker--failed picker--selected",
            "5◆": "picker--queued",
            "6▶": "picker--playing",
        }
        assert styled(picker, 0, "bass", "picker--role-selected")

        app.show(replace(PLAYING, selected_role="bass", selected_index=1))
        assert picker.text().splitlines()[2].startswith("bass #2  rendering 40%")
        app.show(replace(PLAYING, selected_role=None))
        assert picker.text().splitlines()[2:] == []


def test_picker_says_loading_model_while_a_model_loads():
    loading = replace(candidate(1, "rendering", 0.0), stage="loading model")
    assert describe(loading) == "loading model"
    assert describe(replace(loading, stage="composing", progress=0.2)) == "rendering 20%"


@pytest.mark.asyncio
async def test_picker_fits_none_to_sixteen_candidates_and_six_roles():
    roles = ("drums", "bass", "chords", "lead", "pad", "percussion")
    many = tuple(
        BatchView(role, f"{role}-1", "default", tuple(candidate(i, "ready") for i in range(16)))
        for role in roles
    )
    app = Stage(EMPTY)
    async with app.run_test(size=(80, 24)) as pilot:
        picker = app.query_one(StemPicker)
        await pilot.pause()
        assert picker.text() == "no candidates yet: perf.generate('bass') makes some"
        busy = replace(
            many[1], candidates=(*many[1].candidates[:15], candidate(15, "rendering", 0.6))
        )
        app.show(
            replace(
                EMPTY, batches=(*many[:1], busy, *many[2:]), selected_role="bass", selected_index=15
            )
        )
        await pilot.pause()
        lines = picker.text().splitlines()
        assert len(lines) == 7 and picker.size.height == 7
        assert lines[1].split()[-1] == "16▅"  # no room for 40%: a progress glyph
        assert lines[5].startswith("percussion  1●")
        assert all(len(line) <= 80 for line in lines)
        assert lines[6].startswith("bass #16  rendering 60%")


@pytest.mark.asyncio
async def test_picker_click_chooses_a_candidate():
    app = Stage(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        picker = app.query_one(StemPicker)
        await pilot.pause()
        x = picker.text().splitlines()[1].index("3●")
        await pilot.click(StemPicker, offset=(x, 1))
        await pilot.pause()
        assert [(m.role, m.index) for m in app.chosen] == [("drums", 2)]


@pytest.mark.asyncio
async def test_picker_wraps_cells_in_a_narrow_terminal():
    many = replace(DRUMS, candidates=tuple(candidate(i, "ready") for i in range(16)))
    app = Stage(replace(PLAYING, batches=(BASS, many)))
    async with app.run_test(size=(40, 24)) as pilot:
        picker = app.query_one(StemPicker)
        await pilot.pause()
        lines = picker.text().splitlines()
        assert lines[0].startswith("bass   1·  2▃  3●  4✗  5◆  6▶")  # 40%: ▃
        assert lines[1] == "drums  1●  2●  3●  4●  5●  6●  7●  8●"
        assert lines[2] == "       9● 10● 11● 12● 13● 14● 15● 16●"
        assert lines[3].startswith("bass #4  failed: generator timed out")
        await pilot.click(StemPicker, offset=(lines[2].index("12●"), 2))
        await pilot.click(StemPicker, offset=(2, 2))  # the role column: nothing
        await pilot.pause()
        assert [(m.role, m.index) for m in app.chosen] == [("drums", 11)]


@pytest.mark.asyncio
async def test_picker_keeps_the_selected_role_in_view_and_names_the_rest():
    roles = ("drums", "bass", "chords", "lead", "pad", "perc")
    many = tuple(batch(role, 16) for role in roles)
    app = Stage(replace(EMPTY, batches=many, selected_role="pad", selected_index=2))
    async with app.run_test(size=(40, 24)) as pilot:  # 12 lines of cells; max-height 7
        picker = app.query_one(StemPicker)
        await pilot.pause()
        lines = picker.text().splitlines()
        assert lines[:5] == [
            "pad     1●  2●  3●  4●  5●  6●  7●  8●",
            "        9● 10● 11● 12● 13● 14● 15● 16●",
            "perc    1●  2●  3●  4●  5●  6●  7●  8●",
            "        9● 10● 11● 12● 13● 14● 15● 16●",
            "+      drums bass chords lead  F3/F4",
        ]
        assert lines[5].startswith("pad #3  ready")
        await pilot.click(StemPicker, offset=(lines[2].index("3●"), 2))
        await pilot.pause()
        assert [(m.role, m.index) for m in app.chosen] == [("perc", 2)]


@pytest.mark.asyncio
async def test_picker_says_how_to_make_candidates_in_whole_words():
    app = Stage(EMPTY)
    async with app.run_test(size=(30, 24)) as pilot:
        await pilot.pause()
        assert app.query_one(StemPicker).text().splitlines() == [
            "no candidates yet:",
            "perf.generate('bass') makes",
            "some",
        ]


@pytest.mark.asyncio
async def test_picker_queued_cells_flash():
    app = Stage(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        picker = app.query_one(StemPicker)
        await pilot.pause()
        picker._blink()
        assert styled(picker, 0, "5◆", "picker--queued-flash")
        picker._blink()
        assert styled(picker, 0, "5◆", "picker--queued")


# ---- queue and status line ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_queue_shows_what_starts_next_and_what_plays():
    app = Stage(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        queue = app.query_one(QueueView)
        await pilot.pause()
        assert queue.text().splitlines() == [
            "next  bass  ← bass-20260101-120000-3-5  at bar 21",
            "now   drums ▶ drums-20260101-115800-1-2  since bar 1",
            "      bass  ▶ bass-20260101-115500-1-4  since bar 9",
        ]
        app.show(EMPTY)
        await pilot.pause()
        assert queue.text() == "nothing playing"


@pytest.mark.asyncio
async def test_queue_names_candidates_as_the_performer_knows_them():
    class Tall(Stage):
        CSS = "QueueView { max-height: 12; }"

    app = Tall(LONG_QUEUE)
    async with app.run_test(size=(120, 24)) as pilot:
        queue = app.query_one(QueueView)
        await pilot.pause()
        lines = queue.text().splitlines()
        assert lines[0] == "next  bass       ← #3  walking octaves  at bar 21"
        assert lines[4] == "      chords     ▶ #1  stabs  since bar 9"
        assert lines[5] == "      pad        ▶ pad-warm-strings-take-final-v2  since bar 9"
        assert styled(queue, 0, "walking octaves", "queue--label")

    narrow = Tall(LONG_QUEUE)
    async with narrow.run_test(size=(40, 24)) as pilot:
        await pilot.pause()
        lines = narrow.query_one(QueueView).text().splitlines()
        assert lines[0] == "next  bass       ← #3  at bar 21"  # the label gave way
        assert lines[3] == "      bass       ▶ #4  offbeat"  # what plays: "since" gave way
        assert lines[5] == "      pad        ▶ pad-warm-…-final-v2"


@pytest.mark.asyncio
async def test_queue_shortens_names_and_counts_what_does_not_fit():
    items = tuple(
        QueueItem(f"track{i}", f"track{i}-20260101-120000-{i}-1", 0, 1, "playing") for i in range(8)
    )
    app = Stage(replace(EMPTY, queue=items))
    async with app.run_test(size=(40, 24)) as pilot:
        queue = app.query_one(QueueView)
        await pilot.pause()
        lines = queue.text().splitlines()
        assert len(lines) == 5  # its max-height
        assert lines[0] == "now   track0 ▶ track0-20260…1-120000-0-1"  # "since bar 1" went
        assert lines[-1] == "      +4 more"
    assert middle("bass-20260101-120000-3-2", 12) == "bass-2…0-3-2"
    assert middle("bass", 12) == "bass"


@pytest.mark.asyncio
async def test_status_line_shows_the_engine_and_what_to_do_when_it_is_lost():
    app = Stage(PLAYING)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one(StatusLine)
        await pilot.pause()
        text = status.text()
        assert text.startswith("demo  jack · system")
        assert text.endswith("5.3 ms  xruns 0  cpu 12%")
        assert "ENGINE LOST" not in text and "REC" not in text
        assert not status.has_class("-lost")

        app.show(LOST)
        await pilot.pause()
        text = status.text()
        # the next command or action key starts a new engine (hoot.stage.link): say so
        assert text.startswith("ENGINE LOST: press F5 or run a command to start it again")
        assert text.endswith("xruns 3  ● REC")  # what matters most beside it
        assert status.has_class("-lost")
        assert "RT" not in text  # not yet known
        assert styled(status, 0, "ENGINE LOST", "status--lost")

        app.show(replace(LOST, engine_alive=True))
        await pilot.pause()
        assert status.text().endswith("xruns 3  cpu 93%  lim -2.5 dB  ● REC")
        assert styled(status, 0, "cpu 93%", "status--hot")

        app.show(replace(PLAYING, realtime=0))  # a device, played at normal priority
        await pilot.pause()
        assert status.text().endswith("5.3 ms  no RT  xruns 0  cpu 12%")
        assert styled(status, 0, "no RT", "status--warn")
        for fine in (replace(PLAYING, realtime=5), replace(PLAYING, realtime=0, backend="null")):
            app.show(fine)
            await pilot.pause()
            assert "RT" not in status.text()

    narrow = Stage(LOST)
    async with narrow.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        text = narrow.query_one(StatusLine).text()
        assert text.startswith("ENGINE LOST") and text.endswith("● REC")
        assert len(text) <= 40


@pytest.mark.asyncio
async def test_status_line_never_cuts_a_word_at_any_width():
    device = "HDA Intel PCH: ALC3246 Analog (hw:0,0)"
    views = [
        replace(PLAYING, backend="sounddevice", device=device, realtime=0, faults=2),
        replace(LOST, backend="sounddevice", device=device, session="friday-night-set"),
    ]
    app = Stage(views[0])
    async with app.run_test(size=(200, 10)) as pilot:
        status = app.query_one(StatusLine)
        await pilot.pause()
        for view in views:
            app.show(view)
            status.show_lines()
            words = set(status.text().split())
            for width in range(4, 201):
                line = status.lay_out(Size(width, 1))[0]
                text = "".join(t for t, _ in line)
                assert len(text) <= width, (width, text)
                for word in text.split():
                    assert word.rstrip("…") in words or word in {"LOST:", "a"} | set(
                        " ".join(LOST_TEXTS).split()
                    ), (width, text)
        app.show(views[0])
        shortened = "".join(t for t, _ in status.lay_out(Size(95, 1))[0])
        assert "sounddevice · HDA Intel PCH: ALC3246 Analog…  " in shortened


@pytest.mark.asyncio
async def test_a_newer_view_replaces_one_still_waiting():
    app = Stage(EMPTY)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        for view in (PLAYING, LOST, replace(LOST, session="last")):
            app.post_message(ViewUpdated(view))
        await pilot.pause()
        assert [v.session for v in app.shown] == ["last"]
        assert app.query_one(StatusLine).text().startswith("ENGINE LOST: press F5")
    assert not ViewUpdated(EMPTY).can_replace(CandidateChosen("bass", 1))


# ---- console --------------------------------------------------------------------------------


class SlowExecutor:
    """Stands in for hoot.console.executor.Executor: completion takes `delay` seconds (jedi's
    first answer takes about one), `busy` is set by the test."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.busy = False
        self.asked: list[str] = []

    def is_complete(self, source: str) -> bool:
        return True

    def complete(self, source: str, cursor: int) -> list[str]:
        self.asked.append(source[:cursor])
        time.sleep(self.delay)
        return ["generate", "generators"] if source.endswith("gen") else []


class NoHistory:
    def previous(self, prefix: str) -> None:
        return None

    def next(self, prefix: str) -> None:
        return None


class ConsoleStage(App):
    CSS_PATH = STYLESHEET

    def __init__(self, executor: SlowExecutor) -> None:
        super().__init__()
        self.executor = executor
        self.ran: list[str] = []

    def compose(self) -> ComposeResult:
        yield Console(self.executor, NoHistory())

    def on_mount(self) -> None:
        self.query_one(CodeInput).focus()

    def on_run_code(self, message: RunCode) -> None:
        self.ran.append(message.source)


def hint(app: App) -> str:
    return str(app.query_one("#hint").render())


@pytest.mark.asyncio
async def test_console_log_wraps_scrolls_back_and_says_what_is_newer():
    app = ConsoleStage(SlowExecutor())
    async with app.run_test(size=(40, 12)) as pilot:
        console, log = app.query_one(Console), app.query_one(ConsoleLog)
        await pilot.pause()
        console.write("input", "print('one two three four five six seven eight')")
        console.write("stdout", "one two three four five six seven eight nine ten")
        console.write("error", "NameError: name 'x' is not defined (line 1)", "Traceback…")
        assert log.text().splitlines() == [
            "» print('one two three four five six",
            "seven eight')",
            "one two three four five six seven eight",
            "nine ten",
            "NameError: name 'x' is not defined (line",
            "1)   (F2: traceback)",
        ]
        assert styled(log, 0, "» print", "console-log--input")
        assert styled(log, 4, "NameError", "console-log--error")
        assert console.last_traceback == "Traceback…"
        for i in range(30):
            console.write("result", str(i))
        height = log.size.height
        assert log.text().splitlines()[-1] == "29"
        log.page(1)  # PageUp, in hoot tui
        shown = log.text().splitlines()
        assert shown[-1] == f"↓ {height - 1} newer lines: PageDown"
        console.write("result", "30")  # output arriving does not move what is read
        assert log.text().splitlines()[:-1] == shown[:-1]
        assert log.text().splitlines()[-1] == f"↓ {height} newer lines: PageDown"
        log.page(-5)
        assert log.text().splitlines()[-1] == "30"


@pytest.mark.asyncio
async def test_tab_completes_on_a_worker_and_the_hint_says_so():
    executor = SlowExecutor(delay=0.6)
    app = ConsoleStage(executor)
    async with app.run_test(size=(60, 12)) as pilot:
        code = app.query_one(CodeInput)
        await pilot.pause()
        code.insert("perf.gen")
        started = time.monotonic()
        await pilot.press("tab")
        assert time.monotonic() - started < 0.4, "Tab waited for the completion"
        await pilot.pause()
        assert hint(app) == "completing…"
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert code.text == "perf.generat"  # what generate and generators share
        assert hint(app) == "generate  generators"

        code.clear()
        code.insert("x = perf.gen")  # ask again, then type on before the answer comes
        await pilot.press("tab")
        await pilot.press("e")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert code.text == "x = perf.gene"  # the stale answer is dropped
        assert hint(app) == ""


@pytest.mark.asyncio
async def test_a_statement_running_past_half_a_second_says_so_until_it_ends():
    executor = SlowExecutor()
    app = ConsoleStage(executor)
    async with app.run_test(size=(60, 12)) as pilot:
        await pilot.pause()
        executor.busy = True
        await pilot.pause(0.3)
        assert hint(app) == ""  # a quick statement is not worth a word
        await pilot.pause(0.4)
        assert hint(app) == "running… Ctrl+C stops"
        await pilot.pause(0.6)
        assert hint(app) == "running 1 s… Ctrl+C stops"
        executor.busy = False
        await pilot.pause(0.25)
        assert hint(app) == ""


# ---- snapshots: hoot tui's screen in each state, at 80x24 and 120x40 ---------------------


def batch(role: str, n: int, statuses: str = "") -> BatchView:
    """A batch of `n` candidates; `statuses` gives the first ones' states by letter
    (p pending, r rendering, R ready, f failed, q queued, P playing), the rest ready."""
    by_letter = {
        "p": "pending",
        "r": "rendering",
        "R": "ready",
        "f": "failed",
        "q": "queued",
        "P": "playing",
    }
    cells = []
    for i in range(n):
        status = by_letter[statuses[i]] if i < len(statuses) else "ready"
        progress = 0.35 + 0.1 * i if status == "rendering" else 1.0
        reason = "generator timed out" if status == "failed" else None
        cells.append(candidate(i, status, progress if status != "pending" else 0.0, reason))
    return BatchView(role, f"{role}-20261204-192748-1", "default", tuple(cells))


def queued(track: str, number: int, bar: int, state: str, label: str = "") -> QueueItem:
    stem = f"{track}-20261204-192748-1-{number}"
    return QueueItem(track, stem, bar * 4 * SR // 2, bar, state, f"{track} #{number}", label)


SEVEN_EIGHT = replace(
    PLAYING,
    meter="7/8",
    beats_per_bar=7,
    phrase_bars=16,
    bar_in_phrase=4,
    beat_in_bar=2.0,
    samples_to_boundary=int(82 * SR / 4),
)
LONG_QUEUE = replace(
    PLAYING,
    queue=(
        queued("bass", 3, 21, "queued", "walking octaves"),
        queued("lead", 11, 21, "queued", "call and response"),
        queued("drums", 2, 1, "playing", "four on the floor"),
        queued("bass", 4, 9, "playing", "offbeat"),
        queued("chords", 1, 9, "playing", "stabs"),
        QueueItem("pad", "pad-warm-strings-take-final-v2", 9 * 4 * SR // 2, 9, "playing"),
        QueueItem("percussion", "shaker-loop-from-the-field", 13 * 4 * SR // 2, 13, "playing"),
        queued("lead", 7, 17, "playing", "arpeggio"),
        QueueItem("fx", "riser-into-the-drop", 17 * 4 * SR // 2, 17, "playing"),
    ),
)
TWO_MODELS = replace(
    PLAYING,
    models=(
        ModelStatus(
            "harmony", "harmonizes keys: 2 voices below, strings", "notochord-hoot (embedded)",
            "running", 1.2, 1.9, (64, 60), 0, 0,
        ),
        ModelStatus(
            "lead", "improvises on lead: density 0.5, C3-C6", "notochord-hoot (embedded)",
            "restarting", None, None, (), 2, 1,
        ),
    ),
)  # fmt: skip
SCREENS = {
    "empty": EMPTY,
    "playing": PLAYING,
    "lost": LOST,
    "recording": replace(PLAYING, recording=True, limiter_db=-1.2),
    "seven-eight-phrase-16": SEVEN_EIGHT,
    "batch-12": replace(
        PLAYING, batches=(batch("bass", 12, "RRfqRrrppPRR"), DRUMS), selected_index=7
    ),
    "batch-16": replace(
        PLAYING,
        batches=(batch("bass", 16, "RRfqRrrppPRRRRRr"), batch("drums", 16), batch("chords", 4)),
        selected_index=15,
    ),
    "long-queue": LONG_QUEUE,
    "two-models": TWO_MODELS,
    "help": PLAYING,
}


class SetScreen(HootApp):
    """`hoot tui`'s screen showing one view, with no engine behind it."""

    FLASH_S = None  # steady, for pictures

    def __init__(self, view: SetView, session_dir) -> None:
        super().__init__(session_dir, starting=Future())  # a stage that never comes
        self.shown = view

    def attach(self) -> None:
        pass

    def on_mount(self) -> None:  # after HootApp's (Textual calls each class's handler)
        self.query_one(CodeInput).cursor_blink = False
        self.write("input", 'b = perf.generate("bass", n=12)')
        self.write("input", "perf.tempo")
        self.write("result", "120.0")
        self.post_message(ViewUpdated(self.shown))


@pytest.mark.skipif(
    "not config.pluginmanager.hasplugin('textual-snapshot')",
    reason="pytest-textual-snapshot is not installed",
)
@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("state", list(SCREENS))
def test_snapshot(snap_compare, tmp_path, state, size):
    app = SetScreen(SCREENS[state], tmp_path / "friday")
    assert snap_compare(app, terminal_size=size, press=["f1"] if state == "help" else ())
