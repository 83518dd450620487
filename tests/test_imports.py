"""The import rules of docs/architecture.md hold for every module of hoot.

The table in docs/architecture.md ("Packages, and what each may import") is the rule; this
test reads it and checks every import statement of every module, the ones inside
functions too (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOOT = REPO / "hoot"
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def rules() -> dict[str, tuple[set[str], set[str]]]:
    """{row: (parts of hoot it may import, third-party packages it may import)}."""
    text = (REPO / "docs" / "architecture.md").read_text()
    table = text.split("## Packages, and what each may import", 1)[1]
    found = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        names = [re.findall(r"`([\w.]+)`", cell) for cell in (cells[0], cells[2], cells[3])]
        for row in names[0]:
            found[row] = (set(names[1]), set(names[2]))
    return found


def row_of(module: str, table: dict) -> str:
    """The table row a module (dotted, without "hoot.") belongs to: the longest prefix."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in table:
            return ".".join(parts[:n])
    raise AssertionError(f"hoot.{module} belongs to no row of the table in docs/architecture.md")


def is_module(dotted: str) -> bool:
    where = REPO.joinpath(*dotted.split("."))
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every absolute import in a file; `from hoot.engine import protocol`
    counts as hoot.engine.protocol."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.append((node.lineno, sub if is_module(sub) else node.module))
    return found


def allowed(target: str, hoot_parts: set[str], own: str) -> bool:
    """Whether `target` (dotted, without "hoot.") is within the row's own package or one of
    the parts it may import (a package, or one module of it)."""
    for part in (own, *hoot_parts):
        if target == part or target.startswith(part + "."):
            return True
    return False


def test_the_table_names_every_package_and_the_ones_to_come():
    table = rules()
    for path in HOOT.iterdir():
        if path.name.startswith((".", "_")) and path.name != "__init__.py":
            continue
        if path.is_dir() and (path / "__init__.py").exists() or path.suffix == ".py":
            assert path.stem in table, f"hoot/{path.name} is missing from the table"
    for to_come in ("control", "beats", "realtime"):
        assert to_come in table, f"the table says where {to_come} will live"
    for row, (hoot_parts, _) in table.items():
        for part in hoot_parts:
            assert part.split(".")[0] in table, f"{row} may import {part}, which is no row"


def test_every_import_of_every_module_keeps_to_the_table():
    table = rules()
    broken = []
    for path in sorted(HOOT.rglob("*.py")):
        module = ".".join(path.relative_to(HOOT).with_suffix("").parts)
        row = row_of(module, table)
        hoot_parts, others = table[row]
        for line, target in imports(path):
            top = target.split(".")[0]
            if top == "hoot":
                inner = target.removeprefix("hoot").lstrip(".")
                if inner and not allowed(inner, hoot_parts, row):
                    broken.append(f"hoot/{path.relative_to(HOOT)}:{line} imports {target}")
            elif top not in STDLIB and top not in others:
                broken.append(f"hoot/{path.relative_to(HOOT)}:{line} imports {target}")
    assert not broken, "imports the table in docs/architecture.md does not allow:\n" + "\n".join(
        broken
    )


def test_the_instrument_needs_no_extra():
    """`pip install hoot` alone gives a `hoot tui` that starts: every third-party package
    the front ends import is a core dependency, not an extra."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {re.split(r"[\[<>=!~ ]", d, maxsplit=1)[0].lower() for d in project["dependencies"]}
    distributions = {"prompt_toolkit": "prompt-toolkit", "pygments": "pygments",
                     "rtmidi": "python-rtmidi", "jack": "jack-client"}  # fmt: skip
    table = rules()
    needed = set()
    for row in ("tui", "console", "stage", "performance", "engine", "music", "session", "cli"):
        needed |= table[row][1]
    missing = {
        name for name in needed
        if distributions.get(name, name).replace("_", "-").lower() not in core
        and name not in ("prompt_toolkit", "pygments")  # ptpython brings them
    }  # fmt: skip
    assert not missing, f"the instrument imports {sorted(missing)}, which are not core"
