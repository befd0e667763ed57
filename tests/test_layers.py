"""Dependencies point one way: lunar_env <- agents <- training <- the command line (training.commands).

Every module's imports are read from its source with ``ast`` (nothing is imported or run), at
module level and inside functions, ``import x`` and ``from x import y``, relative ones resolved.
An import of a higher layer fails the test, wherever it sits; so does a cycle of module-level
imports (imports inside functions run later, so they are left out of the cycle check only).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("lunar_env", "agents", "training")
# Longest prefix first: training.commands is the command line, above the rest of training.
LAYERS = (("training.commands", 3), ("training", 2), ("agents", 1), ("lunar_env", 0))
LAYER_NAMES = {0: "lunar_env", 1: "agents", 2: "training", 3: "training.commands (the command line)"}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module imported (a submodule where ``from package import submodule``)
    line: int
    at_import_time: bool  # module level (also class bodies), outside ``if TYPE_CHECKING:``


def layer_of(module: str) -> int | None:
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer
    return None


def module_names(root: Path, packages=PACKAGES) -> dict[str, Path]:
    """Every module of the packages under ``root``, by dotted name (a package by its own name)."""
    names = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            names[".".join(parts)] = path
    return names


class _ImportVisitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, known: set[str]):
        self.module, self.known = module, known
        self.package = module if is_package else module.rpartition(".")[0]
        self.imports: list[Import] = []
        self._function_depth = 0
        self._type_checking = 0

    def _add(self, target: str, node: ast.AST) -> None:
        if target.split(".")[0] in PACKAGES:
            at_import_time = self._function_depth == 0 and self._type_checking == 0
            self.imports.append(Import(self.module, target, node.lineno, at_import_time))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            self._add(submodule if submodule in self.known else source, node)

    def _in_function(self, node) -> None:
        self._function_depth += 1
        self.generic_visit(node)
        self._function_depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _in_function

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
        if not guarded:
            self.generic_visit(node)
            return
        self.visit(test)
        self._type_checking += 1
        for child in node.body:
            self.visit(child)
        self._type_checking -= 1
        for child in node.orelse:
            self.visit(child)


def collect_imports(root: Path, packages=PACKAGES) -> list[Import]:
    """Every import of a module of ``packages`` by a module of ``packages``, read from the source."""
    names = module_names(root, packages)
    known = set(names)
    imports = []
    for module, path in names.items():
        visitor = _ImportVisitor(module, path.name == "__init__.py", known)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        imports += visitor.imports
    return imports


def upward_imports(imports: list[Import]) -> list[str]:
    """One line per import of a higher layer: where it is and what it reaches."""
    found = []
    for imp in imports:
        low, high = layer_of(imp.module), layer_of(imp.target)
        if low is not None and high is not None and high > low:
            when = "module level" if imp.at_import_time else "inside a function"
            found.append(f"{imp.module} (line {imp.line}, {when}, {LAYER_NAMES[low]}) imports {imp.target} "
                         f"({LAYER_NAMES[high]})")
    return found


def import_cycles(imports: list[Import]) -> list[list[str]]:
    """The cycles of module-level imports: strongly connected components of more than one module,
    or a module importing itself (Tarjan's algorithm, iterative)."""
    graph: dict[str, set[str]] = {}
    for imp in imports:
        if imp.at_import_time:
            graph.setdefault(imp.module, set()).add(imp.target)
            graph.setdefault(imp.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
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
                if len(component) > 1 or node in graph[node]:
                    cycles.append(sorted(component))
    return cycles


def test_every_module_is_read():
    """The walk sees the whole code base, the command package and the lazy imports included."""
    names = module_names(ROOT)
    assert {"lunar_env.simulator", "agents.registry", "training.train", "training.commands.main",
            "lunar_env.evaluation.suite"} <= set(names)
    imports = collect_imports(ROOT)
    lazy = [imp for imp in imports if not imp.at_import_time]
    assert any(imp.module == "training.commands.bench" and imp.target == "agents.bench_runner" for imp in lazy)
    assert len({imp.module for imp in imports}) > 50


def test_no_module_imports_a_higher_layer():
    upward = upward_imports(collect_imports(ROOT))
    layers = "lunar_env <- agents <- training <- command line"
    assert not upward, f"imports against the layers {layers}:\n" + "\n".join(upward)


def test_no_cycle_among_module_level_imports():
    cycles = import_cycles(collect_imports(ROOT))
    assert not cycles, "module-level import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checks_find_upward_imports_and_cycles_in_a_synthetic_tree(tmp_path):
    _write(tmp_path, {
        "lunar_env/__init__.py": "",
        "lunar_env/core.py": "import numpy\nfrom lunar_env import util\n",
        "lunar_env/util.py": "def helper():\n    from ..agents.policy import Policy\n    return Policy\n",
        "lunar_env/sub/__init__.py": "from .. import core\n",
        "lunar_env/sub/typed.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import training.train\n",
        "agents/__init__.py": "",
        "agents/policy.py": "from lunar_env.core import helper\nfrom . import registry\n",
        "agents/registry.py": "from agents import policy\n",
        "training/__init__.py": "",
        "training/train.py": "import agents.policy\nfrom training.commands import main\n",
        "training/commands/__init__.py": "",
        "training/commands/main.py": "from training import train\n",
    })
    imports = collect_imports(tmp_path)
    upward = upward_imports(imports)
    assert len(upward) == 3, upward
    inside = "lunar_env.util (line 2, inside a function"
    assert any(line.startswith(inside) and "agents.policy" in line for line in upward)
    assert any(line.startswith("lunar_env.sub.typed") and "imports training.train" in line for line in upward)
    assert any(line.startswith("training.train") and "imports training.commands.main" in line for line in upward)
    assert Import("lunar_env.sub", "lunar_env.core", 1, True) in imports  # `from .. import core` resolved
    assert import_cycles(imports) == [
        ["agents.policy", "agents.registry"],
        ["training.commands.main", "training.train"],
    ]
    # the lazy upward import and the TYPE_CHECKING one are not module-level edges
    assert not any(c for c in import_cycles(imports) if "lunar_env.util" in c)
