"""`perf`: the one object a performer live-codes against.

    perf.tempo = 124
    perf.meter = "4/4"
    perf.phrase = 4                      # bars per phrase
    kick = perf.load("stems/kick.wav", role="drums")
    kick.queue()                         # starts on the first sample of the next phrase
    perf.tracks.drums.gain = -6          # dB
    perf.tracks["bass"].mute = True
    perf.record()
    perf.wait(bars=4)                    # in a script: later lines happen 4 bars later
    perf.key = "D minor"
    perf.chords = "i VI III VII"         # one chord a bar, shared by every generator
    b = perf.generate("bass", n=6)       # returns at once; six candidates render meanwhile
    b[2].queue()                         # or perf.pick(2): at the next phrase
    perf.vibe("darker, more tension")

The Performance talks to the sound server through an engine link: an
EngineClient (a live engine process) or a LocalEngine (offline, for `hoot
render` and tests). It keeps no audio itself.
"""

from __future__ import annotations

import difflib
import itertools
import math
import random
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from hoot.errors import HootError
from hoot.generate.base import Request, known_generators, model_backends
from hoot.generate.vibe import apply_words, check_vibe, default_vibe
from hoot.music import ROLES
from hoot.music.harmony import Key, default_progression, parse_progression
from hoot.music.time import Meter, Position, TempoMap
from hoot.session import Session


class Stem:
    """A stem loaded into the engine. `queue()` it to play it on its role's track."""

    def __init__(self, perf: Performance, stem_id: str, path: Path, role: str, info: dict) -> None:
        self._perf = perf
        self.id = stem_id
        self.path = path
        self.role = role
        self.frames: int = info.get("frames", 0)
        self.midi: bool = info.get("midi", False)

    def queue(self, at: str | int = "phrase", track: str | None = None) -> int:
        """Start this stem on its role's track at the next phrase boundary (clip-launcher style:
        it replaces what plays there at that moment). Returns the start sample.

        at: "phrase" (default), "bar", "beat", "now", or an absolute sample number.
        track: play it on another track than its role's.
        """
        result = self._perf._call("queue", track=track or self.role, stem=self.id, at=at)
        self._perf.session.log("queue", stem=self.id, track=track or self.role, **result)
        return result["sample"]

    def __repr__(self) -> str:
        kind = "MIDI" if self.midi else f"{self.frames} frames"
        return f"<Stem {self.id!r} on {self.role}: {kind}>"


class Track:
    """One mixer channel: `gain` (dB), `pan` (-1 left .. 1 right), `mute`, `solo`, `stop()`."""

    def __init__(self, perf: Performance, name: str) -> None:
        self._perf = perf
        self.name = name

    def _settings(self) -> dict:
        return self._perf._call("state")["tracks"][self.name]

    def _set(self, **kw: Any) -> None:
        self._perf._call("mix", track=self.name, **kw)
        self._perf.session.log("mix", track=self.name, **kw)

    @property
    def gain(self) -> float:
        """Fader level in dB (0 is unity; -120 or less is silence; at most +24)."""
        return self._settings()["gain"]

    @gain.setter
    def gain(self, db: float) -> None:
        self._set(gain=db)

    @property
    def pan(self) -> float:
        """Balance from -1 (left) through 0 (centre, unity both sides) to 1 (right)."""
        return self._settings()["pan"]

    @pan.setter
    def pan(self, value: float) -> None:
        self._set(pan=value)

    @property
    def mute(self) -> bool:
        return self._settings()["mute"]

    @mute.setter
    def mute(self, value: bool) -> None:
        self._set(mute=bool(value))

    @property
    def solo(self) -> bool:
        """When any track is soloed, only soloed tracks are heard."""
        return self._settings()["solo"]

    @solo.setter
    def solo(self, value: bool) -> None:
        self._set(solo=bool(value))

    def stop(self, at: str | int = "phrase") -> int:
        """Stop this track at the next phrase boundary (or "bar", "beat", "now": at once, with a
        short fade). Returns the sample from which it is silent."""
        result = self._perf._call("stop", track=self.name, at=at)
        self._perf.session.log("stop", track=self.name, **result)
        return result["sample"]

    @property
    def sound(self) -> str | None:
        """How generated candidates for this track are rendered: a built-in timbre
        ("sub_bass", "acid_bass", "saw_lead", "pulse_lead", "pad", "keys", "pluck", "kit",
        "perc_kit"), or a SoundFont: "soundfont" (General MIDI program for the role),
        "soundfont:48" (program 48), "soundfont:/path/to/font.sf2:48". None: the role's
        default timbre."""
        return self._perf._sounds.get(self.name)

    @sound.setter
    def sound(self, value: str | None) -> None:
        self._perf._set_sound(self.name, value)

    @property
    def playing(self) -> list[dict]:
        """What plays or is queued on this track."""
        return [p for p in self._perf._call("state")["players"] if p["track"] == self.name]

    def __repr__(self) -> str:
        s = self._settings()
        flags = "".join([" muted" if s["mute"] else "", " solo" if s["solo"] else ""])
        return f"<Track {self.name}: {s['gain']:+.1f} dB, pan {s['pan']:+.2f}{flags}>"


class Tracks:
    """The mixer's tracks, by name: `perf.tracks.bass` or `perf.tracks["bass"]`."""

    def __init__(self, perf: Performance, names: tuple[str, ...]) -> None:
        self._perf = perf
        self._tracks = {n: Track(perf, n) for n in names}

    def __getitem__(self, name: str) -> Track:
        try:
            return self._tracks[name]
        except KeyError:
            close = difflib.get_close_matches(str(name), list(self._tracks), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise HootError(
                f"no track {name!r}{hint}; tracks are {', '.join(self._tracks)}"
            ) from None

    def __getattr__(self, name: str) -> Track:
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __iter__(self) -> Iterator[Track]:
        return iter(self._tracks.values())

    def __len__(self) -> int:
        return len(self._tracks)

    def __dir__(self) -> list[str]:
        return list(self._tracks)

    def __repr__(self) -> str:
        return f"<Tracks {', '.join(self._tracks)}>"


class Performance:
    """The set being played. See the module docstring, or help() on any attribute."""

    def __init__(self, link: Any, session: Session | None = None) -> None:
        self._link = link
        self.session = session or Session()
        self.tracks = Tracks(self, tuple(link.info["tracks"]))
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        settings = self.session.read_settings()
        self._key = str(settings.get("key", "C minor"))
        self._chords: list[str] = list(settings.get("chords", []))
        self._chord_text: str | list[str] = self._chords
        self._vibe: dict = default_vibe(str(settings.get("style", "house")))
        if "groove" not in settings:  # one kick grid a session: drums and bass lock
            settings["groove"] = random.randrange(1 << 31)
            self.session.write_settings(settings)
        self._vibe["groove"] = int(settings["groove"])
        self._sounds: dict[str, str] = dict(settings.get("sounds", {}))
        self._vibe_until: tuple[int, dict] | None = None
        self._picker = None
        self._loaded: set[str] = set()
        self.messages: deque[str] = deque(maxlen=200)
        self.on_message: Callable[[str], None] = lambda m: print(m, file=sys.stderr)

    # ---- plumbing ----------------------------------------------------------------------

    def _call(self, cmd: str, **args: Any) -> Any:
        with self._lock:
            return self._link.call(cmd, **args)

    @property
    def offline(self) -> bool:
        """True when time moves only through wait() (hoot render, tests)."""
        return hasattr(self._link, "advance")

    @property
    def samplerate(self) -> int:
        return self._link.info["samplerate"]

    def tempo_map(self) -> TempoMap:
        """The engine's current tempo map (tempo, meter and phrase grid)."""
        return TempoMap.from_dict(self._call("state")["tempo_map"])

    # ---- time --------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The engine's position: the absolute sample it is about to play."""
        return self._link.status().position

    @property
    def position(self) -> Position:
        """Bar, beat and phrase of now (counted from 0)."""
        return self.tempo_map().position(self.now)

    @property
    def tempo(self) -> float:
        """Beats per minute. Setting it changes tempo on the next beat; every later boundary
        follows. `perf.set_tempo(bpm, at="bar")` picks another moment.

        Generated stems keep to the grid: each turn of their loop starts on its beat. They
        are not stretched, so at a faster tempo a turn cuts the stem short and at a slower
        one a gap follows it; generate again for takes made at the new tempo."""
        return self.tempo_map().bpm_at(self.now)

    @tempo.setter
    def tempo(self, bpm: float) -> None:
        self.set_tempo(bpm)

    def set_tempo(self, bpm: float, at: str = "beat") -> float:
        """Change tempo at the next "beat" (default), "bar" or "phrase"; returns that beat."""
        result = self._call("tempo", bpm=bpm, at=at)
        self.session.log("tempo", **result)
        return result["beat"]

    @property
    def meter(self) -> str:
        """Time signature, like "4/4" or "7/8". A change takes effect at the next phrase."""
        return str(self.tempo_map().position(self.now).meter)

    @meter.setter
    def meter(self, value: str) -> None:
        try:
            Meter.parse(value)  # fail here, in the performer's words, before asking the engine
        except ValueError as e:
            raise HootError(str(e)) from None
        result = self._call("meter", meter=str(value))
        self.session.log("meter", **result)

    @property
    def phrase(self) -> int:
        """Bars per phrase: where queued stems start. A change takes effect at the next phrase."""
        return self.tempo_map().position(self.now).phrase_bars

    @phrase.setter
    def phrase(self, bars: int) -> None:
        result = self._call("phrase", bars=bars)
        self.session.log("phrase", **result)

    def wait(self, bars: float = 0, beats: float = 0, seconds: float = 0) -> int:
        """Let time pass: `perf.wait(bars=4)`. Offline (hoot render) this renders the music up
        to that point, so later lines of a script happen later. Live, it sleeps until then.
        Returns the sample reached."""
        start = self.now
        target = self.wait_target(bars, beats, seconds)
        if target < start:
            raise HootError("wait() takes a positive amount of time")
        if self.offline:
            self._link.advance(target - start)
        else:
            while self.now < target:
                time.sleep(min(0.01, (target - self.now) / self.samplerate))
        return target

    # ---- stems -------------------------------------------------------------------------

    def load(self, path: str | Path, role: str | None = None, name: str | None = None) -> Stem:
        """Load a stem file (WAV, or MIDI played by the synth) for `role` ("drums", "bass",
        "chords", "lead", "pad", "perc"). Relative paths are looked up in the session's stems/
        folder, then from the current folder. Returns a Stem to `queue()`."""
        p = Path(path).expanduser()
        if not p.is_absolute():
            in_session = self.session.stems / p
            p = (
                in_session
                if (
                    in_session.exists()
                    or in_session.with_suffix(".wav").exists()
                    or in_session.with_suffix(".mid").exists()
                )
                else p.resolve()
            )
        role = role or _guess_role(p.stem)
        if role not in self.tracks._tracks:
            self.tracks[role]  # raises the helpful error
        stem_id = f"{name or p.stem}-{next(self._ids)}"
        info = self._call("load", stem_id=stem_id, path=str(p), role=role)
        self.session.log("load", stem=stem_id, path=str(p), role=role)
        return Stem(self, stem_id, p, role, info)

    # ---- harmony and vibe --------------------------------------------------------------

    @property
    def key(self) -> str:
        """The key every generator plays in: "D minor", "F# dorian", "Bb"..."""
        return self._key

    @key.setter
    def key(self, text: str) -> None:
        try:
            key = Key.parse(text)
        except ValueError as e:
            raise HootError(str(e)) from None
        self._key = str(key)
        if self._chords:  # keep Roman numerals meaning the same degrees in the new key
            self._chords = [c.name for c in parse_progression(self._chord_text, key)]
        self._remember(key=self._key)

    @property
    def chords(self) -> list[str]:
        """The chord progression all generators share, one chord a bar, repeating. Set it in
        Roman numerals relative to the key ("i VI III VII") or chord names ("Dm Bb F C")."""
        if self._chords:
            return list(self._chords)
        return [c.name for c in default_progression(Key.parse(self._key))]

    @chords.setter
    def chords(self, text: str | list[str]) -> None:
        try:
            progression = parse_progression(text, Key.parse(self._key))
        except ValueError as e:
            raise HootError(str(e)) from None
        if not progression:
            raise HootError('a progression needs at least one chord, like "i VI III VII"')
        self._chord_text = text
        self._chords = [c.name for c in progression]
        self._remember(chords=self._chords)

    def vibe(self, text: str | None = None, bars: float | None = None, **params: Any) -> dict:
        """The vibe generators follow: numbers from 0 to 1 for density, energy, brightness,
        swing, complexity and register, and a style (house, techno, dnb, hiphop, ambient, jazz).
        Words move it: perf.vibe("darker, more tension"); numbers set it:
        perf.vibe(density=0.8, style="techno"). With `bars`, it lasts that long, then the
        previous vibe returns. With no arguments, returns the vibe of the moment."""
        current = self.current_vibe()
        if text is None and not params:
            return current
        params = check_vibe(params)
        new = dict(current)
        if text:
            new, unknown = apply_words(new, text)
        style = params.get("style", new.get("style"))
        if style != current.get("style"):  # a new style starts from that style's feel
            fresh = {**default_vibe(style), "groove": current.get("groove", 0)}
            new, unknown = apply_words(fresh, text) if text else (fresh, [])
        if text:
            if new == current and not params:
                raise HootError(
                    f"no vibe words in {text!r}; try darker, brighter, sparse, busy, harder, "
                    "calm, swung, straight, complex, simple, higher, lower, or a style"
                )
            if unknown:
                self.say(f"vibe: ignored {', '.join(repr(w) for w in unknown)}")
        new.update(params)
        if bars:
            self._vibe_until = (self.wait_target(bars=bars), current)
        else:
            self._vibe_until = None
            self._remember(style=new.get("style", "house"))
        self._vibe = new
        self.session.log("vibe", **new)
        return dict(new)

    def current_vibe(self) -> dict:
        if self._vibe_until is not None and self.now >= self._vibe_until[0]:
            self._vibe, self._vibe_until = self._vibe_until[1], None
        return dict(self._vibe)

    def _set_sound(self, track: str, value: str | None) -> None:
        if value is None:
            self._sounds.pop(track, None)
        else:
            from hoot.generate.render import TIMBRES
            from hoot.generate.soundfont import parse_sound, soundfont_available

            value = str(value)
            if value.startswith("soundfont"):
                try:
                    parse_sound(value)
                except ValueError as e:
                    raise HootError(str(e)) from None
                ok, why = soundfont_available()
                if not ok and ":" not in value.removeprefix("soundfont:"):
                    raise HootError(f"SoundFont rendering is not available: {why}")
            elif value not in TIMBRES:
                close = difflib.get_close_matches(value, TIMBRES, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise HootError(
                    f"no sound {value!r}{hint}; built-in: {', '.join(TIMBRES)}, or 'soundfont'"
                )
            self._sounds[track] = value
        self._remember(sounds=self._sounds)

    def _remember(self, **settings: Any) -> None:
        saved = self.session.read_settings()
        saved.update(settings)
        self.session.write_settings(saved)

    # ---- generation ----------------------------------------------------------------------

    @property
    def picker(self):
        """The latest batch for each role: perf.picker["bass"][2].queue()."""
        if self._picker is None:
            from hoot.generate.batch import Picker

            self._picker = Picker(
                self.session.stems,
                self.session.dir / "batches",
                self._load_candidate,
                self._start_candidate,
                self.say,
            )
        return self._picker

    @property
    def generators(self) -> dict[str, str]:
        """Which generators are here, and why any is not available."""
        found = {name: "available" for name in known_generators()}
        found["default"] = "available (embedded: no downloads, runs on the CPU)"
        for name, (_, why) in model_backends().items():
            found[name] = why
        return found

    def generate(
        self,
        role: str,
        n: int = 6,
        bars: int | None = None,
        seed: int | None = None,
        vibe: str | dict | None = None,
        using: str | None = None,
        by: str | None = None,
    ):
        """Ask a generator for `n` variations for `role` in the current tempo, key, chords and
        vibe. Returns a Batch at once; candidates render in the background and appear in
        perf.picker. `bars` defaults to the phrase length; `seed` makes it repeatable;
        `vibe` (words or a dict) applies to this batch only; `using` names a generator
        (perf.generators lists them) or points at your own class as "module:Class".
        With by="phrase", you are told which candidates will not be ready by the next phrase
        boundary (a pick plays only once fully made)."""
        self.tracks[role]  # unknown roles fail here, with a suggestion
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 16:
            raise HootError(f"n={n!r}: ask for 1 to 16 candidates")
        bars = self.phrase if bars is None else bars
        if isinstance(bars, bool) or not isinstance(bars, int) or not 1 <= bars <= 64:
            raise HootError(f"bars={bars!r}: a whole number of bars from 1 to 64")
        using = using or "default"
        if using not in known_generators() and ":" not in using:
            why = model_backends().get(using, (False, "not installed"))[1]
            raise HootError(
                f"generator {using!r} is not available ({why}); "
                f"available: {', '.join(known_generators())}"
            )
        if by not in (None, "phrase"):
            raise HootError("by= takes 'phrase' (or nothing)")
        the_vibe = self.current_vibe()
        if isinstance(vibe, str):
            the_vibe, _ = apply_words(the_vibe, vibe)
        elif isinstance(vibe, dict):
            the_vibe.update(check_vibe(vibe))
        if role in self._sounds and "timbre" not in the_vibe:
            the_vibe["timbre"] = self._sounds[role]
        tm = self.tempo_map()
        pos = tm.position(self.now)
        request = Request(
            role=role,
            n=n,
            bars=bars,
            bpm=pos.bpm,
            meter=str(pos.meter),
            key=self._key,
            chords=tuple(self.chords),
            vibe=the_vibe,
            seed=random.randrange(1 << 31) if seed is None else int(seed),
            samplerate=self.samplerate,
        )
        batch = self.picker.new_batch(request, using)
        self.session.log("generate", batch=batch.id, **request.to_dict())
        if by == "phrase":
            batch.deadline = tm.next_boundary(self.now + round(0.1 * self.samplerate), "phrase")
            threading.Thread(target=self._watch_deadline, args=(batch,), daemon=True).start()
        return batch

    def pick(self, role_or_index: str | int, index: int | None = None, at: str = "phrase"):
        """Queue a candidate of the latest batch: perf.pick(2) (the newest batch) or
        perf.pick("bass", 2). Returns the candidate."""
        if isinstance(role_or_index, str):
            if index is None:
                raise HootError('which candidate? perf.pick("bass", 2)')
            batch = self.picker[role_or_index]
        else:
            batch, index = self.picker.newest, role_or_index
        candidate = batch[index]
        candidate.queue(at)
        return candidate

    def say(self, message: str) -> None:
        """Tell the performer something (the console shows it)."""
        self.messages.append(message)
        try:
            self.on_message(message)
        except Exception:  # noqa: BLE001 - a broken display must not stop the set
            pass

    def _load_candidate(self, c) -> None:
        with self._lock:  # the preload thread and a pick may race for the same candidate
            if c.name not in self._loaded:
                self._call("load", stem_id=c.name, path=str(c.wav), role=c.role)
                self._loaded.add(c.name)

    def _start_candidate(self, c, at: str | int) -> int:
        self._load_candidate(c)
        result = self._call("queue", track=c.role, stem=c.name, at=at)
        self.session.log("queue", stem=c.name, track=c.role, **result)
        return result["sample"]

    def _watch_deadline(self, batch) -> None:
        while self.now < batch.deadline and not batch.settled:
            time.sleep(0.01)
        late = [c for c in batch if c.status.value not in ("ready", "failed")]
        if late:
            bar = self.tempo_map().position(batch.deadline).bar + 1
            self.say(
                f"{batch.role}: {', '.join('#' + str(c.index + 1) for c in late)} will not "
                f"be ready for the phrase at bar {bar}; picked, they start a phrase later"
            )

    def wait_target(self, bars: float = 0, beats: float = 0, seconds: float = 0) -> int:
        """The sample `bars`/`beats`/`seconds` from now."""
        tm = self.tempo_map()
        beat = tm.beat_at(self.now)
        if bars:
            beats += bars * tm.grid_at_beat(beat).beats_per_bar
        target = tm.sample_at(beat + beats) if beats else self.now
        return target + round(seconds * self.samplerate)

    def close(self) -> None:
        """Stop the generation workers (the engine plays on)."""
        if self._picker is not None:
            self._picker.close()

    # ---- recording and safety ----------------------------------------------------------

    def record(self, tracks: bool = False, name: str | None = None) -> list[Path]:
        """Record the master (and each track when `tracks=True`) to the session's recordings/
        folder as WAV. Headers are kept current every second, so a crash loses at most about
        a second. Returns the files being written."""
        paths = [Path(p) for p in self._call("record", tracks=tracks, name=name)["paths"]]
        self.session.log("record", paths=[str(p) for p in paths])
        return paths

    def stop_recording(self) -> list[Path]:
        """Finish the recording; returns the finished files."""
        paths = [Path(p) for p in self._call("stop_recording")["paths"]]
        self.session.log("stop_recording", paths=[str(p) for p in paths])
        return paths

    def panic(self) -> None:
        """Everything stops at once, with a short fade; anything queued is forgotten."""
        self._call("panic")
        self.session.log("panic")

    def __repr__(self) -> str:
        try:
            pos = self.position
            return (
                f"<Performance {self.session.name}: {pos.bpm:g} BPM {pos.meter}, "
                f"bar {pos.bar + 1} beat {math.floor(pos.beat_in_bar) + 1}>"
            )
        except HootError:
            return f"<Performance {self.session.name}>"


def _guess_role(name: str) -> str:
    for role in ROLES:
        if re.search(role, name, re.IGNORECASE):
            return role
    raise HootError(
        f'which track should {name!r} play on? say so: perf.load(..., role="bass"); '
        f"roles are {', '.join(ROLES)}"
    )
