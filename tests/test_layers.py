"""The package's imports flow one way (DESIGN.md section 1), read from the source with ast.

Every import counts, at module level or inside a function: a lazy import is still a
dependency.  A lower layer that needs an upper one calls a hook in ``mushin_nb._hooks``,
which the package's ``__init__`` binds.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mushin_nb"

# layer of each top-level part (higher = upper); a module may import its own layer or lower
LAYERS: dict[str, int] = {
    "mushin_nb": 7, "cli": 7, "_demo": 7,
    "notebook": 6,
    "batch": 5, "study": 5, "tune": 5, "accessor": 5,
    "compare": 4,
    "plots": 3, "metrics": 3, "stats": 3, "train": 3, "experiments": 3,
    "workflows": 2,
    "results": 1, "progress": 1,
    "errors": 0, "_hooks": 0,
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str, modules: dict[str, Path]) -> str:
    """The module an import of ``name`` loads (a dotted path may name a module attribute)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(path: Path, modules: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """``(module, names, line)`` for every import of a mushin_nb module in ``path``."""
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, [a.name], node.lineno) for a in node.names
                      if a.name.split(".")[0] == "mushin_nb"]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] != "mushin_nb":
                continue
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if sub in modules else base
                found.append((target, [alias.name], node.lineno))
    return [(resolve(m, modules), names, line) for m, names, line in found]


def layer_of(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1]] if len(parts) > 1 else LAYERS["mushin_nb"]


def graph() -> dict[str, dict[str, tuple[list[str], int]]]:
    modules = all_modules()
    edges: dict[str, dict[str, tuple[list[str], int]]] = {m: {} for m in modules}
    for name, path in modules.items():
        for target, names, line in imports_of(path, modules):
            if target != name:
                known = edges[name].setdefault(target, ([], line))
                known[0].extend(n for n in names if n not in known[0])
    return edges


def test_every_part_of_the_package_has_a_layer():
    unknown = {m.split(".")[1] for m in all_modules() if "." in m} - set(LAYERS)
    assert not unknown, f"give these parts a layer in LAYERS (DESIGN.md section 1): {unknown}"


def test_no_upward_import():
    modules = all_modules()
    upward = []
    for name, targets in graph().items():
        for target, (names, line) in targets.items():
            if layer_of(target) > layer_of(name):
                upward.append(f"{modules[name].relative_to(PACKAGE.parent)}:{line} imports "
                              f"{', '.join(names)} from {target} (a higher layer)")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def find_cycle(edges: dict[str, dict[str, tuple[list[str], int]]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, {}):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in edges:
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle():
    edges = graph()
    cycle = find_cycle(edges)
    if cycle:
        steps = [f"{a} imports {', '.join(edges[a][b][0])} from {b} (line {edges[a][b][1]})"
                 for a, b in zip(cycle, cycle[1:])]
        pytest.fail("import circle:\n" + "\n".join(steps))


def test_the_checks_see_a_circle_and_an_upward_import(tmp_path):
    edges = {"a": {"b": (["x"], 1)}, "b": {"c": (["y"], 2)}, "c": {"a": (["z"], 3)}}
    assert find_cycle(edges) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": (["x"], 1)}, "b": {}}) is None
    assert layer_of("mushin_nb.progress._text") < layer_of("mushin_nb.notebook.widgets")
    src = tmp_path / "mushin_nb" / "progress" / "x.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f():\n    from mushin_nb.notebook.widgets import SweepMonitor\n"
                   "from . import _text\nfrom ..errors import bad_value\n")
    mods = {"mushin_nb.notebook.widgets": src, "mushin_nb.progress._text": src,
            "mushin_nb.errors": src, "mushin_nb.progress": src}
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "mushin_nb"
    try:
        found = sorted((m, n) for m, n, _ in imports_of(src, mods))
    finally:
        PACKAGE = saved
    assert found == [("mushin_nb.errors", ["bad_value"]),
                     ("mushin_nb.notebook.widgets", ["SweepMonitor"]),
                     ("mushin_nb.progress._text", ["_text"])]
