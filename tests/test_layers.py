"""Imports point one way: foundation <- latency/predictors <- search/executors/export <- cli.

Walks every module of ``hwnas``, ``latency`` and ``predictors`` with stdlib :mod:`ast` (nothing is
imported) and checks four rules:

(a) no import cycle: none at module level (an import error) and none through imports inside
    functions either (the function-level import only hides the cycle);
(b) no upward import (a module never imports a module of a higher layer, at any depth);
(c) no import of an internal module inside a function, unless that module is heavy (it imports one
    of ``HEAVY`` at module level, directly or through other internal modules): such an import
    exists only to dodge a cycle. Heavy third-party libraries may be imported inside functions;
(d) no private name (``_x``) imported or used across packages.

``python tests/test_layers.py`` prints every violation.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hwnas", "latency", "predictors")

# Lower number = lower layer. A module may import only its own layer or lower ones. The most
# specific prefix wins; a module matching no prefix fails test_every_module_has_a_layer.
LAYERS = {
    "hwnas": 0,  # the package __init__: Arch, Space, errors
    "hwnas.arch": 0,
    "hwnas.space": 0,
    "hwnas.cost": 0,
    "hwnas.units": 0,
    "hwnas.errors": 0,
    "hwnas.ofa_compat": 0,
    "hwnas.ofa_interop": 0,
    "hwnas.registry": 0,
    "hwnas.data": 0,
    "hwnas.devices": 0,  # shipped device tables (data package)
    "latency": 1,
    "predictors": 1,
    "hwnas.search": 2,
    "hwnas.executor": 2,
    "hwnas.ray_executor": 2,
    "hwnas.export": 2,
    "hwnas.export_trt": 2,
    "hwnas.export_source": 2,
    "hwnas.cli": 3,
    "hwnas.__main__": 3,
}
LAYER_NAMES = ("foundation", "latency/predictors", "search/executors/export", "cli")

# Optional or heavy libraries: importing them inside a function keeps `import hwnas` cheap.
HEAVY = frozenset(
    "torch torchvision ofa onnx onnxruntime onnxslim tensorrt pycuda cuda ray optuna xgboost "
    "pymoo matplotlib scipy PIL tqdm".split()
)


@dataclass(frozen=True)
class Import:
    """One import statement's edge: ``source`` imports ``target`` (a module name)."""

    source: str
    target: str
    line: int
    in_function: bool
    names: tuple[str, ...] = ()


@dataclass
class Graph:
    """Every walked module and every import found in it."""

    modules: dict[str, Path] = field(default_factory=dict)
    imports: list[Import] = field(default_factory=list)
    private_uses: list[str] = field(default_factory=list)

    def internal(self, name: str) -> bool:
        return name.split(".")[0] in PACKAGES


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str, modules: dict[str, Path]) -> str:
    """The package a module lives in (a package's ``__init__`` lives in itself)."""
    if modules[module].name == "__init__.py":
        return module
    return module.rpartition(".")[0]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _absolute(module: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    base = base if is_pkg else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


class _Walker(ast.NodeVisitor):
    def __init__(self, graph: Graph, module: str, is_pkg: bool):
        self.graph, self.module, self.is_pkg = graph, module, is_pkg
        self.depth = 0  # > 0 inside a function
        self.aliases: dict[str, str] = {}  # local name -> internal module it binds

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_If(self, node: ast.If):
        if not _is_type_checking(node):  # typing-only imports never run
            self.generic_visit(node)

    def _edge(self, target: str, line: int, names=()):
        self.graph.imports.append(Import(self.module, target, line, self.depth > 0, tuple(names)))

    def visit_Import(self, node: ast.Import):
        for alias in node.names:
            self._edge(alias.name, node.lineno)
            if alias.asname and self.graph.internal(alias.name):
                self.aliases[alias.asname] = alias.name

    def visit_ImportFrom(self, node: ast.ImportFrom):
        base = _absolute(self.module, self.is_pkg, node)
        plain = []
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            if sub in self.graph.modules:  # `from pkg import module`
                self._edge(sub, node.lineno)
                self.aliases[alias.asname or alias.name] = sub
            else:
                plain.append(alias.name)
        if plain or not node.names:
            self._edge(base, node.lineno, plain)

    def visit_Attribute(self, node: ast.Attribute):
        value = node.value
        if isinstance(value, ast.Name) and value.id in self.aliases and _private(node.attr):
            target = self.aliases[value.id]
            if package_of(target, self.graph.modules) != package_of(
                self.module, self.graph.modules
            ):
                self.graph.private_uses.append(
                    f"{self.module}:{node.lineno} uses {target}.{node.attr}"
                )
        self.generic_visit(node)


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def build_graph() -> Graph:
    graph = Graph()
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            graph.modules[module_name(path)] = path
    for module, path in graph.modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        _Walker(graph, module, path.name == "__init__.py").visit(tree)
    return graph


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LAYERS:
            return LAYERS[".".join(parts[:n])]
    return None


def resolve(graph: Graph, target: str) -> str | None:
    """The walked module an import target names (``pkg.mod.attr`` -> ``pkg.mod``), if internal."""
    while target and target not in graph.modules:
        target = target.rpartition(".")[0]
    return target or None


def edges(graph: Graph, in_function: bool | None = None):
    for imp in graph.imports:
        if in_function is not None and imp.in_function != in_function:
            continue
        target = resolve(graph, imp.target) if graph.internal(imp.target) else None
        if target and target != imp.source:
            yield imp, target


def cycles(graph: Graph, in_function: bool | None = False) -> list[list[str]]:
    """Strongly connected components with more than one module, of the module-level graph
    (``in_function=False``) or of every import (``None``)."""
    succ: dict[str, set[str]] = {m: set() for m in graph.modules}
    for imp, target in edges(graph, in_function=in_function):
        succ[imp.source].add(target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str):  # Tarjan; the graph is a few dozen modules, recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(succ[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(succ):
        if v not in index:
            visit(v)
    return sorted(found)


def heavy_modules(graph: Graph) -> set[str]:
    """Internal modules that import a HEAVY library at module level, directly or transitively."""
    heavy = {
        imp.source
        for imp in graph.imports
        if not imp.in_function and imp.target.split(".")[0] in HEAVY
    }
    module_edges = list(edges(graph, in_function=False))
    grew = True
    while grew:
        grew = False
        for imp, target in module_edges:
            if target in heavy and imp.source not in heavy:
                heavy.add(imp.source)
                grew = True
    return heavy


def cycle_violations(graph: Graph, in_function: bool | None = False) -> list[str]:
    return [" <-> ".join(c) for c in cycles(graph, in_function)]


def upward_violations(graph: Graph) -> list[str]:
    found = []
    for imp, target in edges(graph):
        src, dst = layer_of(imp.source), layer_of(target)
        if src is not None and dst is not None and dst > src:
            where = "in a function" if imp.in_function else "at module level"
            found.append(
                f"{imp.source}:{imp.line} ({LAYER_NAMES[src]}) imports {target} "
                f"({LAYER_NAMES[dst]}) {where}"
            )
    return found


def function_import_violations(graph: Graph) -> list[str]:
    heavy = heavy_modules(graph)
    return [
        f"{imp.source}:{imp.line} imports {target} inside a function"
        for imp, target in edges(graph, in_function=True)
        if target not in heavy
    ]


def private_violations(graph: Graph) -> list[str]:
    found = list(graph.private_uses)
    for imp in graph.imports:
        target = resolve(graph, imp.target) if graph.internal(imp.target) else None
        if target is None:
            continue
        same = package_of(target, graph.modules) == package_of(imp.source, graph.modules)
        private = [n for n in imp.names if _private(n)]
        private += [p for p in imp.target.split(".") if _private(p)]
        if private and not same:
            found.append(f"{imp.source}:{imp.line} imports {', '.join(private)} from {target}")
    return sorted(found)


GRAPH = build_graph()


def _check(violations: list[str], what: str):
    for v in violations:
        print(v)
    assert not violations, f"{len(violations)} {what}:\n" + "\n".join(violations)


def test_walk_sees_every_package():
    assert {"hwnas.arch", "latency.device", "predictors.base", "hwnas.cli"} <= set(GRAPH.modules)
    assert any(imp.in_function for imp in GRAPH.imports)


def test_every_module_has_a_layer():
    _check([m for m in GRAPH.modules if layer_of(m) is None], "modules without a layer in LAYERS")


def test_no_module_level_cycle():
    _check(cycle_violations(GRAPH), "module-level import cycles")


# Phase 2 removed the three (executor <-> ray_executor, export <-> export_trt, predictors <->
# predictors.ensemble): registries name their members by string, so a table never imports them.
def test_no_cycle_hidden_in_a_function():
    _check(cycle_violations(GRAPH, in_function=None), "import cycles through function imports")


def test_no_upward_import():
    _check(upward_violations(GRAPH), "upward imports")


def test_no_function_level_import_of_light_internal_modules():
    _check(function_import_violations(GRAPH), "function-level imports of light internal modules")


def test_no_private_name_across_packages():
    _check(private_violations(GRAPH), "private names used across packages")


def test_the_rules_catch_what_they_should(tmp_path):
    """The checkers on a tiny synthetic graph: a cycle, an upward, a dodge and a private import."""
    g = Graph(modules={m: tmp_path / f"{m}.py" for m in ("hwnas.arch", "hwnas.cli.x", "latency.a")})
    g.imports = [
        Import("hwnas.arch", "latency.a", 1, False),
        Import("latency.a", "hwnas.arch", 2, False, ("_hidden",)),
        Import("hwnas.arch", "hwnas.cli.x", 3, True),
        Import("hwnas.arch", "torch", 4, True),
        Import("hwnas.cli.x", "hwnas.arch", 5, False),
    ]
    assert cycle_violations(g) == ["hwnas.arch <-> latency.a"]
    assert cycle_violations(g, None) == ["hwnas.arch <-> hwnas.cli.x <-> latency.a"]
    assert upward_violations(g) == [
        "hwnas.arch:1 (foundation) imports latency.a (latency/predictors) at module level",
        "hwnas.arch:3 (foundation) imports hwnas.cli.x (cli) in a function",
    ]
    assert function_import_violations(g) == ["hwnas.arch:3 imports hwnas.cli.x inside a function"]
    assert private_violations(g) == ["latency.a:2 imports _hidden from hwnas.arch"]


if __name__ == "__main__":
    total = 0
    for title, found in (
        ("(a) module-level cycles", cycle_violations(GRAPH)),
        ("(a) cycles through function-level imports", cycle_violations(GRAPH, None)),
        ("(b) upward imports", upward_violations(GRAPH)),
        ("(c) function-level imports of light internal modules", function_import_violations(GRAPH)),
        ("(d) private names across packages", private_violations(GRAPH)),
    ):
        total += len(found)
        print(f"{title}: {len(found)}")
        for line in found:
            print(f"  {line}")
    print(f"total: {total}")
    sys.exit(1 if total else 0)
