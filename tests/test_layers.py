"""The package's shape: one import name, layers whose imports only point down, no import cycle anywhere, and no
function-local import of the harness's own modules (the old way of hiding a cycle)."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("harness", "plugins")
OWN = ("nas_harness", "nas_harness_plugins")


def _python_files(*folders: str) -> list[Path]:
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))]


def test_import_linter_contracts_are_kept():
    lint = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    done = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    edges = {m: sorted(set(graph.find_modules_directly_imported_by(m)) & set(modules)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return found


def test_no_import_cycle_between_any_two_modules():
    graph = grimp.build_graph(*OWN)  # TYPE_CHECKING imports included: a cycle there is still a cycle to a reader
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle(tmp_path, monkeypatch):
    """The check above can fail: a two-module package importing itself in a ring is found."""
    pkg = tmp_path / "ringpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from ringpkg import b\n")
    (pkg / "b.py").write_text("from ringpkg import a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _cycles(grimp.build_graph("ringpkg", cache_dir=None)) == [["ringpkg.a", "ringpkg.b"]]


def _imported_names(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def test_no_function_local_import_of_the_harness_itself():
    """Imports of nas_harness modules sit at the top of the module (lazy imports of heavy or optional
    third-party packages, such as ray or matplotlib, are fine; so are imports under ``if TYPE_CHECKING:``)."""
    offenders = []
    for path in _python_files(*SOURCES):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        allowed = {id(node) for node in tree.body}
        for node in tree.body:
            if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
                allowed |= {id(inner) for inner in ast.walk(node)}
        for node in ast.walk(tree):
            if id(node) in allowed:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in _imported_names(node)
                if name.split(".")[0] in OWN
            ]
    assert offenders == []


def test_one_import_name_everywhere():
    """Nothing in the project imports the folder name `harness` (it installs as nas_harness)."""
    offenders = []
    folders = ("harness", "plugins", "tests", "benchmarks", "examples", "scripts")
    for path in _python_files(*[f for f in folders if (ROOT / f).is_dir()]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in _imported_names(node)
                if name.split(".")[0] == "harness"
            ]
    assert offenders == []


@pytest.mark.parametrize(("folder", "name"), [("harness", "nas_harness"), ("plugins", "nas_harness_plugins")])
def test_a_second_import_name_is_refused(folder, name):
    """From the checkout root `import harness` would load every class a second time; it is refused."""
    done = subprocess.run([sys.executable, "-c", f"import {folder}"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0
    assert f"imports as {name}" in done.stderr
