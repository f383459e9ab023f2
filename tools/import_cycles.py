"""Fail on an import cycle between refineseg's modules or packages: imports must run one way.

    python tools/import_cycles.py            # exit 1 and the cycles, or "no import cycle"

Every ``import`` and ``from ... import`` of a refineseg module counts, at the top of a file or
inside a function (an import deferred into a function is still a dependency, only a later
one), except those under ``if TYPE_CHECKING:``, which only the type checker runs. A package's
``__init__`` counts as the module of the package. Cycles are the strongly connected components
of that graph with more than one module (Tarjan's algorithm), each printed with one path
around it.

Packages are checked too, because a layer is a package: ``refineseg.models.registry`` importing
``refineseg.weights.io`` while ``refineseg.weights.loading`` imports ``refineseg.models.base`` is
no module cycle, yet the two packages depend on each other. Each module is collapsed to its
first-level package under refineseg (``refineseg.weights.io`` -> ``refineseg.weights``; a top-level
module such as ``refineseg.blocks``, and ``refineseg`` itself, stay themselves), and the same
search runs on that graph, without the imports that lie on a module cycle (those are reported
already). A package cycle is printed with, for each step, one import that makes it.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "refineseg"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node except the bodies of ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                yield child
                yield from _runtime_nodes(child)
            continue
        yield node
        yield from _runtime_nodes(node)


def import_graph(root: Path = SOURCE) -> dict[str, set[str]]:
    """Module -> the refineseg modules it imports."""
    files = {module_name(p, root): p for p in sorted(root.rglob("*.py"))}
    top = root.name
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
                # "from .pkg import module" imports the module; "from .module import name" the module
                submodules = {f"{target}.{alias.name}" for alias in node.names} & files.keys()
                found |= submodules or ({target} & files.keys())
            elif isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names if alias.name.split(".")[0] == top} & files.keys()
        found.discard(name)
        graph[name] = found
    return graph


def package_of(module: str) -> str:
    """The first-level package a module belongs to: ``a.b.c`` -> ``a.b``; ``a.b`` and ``a`` stay."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> tuple[dict[str, set[str]], dict[tuple[str, str], tuple[str, str]]]:
    """Package -> the packages it imports, and for each such edge one module import that makes it.

    Imports between modules of one module cycle are left out: that cycle is reported as such.
    """
    on_cycle = {member: i for i, component in enumerate(cycles(graph)) for member in component}
    packages: dict[str, set[str]] = {package_of(m): set() for m in graph}
    witness: dict[tuple[str, str], tuple[str, str]] = {}
    for module in sorted(graph):
        for target in sorted(graph[module]):
            if module in on_cycle and on_cycle.get(target) == on_cycle[module]:
                continue
            edge = (package_of(module), package_of(target))
            if edge[0] != edge[1]:
                packages[edge[0]].add(edge[1])
                witness.setdefault(edge, (module, target))
    return packages, witness


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node, each as a path around it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(_path_around(sorted(component), graph))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _path_around(component: list[str], graph: dict[str, set[str]]) -> list[str]:
    """A cycle through the component's first module, following edges inside the component."""
    members = set(component)
    start = component[0]
    path, seen = [start], {start}
    while True:
        options = sorted(graph[path[-1]] & members)
        if start in options and len(path) > 1:
            return [*path, start]
        unvisited = [m for m in options if m not in seen]
        if not unvisited:
            return [*path, start] if start in options else component
        path.append(unvisited[0])
        seen.add(unvisited[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=SOURCE, help="the package folder (default src/refineseg)")
    args = parser.parse_args()
    graph = import_graph(args.root)
    found = cycles(graph)
    for cycle in found:
        print("import cycle: " + " -> ".join(cycle))
    packages, witness = package_graph(graph)
    package_cycles = cycles(packages)
    for cycle in package_cycles:
        steps = "; ".join(" imports ".join(witness[e]) for e in itertools.pairwise(cycle) if e in witness)
        print(f"import cycle between packages: {' -> '.join(cycle)} ({steps})")
    if found or package_cycles:
        return 1
    print(f"no import cycle among {len(graph)} modules and {len(packages)} packages")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
