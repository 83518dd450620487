"""The bars and beats of the current phrase, the countdown to the next one, and the harmony.

    1 ■■■■ 2 ■■□□ 3 □□□□ 4 □□□□    next phrase in 10 beats (5 s)
    bar 18  phrase 5  120.0 BPM  4/4  C minor   Cm  Ab  Eb  Bb   sync internal

Following a MIDI clock, the sync says whose and whether hoot holds it:
"sync MIDI clock: Drum machine locked", or "... seeking" while the loop acquires.
Following a band, the tracker's state and confidence: "sync band: drums locked 80%"
("listening" before a lock and after one is lost, "holding" through a break).

Beats already played in the phrase are filled, the playhead is the bright one. A phrase
whose bars of beats need more than MAX_ROWS rows (16 bars of 7/8 in 40 columns) shows
as an overview instead, a cell a bar in groups of four, with the current bar's beats
beside it:

     5/16 ■■■■ ■□□□ □□□□ □□□□  ■■■□□□□
    next phrase in 82 beats (21 s)

Overviews of very long phrases wrap (at most MAX_ROWS rows; past that the rows page with
the playhead); so does the line below in a narrow terminal. The current bar's chord (one
chord a bar, repeating from bar 1 of the set) is lit.
"""

from __future__ import annotations

import math

from textual.geometry import Size

from hoot.stage.view import SetView
from hoot.tui.widgets import LineWidget, Piece

MAX_ROWS = 2
GROUP = 4  # bars a group in the overview
PAST, NOW, AHEAD = "■", "■", "□"


def countdown(view: SetView) -> str:
    """ "next phrase in 4 beats (2 s)" """
    seconds = max(view.samples_to_boundary, 0) / max(view.samplerate, 1)
    return _countdown(seconds * view.bpm / 60.0, seconds)


def _countdown(beats: float, seconds: float) -> str:
    # Whole beats, like a drummer's count-in: the text changes on the beat, not on every
    # frame, so a quiet screen is not redrawn 30 times a second.
    whole = max(1, math.ceil(beats - 1e-6))
    return f"next phrase in {whole} beat{'s' if whole != 1 else ''} ({math.ceil(seconds):.0f} s)"


def _countdown_width(view: SetView) -> int:
    """The widest the countdown gets in this phrase, so the layout does not jump."""
    beats = max(view.phrase_bars, 1) * max(view.beats_per_bar, 1)
    return len(_countdown(beats, beats * 60.0 / max(view.bpm, 1.0)))


def current_chord(view: SetView) -> int | None:
    """Which of `view.chords` plays in the current bar (one a bar, repeating), if any."""
    return view.bar % len(view.chords) if view.chords else None


class BeatGrid(LineWidget):
    """The current phrase as bars of beats, with the countdown, tempo, meter, key, chords
    and sync source."""

    COMPONENT_CLASSES = {
        "beat-grid--bar",
        "beat-grid--bar-now",
        "beat-grid--past",
        "beat-grid--now",
        "beat-grid--ahead",
        "beat-grid--countdown",
        "beat-grid--label",
        "beat-grid--value",
        "beat-grid--tempo",
        "beat-grid--chord",
        "beat-grid--chord-now",
        "beat-grid--seeking",
    }

    def looks(self, view: SetView) -> tuple:
        v = view
        return (
            (v.phrase_bars, v.beats_per_bar, v.bar_in_phrase, int(v.beat_in_bar), countdown(v)),
            (v.bar, v.phrase, f"{v.bpm:.1f}", v.meter, v.key, v.chords),
            (v.sync, v.locked, v.sync_state, confidence(v)),
        )

    def natural_height(self, width: int) -> int:
        return len(self._rows(width)) + len(self._info(width))

    def lay_out(self, size: Size) -> tuple:
        return tuple(self._rows(size.width)) + tuple(self._info(size.width))

    def _rows(self, width: int) -> list[tuple]:
        """The phrase's rows, with the countdown beside the first or on a row of its own."""
        v = self.view
        bars, beats = max(v.phrase_bars, 1), max(v.beats_per_bar, 1)
        bar_now = min(max(v.bar_in_phrase, 0), bars - 1)
        beat_now = min(max(int(v.beat_in_bar), 0), beats - 1)
        block = len(str(bars)) + 1 + beats + 1
        per_row = max(1, (width + 1) // block)
        if math.ceil(bars / per_row) <= MAX_ROWS:
            rows = [
                self._grid_row(start, min(start + per_row, bars), bar_now, beat_now, bars)
                for start in range(0, bars, per_row)
            ]
        else:
            rows = self._overview(width, bars, bar_now, beat_now)
        told = countdown(v)
        if sum(len(text) for text, _ in rows[0]) + 3 + _countdown_width(v) <= width:
            rows[0] += (("   ", ""), (told, "beat-grid--countdown"))
        else:
            rows.append(((told, "beat-grid--countdown"),))
        return rows

    def _overview(self, width: int, bars: int, bar_now: int, beat_now: int) -> list[tuple]:
        """A cell a bar in groups, then the current bar's beats: " 5/16 ■■■■ ■□□□  ■■□□".
        Rows past MAX_ROWS page with the playhead."""
        beats = max(self.view.beats_per_bar, 1)
        label = f"{bar_now + 1:>{len(str(bars))}}/{bars} "
        room = width - len(label) - 2 - beats
        per_row = max(1, (room + 1) // (GROUP + 1)) * GROUP
        starts = list(range(0, bars, per_row))
        row_now = bar_now // per_row
        first = min(row_now - row_now % MAX_ROWS, max(len(starts) - MAX_ROWS, 0))
        rows = []
        for start in starts[first : first + MAX_ROWS]:
            pieces: list[Piece] = [(label if not rows else " " * len(label), "beat-grid--bar-now")]
            for group in range(start, min(start + per_row, bars), GROUP):
                if group > start:
                    pieces.append((" ", ""))
                pieces += _cells(group, min(group + GROUP, bars), bar_now)
            if not rows:
                pieces += [("  ", ""), *_cells(0, beats, beat_now)]
            rows.append(tuple(pieces))
        return rows

    def _grid_row(self, start: int, end: int, bar_now: int, beat_now: int, bars: int) -> tuple:
        beats = max(self.view.beats_per_bar, 1)
        digits = len(str(bars))
        pieces: list[Piece] = []
        for bar in range(start, end):
            if bar > start:
                pieces.append((" ", ""))
            label = "beat-grid--bar-now" if bar == bar_now else "beat-grid--bar"
            pieces.append((f"{bar + 1:>{digits}} ", label))
            if bar < bar_now:
                pieces.append((PAST * beats, "beat-grid--past"))
            elif bar > bar_now:
                pieces.append((AHEAD * beats, "beat-grid--ahead"))
            else:
                pieces += _cells(0, beats, beat_now)
        return tuple(pieces)

    def _info(self, width: int) -> list[tuple]:
        """Position, tempo, meter, key, chords and sync, wrapped to `width`."""
        v = self.view
        groups: list[tuple[Piece, ...]] = [
            (("bar ", "beat-grid--label"), (str(v.bar + 1), "beat-grid--value")),
            (("phrase ", "beat-grid--label"), (str(v.phrase + 1), "beat-grid--value")),
            ((f"{v.bpm:.1f} BPM", "beat-grid--tempo"),),
            ((v.meter, "beat-grid--value"),),
        ]
        if v.key:
            groups.append(((v.key, "beat-grid--value"),))
        now = current_chord(v)
        if now is not None:
            groups.append(
                tuple(
                    (f" {chord} ", "beat-grid--chord-now" if i == now else "beat-grid--chord")
                    for i, chord in enumerate(v.chords)
                )
            )
        sync: tuple[Piece, ...] = (("sync ", "beat-grid--label"), (v.sync, "beat-grid--value"))
        if v.sync_state:  # a band: the tracker's state and how sure it is
            sync += ((f" {v.sync_state}", "beat-grid--value" if v.locked else "beat-grid--seeking"),
                     (f" {confidence(v)}", "beat-grid--value"))  # fmt: skip
        elif v.sync != "internal":  # a followed clock says whether it holds
            sync += ((" locked", "beat-grid--value") if v.locked
                     else (" seeking", "beat-grid--seeking"),)  # fmt: skip
        groups.append(sync)
        lines: list[tuple] = []
        line: list[Piece] = []
        used = 0
        for group in groups:
            size = sum(len(text) for text, _ in group)
            if line and used + 2 + size > width:
                lines.append(tuple(line))
                line, used = [], 0
            if line:
                line.append(("  ", ""))
                used += 2
            line += group
            used += size
        lines.append(tuple(line))
        return lines


def _cells(start: int, end: int, now: int) -> list[Piece]:
    """Cells start..end (bars or beats): those before `now` played, `now` lit, the rest ahead."""
    pieces: list[Piece] = []
    if now > start:
        pieces.append((PAST * (min(now, end) - start), "beat-grid--past"))
    if start <= now < end:
        pieces.append((NOW, "beat-grid--now"))
    if end > max(now + 1, start):
        pieces.append((AHEAD * (end - max(now + 1, start)), "beat-grid--ahead"))
    return pieces


def confidence(view: SetView) -> str:
    """A band follower's confidence as the grid shows it, in tens of percent ("80%"), so
    that it does not flicker; "" for the other sources."""
    if view.confidence is None:
        return ""
    return f"{round(view.confidence * 10) * 10:d}%"
