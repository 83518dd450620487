"""The bars and beats of the current phrase, the countdown to the next one, and the harmony.

    1 ■■■■ 2 ■■□□ 3 □□□□ 4 □□□□    next phrase in 10 beats (5 s)
    bar 18  phrase 5  120.0 BPM  4/4  C minor   Cm  Ab  Eb  Bb   sync internal

Beats already played in the phrase are filled, the playhead is the bright one. Long
phrases wrap into rows (at most MAX_ROWS; past that the rows page with the playhead);
so does the line below in a narrow terminal.
The current bar's chord (one chord a bar, repeating from bar 1 of the set) is lit.
"""

from __future__ import annotations

import math

from textual.geometry import Size

from hoot.stage.view import SetView
from hoot.tui.widgets import LineWidget, Piece

MAX_ROWS = 4
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
    }

    def natural_height(self, width: int) -> int:
        rows, _, beside = self._grid_shape(width)
        return min(rows, MAX_ROWS) + (0 if beside else 1) + len(self._info(width))

    def _grid_shape(self, width: int) -> tuple[int, int, bool]:
        """(rows, bars a row, whether the countdown fits beside the first row)."""
        v = self.view
        bars, beats = max(v.phrase_bars, 1), max(v.beats_per_bar, 1)
        block = len(str(bars)) + 1 + beats + 1
        per_row = max(1, (width + 1) // block)
        used = min(per_row, bars) * block
        beside = used + 3 + _countdown_width(v) <= width
        return math.ceil(bars / per_row), per_row, beside

    def lay_out(self, size: Size) -> tuple:
        v = self.view
        rows, per_row, beside = self._grid_shape(size.width)
        bars = max(v.phrase_bars, 1)
        bar_now = min(max(v.bar_in_phrase, 0), bars - 1)
        beat_now = min(max(int(v.beat_in_bar), 0), max(v.beats_per_bar, 1) - 1)
        info = self._info(size.width)
        shown = max(1, min(rows, MAX_ROWS, size.height - len(info) - (0 if beside else 1)))
        row_now = bar_now // per_row
        first = min(row_now - row_now % shown, rows - shown)
        lines = []
        for row in range(first, first + shown):
            start = row * per_row
            line = self._grid_row(start, min(start + per_row, bars), bar_now, beat_now, bars)
            if beside and row == first:
                line += (("   ", ""), (countdown(v), "beat-grid--countdown"))
            lines.append(line)
        if not beside:
            lines.append(((countdown(v), "beat-grid--countdown"),))
        lines += info
        return tuple(lines)

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
                if beat_now:
                    pieces.append((PAST * beat_now, "beat-grid--past"))
                pieces.append((NOW, "beat-grid--now"))
                if beat_now + 1 < beats:
                    pieces.append((AHEAD * (beats - beat_now - 1), "beat-grid--ahead"))
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
        groups.append((("sync ", "beat-grid--label"), (v.sync, "beat-grid--value")))
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
