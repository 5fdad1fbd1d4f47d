"""The package's imports run one way: no cycles, and no room imports a room above it.

Every `import` of every module is read with `ast`, also those inside functions (lazy imports)
and under `if TYPE_CHECKING:`: a dependency is a dependency, whenever it is paid for. The rooms
and what each may import are the picture in docs/ARCHITECTURE.md.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

PACKAGE = 'emotion_node'
SOURCE = Path(__file__).resolve().parents[1] / PACKAGE

# Modules directly under the package, by room: the shared helpers every room may use, and the
# front door.
TOP_LEVEL_ROOMS = {'cache': 'base', 'package_files': 'base', 'cli': 'front', '__main__': 'front',
                   '__init__': 'base'}
GENERATED = 'msg'  # emotion_node.msg: the generated ROS messages (built by colcon, not here)
GENERATED_PACKAGES = (GENERATED, 'srv')  # ... and services: one room of generated interfaces
ROOMS = ('base', 'skeleton', 'model', 'runtime', 'camera', 'ros', 'training', 'evaluation',
         'bench', 'commands', 'front')
# room -> the rooms it may import (besides itself).
ALLOWED: Dict[str, Set[str]] = {
    'base': set(),
    'skeleton': {'base'},
    'model': {'skeleton', 'base'},
    'runtime': {'model', 'skeleton', 'base'},
    # an RGB camera as a tracker: pose model, placement and ids, tested without ROS
    'camera': {'skeleton', 'base'},
    'ros': {'runtime', 'camera', 'model', 'skeleton', 'base', GENERATED},
    'training': {'model', 'skeleton', 'base'},
    'evaluation': {'training', 'model', 'skeleton', 'base'},
    'bench': {'ros', 'runtime', 'camera', 'training', 'evaluation', 'model', 'skeleton', 'base',
              GENERATED},
    'commands': set(ROOMS) - {'front'},
    'front': {'commands'},
}
# Third-party packages that mean ROS: only ros/ imports them, and bench/, whose node benchmark
# is itself a ROS client (a probe node, message serialization). The core and the research rooms
# run without ROS; commands/ reach it through ros/.
ROS_PACKAGES = {'rclpy', 'rcl_interfaces', 'lifecycle_msgs', 'diagnostic_msgs',
                'visualization_msgs', 'geometry_msgs', 'std_msgs', 'builtin_interfaces',
                'rosgraph_msgs', 'sensor_msgs', 'rosidl_runtime_py', 'launch', 'launch_ros',
                'tf2_ros', 'tf2_msgs', 'hri_msgs'}
ROS_FREE = {'base', 'skeleton', 'model', 'runtime', 'camera', 'training', 'evaluation',
            'commands', 'front'}


def module_name(path: Path, root: Path = SOURCE) -> str:
    """emotion_node/ros/node.py -> emotion_node.ros.node (a package is its __init__)."""
    parts = list(path.relative_to(root.parent).with_suffix('').parts)
    if parts[-1] == '__init__' and len(parts) > 1:
        parts.pop()
    return '.'.join(parts)


def room_of(module: str) -> str:
    """The room a module of ours belongs to (GENERATED for the generated interfaces)."""
    parts = module.split('.')
    if len(parts) == 1:
        return 'base'
    if parts[1] in GENERATED_PACKAGES:
        return GENERATED
    if len(parts) == 2 and parts[1] in TOP_LEVEL_ROOMS:
        return TOP_LEVEL_ROOMS[parts[1]]
    return parts[1]


def imported_names(tree: ast.AST, module: str, is_package: bool) -> Iterator[Tuple[str, int]]:
    """(absolute dotted name, line) of everything a module imports, anywhere in it.

    `from a.b import c` yields `a.b.c` (a module or a name in a.b: resolved later).
    """
    package = module if is_package else module.rpartition('.')[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:  # relative: climb from this module's package
                anchor = package.split('.')
                anchor = anchor[:len(anchor) - node.level + 1]
                base = '.'.join(anchor + ([base] if base else []))
            for alias in node.names:
                yield (f'{base}.{alias.name}' if alias.name != '*' else base), node.lineno


def load_graph(root: Path = SOURCE) -> Tuple[Dict[str, Set[str]], Dict[str, List[tuple]]]:
    """(our module -> our modules it imports, our module -> [(third-party top name, line)])."""
    files = {module_name(p, root): p for p in sorted(root.rglob('*.py'))}
    ours: Dict[str, Set[str]] = defaultdict(set)
    external: Dict[str, List[tuple]] = defaultdict(list)
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding='utf-8'), filename=str(path))
        for name, line in imported_names(tree, module, path.name == '__init__.py'):
            target = _resolve(name, files)
            if target is None:
                external[module].append((name.split('.')[0], line))
            elif target != module:
                ours[module].add(target)
    return ours, external


def _resolve(name: str, files: Dict[str, Path]) -> Optional[str]:
    """Our module a dotted name refers to (its longest module prefix), else None (not ours)."""
    if name.split('.')[0] != PACKAGE:
        return None
    parts = name.split('.')
    if len(parts) > 1 and parts[1] == GENERATED:
        return f'{PACKAGE}.{GENERATED}'
    for end in range(len(parts), 0, -1):
        candidate = '.'.join(parts[:end])
        if candidate in files:
            return candidate
    raise AssertionError(f'{name} is imported but no module of the package defines it')


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Every strongly connected group of more than one module, as a cycle through it."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    groups: List[List[str]] = []

    def visit(v: str) -> None:  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_through(group, graph) for group in groups]


def _cycle_through(group: List[str], graph: Dict[str, Set[str]]) -> List[str]:
    """One import path from the group's first module back to itself, inside the group."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph.get(v, set()) & members):
                if w == start:
                    return paths[v] + [start]
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    return group


def room_violations(graph: Dict[str, Set[str]], external: Dict[str, List[tuple]]) -> List[str]:
    """Every import that runs against the room order, or brings ROS into a ROS-free room."""
    problems = []
    for module, targets in sorted(graph.items()):
        room = room_of(module)
        for target in sorted(targets):
            other = room_of(target)
            if other != room and other not in ALLOWED[room]:
                problems.append(f'{module} ({room}) imports {target} ({other})')
    for module, names in sorted(external.items()):
        if room_of(module) in ROS_FREE:
            problems += [f'{module}:{line} imports {name} (ROS) in a ROS-free room'
                         for name, line in names if name in ROS_PACKAGES]
    return problems


def test_every_module_belongs_to_a_room():
    graph, _ = load_graph()
    rooms = {room_of(m) for m in set(graph) | {t for ts in graph.values() for t in ts}}
    assert rooms <= set(ROOMS) | {GENERATED}, rooms - set(ROOMS)


def test_no_import_cycles():
    graph, _ = load_graph()
    cycles = find_cycles(graph)
    assert not cycles, 'import cycles:\n' + '\n'.join(' -> '.join(c) for c in cycles)


def test_imports_follow_the_room_order():
    graph, external = load_graph()
    problems = room_violations(graph, external)
    assert not problems, '\n'.join(problems)


def test_argparse_and_main_blocks_only_at_the_front_door():
    """commands/ and cli.py hold every option; the node's entry point is the one other main."""
    _, external = load_graph()
    parsers = sorted(m for m, names in external.items() if any(n == 'argparse' for n, _ in names)
                     and room_of(m) not in ('commands', 'front'))
    assert not parsers, f'argparse outside commands/: {parsers}'
    mains = []
    for path in sorted(SOURCE.rglob('*.py')):
        for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
            if isinstance(node, ast.If) and "__name__ == '__main__'" in ast.unparse(node.test):
                mains.append(module_name(path))
    assert mains == [f'{PACKAGE}.ros.node_main'], mains


def _write(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / PACKAGE / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / PACKAGE


@pytest.mark.parametrize('lazy', [False, True])
def test_a_planted_cycle_and_an_upward_import_are_found(tmp_path, lazy):
    """The checks see module-level and function-level imports, relative ones included."""
    indent = 'def f():\n    ' if lazy else ''
    source = _write(tmp_path, {
        '__init__.py': '',
        'model/__init__.py': '',
        'model/a.py': f'{indent}from emotion_node.model import b\n',
        'model/b.py': f'{indent}from . import a\n',
        'runtime/__init__.py': '',
        'runtime/c.py': f'{indent}import rclpy\n',
        'skeleton/__init__.py': '',
        'skeleton/d.py': f'{indent}from emotion_node.ros.node import X\n',
        'ros/__init__.py': '',
        'ros/node.py': 'X = 1\n',
    })
    graph, external = load_graph(source)
    assert find_cycles(graph) == [['emotion_node.model.a', 'emotion_node.model.b',
                                   'emotion_node.model.a']]
    problems = room_violations(graph, external)
    assert problems == [
        'emotion_node.skeleton.d (skeleton) imports emotion_node.ros.node (ros)',
        f'emotion_node.runtime.c:{2 if lazy else 1} imports rclpy (ROS) in a ROS-free room']
