"""The package's shape: no import loops, no reaching into another package's private modules.

The imports of every module under src/perfopt are read with `ast` (nothing is imported),
and each becomes an edge between two modules of the package:

- Every import statement counts, wherever it is: at the top, inside a function (a lazy
  import), under `if TYPE_CHECKING:`. A lazy import still ties the two modules together.
- `import a.b.c` is an edge to `a.b.c`, not to `a` or `a.b`: Python imports the parent
  packages first anyway, so counting them would make every subpackage a loop with its
  parent's `__init__`.
- `from pkg import name` is an edge to `pkg.name` when that is a submodule, else to
  `pkg` itself (the name is read from the package's namespace, so its `__init__` must
  have run to the end). So an ancestor package counts only when a name that is not a
  submodule is imported from it.
- Relative imports are resolved; imports of anything outside perfopt are ignored.

Rules:

1. No loops: no strongly connected component of two or more modules.
2. A private module (`_name.py`, or anything under a `_name` package) may be imported
   only from inside the package that holds it; tests may import it, the package may not.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "perfopt"



def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


def _import_graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                for alias in node.names:
                    sub = f"{source}.{alias.name}"
                    targets.append(sub if sub in mods else source)
            for target in targets:
                if target in mods and target != mod:
                    graph[mod].add(target)
    return graph


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _private_owner(module: str) -> str | None:
    """The package that holds `module` privately, or None when no part of it is private."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def test_the_graph_sees_lazy_imports_and_ancestor_names():
    graph = _import_graph()
    # a lazy import inside a function is an edge
    assert "perfopt.backtest.sharding" in graph["perfopt.backtest.engine"]
    # `from perfopt.profiling import _procfs`-style imports reach the submodule only
    assert "perfopt.profiling" not in graph["perfopt.profiling._tstates"]


def test_no_import_loops():
    loops = _loops(_import_graph())
    assert not loops, "import loops (see the rules in this file's docstring):\n" + "\n".join(
        " <-> ".join(loop) for loop in loops
    )


def test_no_private_module_of_another_package_is_imported():
    bad = []
    for mod, targets in _import_graph().items():
        for target in sorted(targets):
            owner = _private_owner(target)
            if owner is None or _inside(mod, owner):
                continue
            bad.append(f"{mod} imports {target} (private to {owner})")
    assert not bad, "\n".join(bad)
