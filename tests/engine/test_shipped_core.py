"""The compiled core shipped for this platform (hoot.engine.kernel.shipped): a machine that
never ran hoot loads it instead of compiling for two minutes, wherever hoot is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numba
import pytest

from hoot.engine.devices import doctor
from hoot.engine.kernel import cache, shipped

REPO = Path(__file__).resolve().parents[2]
SHIPPED = shipped.manifest()
NOT_HERE = (
    f"no core is shipped for {shipped.platform_tag()}"
    if SHIPPED is None
    else f"the shipped core is for numba {SHIPPED['numba']}, this is {numba.__version__}"
    if SHIPPED["numba"] != numba.__version__
    else None
)
needs_shipped_core = pytest.mark.skipif(NOT_HERE is not None, reason=NOT_HERE or "")

CHILD = """
import gc, json, sys
from numba.core.dispatcher import Dispatcher
import hoot
from hoot.engine.warm import warm
said = []
warm(said.append)
misses = {f"{d.py_func.__module__}.{d.py_func.__name__}": sum(d.stats.cache_misses.values())
          for d in gc.get_objects() if isinstance(d, Dispatcher)}
print(json.dumps({"hoot": hoot.__file__, "said": said,
                  "compiled": [name for name, n in misses.items() if n]}))
"""


@needs_shipped_core
def test_the_shipped_core_fits_the_engine_sources() -> None:
    assert SHIPPED is not None
    assert SHIPPED["sources"] == cache.sources_fingerprint(), (
        "hoot/engine changed since the shipped core was built: every first start would "
        "compile for two minutes. Run `.venv/bin/python scripts/build_core_cache.py` and "
        "commit hoot/engine/kernel/shipped/"
    )
    assert shipped.why_not(cache.sources_fingerprint()) is None


def test_every_shipped_core_was_built_from_these_sources() -> None:
    # each Python's archive is built under that Python (scripts/build_core_cache.py); all
    # share the sources' fingerprint, which covers numba's version too
    manifests = sorted(shipped.HERE.glob("core-*.json"))
    assert manifests, "hoot ships a core for at least linux-x86_64-py311"
    for path in manifests:
        built = json.loads(path.read_text())
        assert shipped.archive_path(built["platform"]).exists(), path.name
        if built["numba"] != numba.__version__:
            continue  # another numba: its fingerprint differs by construction
        assert built["sources"] == cache.sources_fingerprint(), (
            f"{path.name} is older than hoot/engine: rebuild it with that Python "
            f"({built['platform']}): `<python> scripts/build_core_cache.py`"
        )


@needs_shipped_core
@pytest.mark.slow
def test_a_machine_that_never_ran_hoot_loads_the_shipped_core_and_compiles_nothing(
    tmp_path: Path,
) -> None:
    # hoot installed somewhere else than where the core was built (numba names its cache
    # folders by the sources' absolute path), with an empty user cache
    elsewhere = tmp_path / "site-packages"
    shutil.copytree(REPO / "hoot", elsewhere / "hoot", ignore=shutil.ignore_patterns("__pycache__"))
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(elsewhere)}
    for name in ("NUMBA_CACHE_DIR", "NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES", "HOOT_SHIPPED_CORE"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, cwd=tmp_path, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["hoot"].startswith(str(elsewhere)), result["hoot"]
    assert result["said"] == [], "a first start with the shipped core says nothing of compiling"
    assert result["compiled"] == []
    folders = list((tmp_path / "cache" / "hoot").glob("numba-*"))
    assert [f.name for f in folders] == [f"numba-{cache.sources_fingerprint()}"]
    marks = list(folders[0].glob(".shipped-*"))
    assert len(marks) == 1 and json.loads(marks[0].read_text())["files"] == SHIPPED["files"]

    # the same sources checked out somewhere else, with the same user cache: numba's
    # subfolders there are named by that path, so the archive is unpacked for it too
    again = tmp_path / "another-checkout"
    shutil.copytree(elsewhere / "hoot", again / "hoot")
    done = subprocess.run(
        [sys.executable, "-c", CHILD], env={**env, "PYTHONPATH": str(again)}, cwd=tmp_path,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["hoot"].startswith(str(again)) and result["compiled"] == [], result
    assert len(list(folders[0].glob(".shipped-*"))) == 2


def test_without_a_fitting_shipped_core_the_engine_compiles_for_its_cpu_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shipped, "HERE", tmp_path / "none")
    assert shipped.why_not("x") == f"no shipped core for {shipped.platform_tag()}"
    (tmp_path / "none").mkdir()
    shipped.archive_path().write_bytes(b"")
    shipped.manifest_path().write_text(json.dumps({"numba": "0.1", "sources": "x"}))
    assert "numba 0.1" in str(shipped.why_not("x"))
    shipped.manifest_path().write_text(json.dumps({"numba": numba.__version__, "sources": "y"}))
    assert shipped.why_not("x") == "the engine's sources changed since the shipped core was built"
    monkeypatch.setenv("HOOT_SHIPPED_CORE", "0")
    assert "HOOT_SHIPPED_CORE=0" in str(cache.shipped_core_reason("y"))


def test_a_damaged_shipped_core_is_a_cold_cache_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(numba.config, "CPU_NAME", "generic")  # as the engine's process has it
    monkeypatch.setattr(numba.config, "CPU_FEATURES", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("HOOT_SHIPPED_CORE", raising=False)
    monkeypatch.setattr(shipped, "HERE", tmp_path / "shipped")
    (tmp_path / "shipped").mkdir()
    fingerprint = cache.sources_fingerprint()
    shipped.manifest_path().write_text(
        json.dumps({"numba": numba.__version__, "sources": fingerprint})
    )
    shipped.archive_path().write_bytes(b"\xfd7zXZ\x00 truncated")
    folder = cache.configure_numba()
    assert folder == str(tmp_path / "cache" / "hoot" / f"numba-{fingerprint}")
    assert not list(Path(folder).glob(".shipped-*"))


def test_pack_and_unpack_follow_the_sources_to_where_this_installation_keeps_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hoot

    built_at = tmp_path / "build" / "hoot"
    (built_at / "engine" / "kernel").mkdir(parents=True)
    for package in (built_at, built_at / "engine", built_at / "engine" / "kernel"):
        (package / "__init__.py").write_text("")
    callbacks = tmp_path / "build-cache" / "kernel"
    numba_cache = tmp_path / "numba"
    for source, name in ((built_at / "engine" / "kernel", "world.process-9.py311"),
                         (callbacks, "hoot_callback_1.callback-20.py311")):  # fmt: skip
        sub = numba_cache / shipped.subfolder(source)
        sub.mkdir(parents=True)
        (sub / f"{name}.nbi").write_bytes(name.encode())
        (sub / f"{name}.1.nbc").write_bytes(b"machine code of " + name.encode())
    monkeypatch.setattr(shipped, "HERE", tmp_path / "shipped")
    (tmp_path / "shipped").mkdir()
    assert shipped.pack(numba_cache, built_at, callbacks, shipped.archive_path()) == 4

    here = tmp_path / "user-cache" / "numba-x"
    my_callbacks = tmp_path / "user-cache" / "kernel"
    assert shipped.unpack(here, my_callbacks) == 4
    kernel = here / shipped.subfolder(Path(hoot.__file__).resolve().parent / "engine" / "kernel")
    assert (kernel / "world.process-9.py311.1.nbc").read_bytes().startswith(b"machine code")
    assert (
        here / shipped.subfolder(my_callbacks) / "hoot_callback_1.callback-20.py311.nbi"
    ).exists()

    stray = numba_cache / shipped.subfolder(tmp_path / "somewhere" / "else")
    stray.mkdir()
    with pytest.raises(ValueError, match="outside hoot's engine"):
        shipped.pack(numba_cache, built_at, callbacks, tmp_path / "other.tar.xz")


def test_the_doctor_says_where_the_compiled_core_comes_from() -> None:
    healthy, report = doctor()
    line = next(line for line in report.splitlines() if "compiled core" in line)
    if NOT_HERE is None and shipped.why_not(cache.sources_fingerprint()) is None:
        assert line == f"ok      the engine's compiled core: shipped for {shipped.platform_tag()}"
    else:
        assert "compiled on this machine" in line or "compiles at the first start" in line
