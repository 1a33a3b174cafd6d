"""The import picture a newcomer can rely on: layers that only look down, and no circle.

settings and rules (errors, lifecycle, conf) -> records and the AWS adapter -> probes and checks ->
the engine -> the runner -> commands and admin. A module imports only from its own layer or below.
"""

import ast
from pathlib import Path

import devdb

ROOT = Path(devdb.__file__).parent

LAYERS = [
    {"errors"},  # the one exception family
    {"lifecycle", "output", "parity"},  # pure rules and wording
    {"validators", "conf"},  # settings, declared once
    {"models", "routers", "history", "locks", "signals", "migrations"},  # the control database, signals
    {"aws", "ping"},  # the adapters to outside systems: AWS, the monitoring ping
    {"flavours", "connections", "masking", "rehearsal", "probes", "preflight", "policy",  # SQL to a clone; checks
     "rehearsal_child", "rehearsal_settings", "backends"},  # (migrate in a child process whose default is the copy)
    {"engine"},
    {"runner", "checks", "apps"},
    {"management", "admin"},
]


def unit(path):
    """The top-level unit a module belongs to: devdb/engine/ready.py -> engine."""
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def imports(path):
    """The devdb units `path` imports, wherever in the file (function-level imports included)."""
    package = path.relative_to(ROOT.parent).with_suffix("").parts[:-1]  # ('devdb', 'engine') for engine/x.py
    if path.name == "__init__.py":
        package = path.relative_to(ROOT.parent).parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            if module[:1] != ["devdb"]:
                continue
            if len(module) > 1:
                found.add(module[1])
            else:  # from . import a, b
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("devdb."))
    return found


def graph():
    edges = {}
    for path in ROOT.rglob("*.py"):
        if "templates" in path.parts:
            continue
        edges.setdefault(unit(path), set()).update(imports(path) - {unit(path), "__init__"})
    return edges


def test_every_unit_has_a_layer():
    placed = set().union(*LAYERS)
    assert set(graph()) - {"__init__"} <= placed


def test_imports_only_look_down_the_layers():
    layer = {name: i for i, names in enumerate(LAYERS) for name in names}
    upward = sorted(
        f"{source} imports {target}"
        for source, targets in graph().items() if source in layer
        for target in targets if layer[target] > layer[source]
    )
    assert upward == []


def test_no_import_circle():
    edges = graph()
    state = {}

    def visit(node, path):
        if state.get(node) == "open":
            raise AssertionError("import circle: " + " -> ".join(path[path.index(node):] + [node]))
        if state.get(node) == "done":
            return
        state[node] = "open"
        for target in sorted(edges.get(node, ())):
            visit(target, path + [node])
        state[node] = "done"

    for node in sorted(edges):
        visit(node, [])
