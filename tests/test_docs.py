"""Every Python example in the README and docs/ runs as written.

The examples of one page are run in order, in one namespace, as a performer would type
them into one console: against `perf` on an offline engine (time moves with perf.wait),
in a fresh folder, with a home of its own (for "~/loops").
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hoot.session import Session
from hoot.stage import Stage

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def examples(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def test_the_pages_have_examples():
    assert examples(REPO / "README.md"), "the README's example is found"
    assert sum(len(examples(page)) for page in PAGES) >= 10


@pytest.mark.parametrize("page", [p for p in PAGES if examples(p)], ids=lambda p: p.name)
def test_every_example_runs_as_written(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    stage = Stage.offline(Session(tmp_path / "myset"))
    stage.perf.on_message = lambda m: None
    namespace = stage.namespace
    try:
        for number, code in enumerate(examples(page), 1):
            try:
                exec(compile(code, f"{page.name} example {number}", "exec"), namespace)
            except Exception as e:  # noqa: BLE001 - say which example, and what it said
                raise AssertionError(
                    f"{page.name}, example {number} does not run as written: "
                    f"{type(e).__name__}: {e}\n{code}"
                ) from e
    finally:
        stage.close()
