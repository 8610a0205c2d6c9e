"""The keyword arguments a `_target_` takes, read from its source file without importing it.

A loss is open in the schema (each class has its own arguments), so `+loss.scal=2` used to pass every check and
fail as a `TypeError` when the trainer built the loss: after torch was imported and the model loaded, with a
FAILED run left in MLflow. Importing sentence-transformers to ask `inspect.signature` would import torch, so the
signature is read with `ast` from the module's file instead, following `from .x import Name` re-exports and, for
a class without an `__init__` of its own, its base classes. Where the source does not tell (a `**kwargs`, a
compiled module, a name made at run time) the answer is None and nothing is checked; `tests/schema/
test_signatures.py` compares the answers with `inspect.signature` of the imported classes.
"""

from __future__ import annotations

import ast
import functools
import importlib.util
from pathlib import Path

DEPTH = 8  # re-exports and base classes followed before giving up


@functools.cache
def keyword_arguments(target: str) -> frozenset[str] | None:
    """The names `target` (`package.module.Name`) takes as keyword arguments, or None where its source does not
    tell (then any key passes)."""
    module, _, name = target.rpartition(".")
    try:
        return _in_module(module, name, DEPTH)
    except (OSError, SyntaxError, ValueError, ImportError):
        return None


@functools.cache
def _source(module: str) -> tuple[ast.Module, bool] | None:
    """The parsed file of `module` and whether it is a package, found without importing it (nor its parents:
    `importlib.util.find_spec` of a submodule would import its package, and sentence_transformers imports torch)."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return None
    if not spec.submodule_search_locations:
        path, package = (Path(spec.origin), False) if spec.origin and not rest else (None, False)
    else:
        base = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest)
        path, package = next(
            ((p, p.name == "__init__.py") for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()),
            (None, False),
        )
    if path is None or path.suffix != ".py":
        return None
    return ast.parse(path.read_text(encoding="utf-8")), package


def _in_module(module: str, name: str, depth: int) -> frozenset[str] | None:
    found = _source(module)
    if found is None or depth <= 0:
        return None
    tree, package = found
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return _of_class(node, module, package, depth)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return _of_function(node, skip_first=False)
        origin = _imported(node, name, module, package)
        if origin is not None:
            return _in_module(*origin, depth - 1)
    return None


def _imported(node: ast.stmt, name: str, module: str, package: bool) -> tuple[str, str] | None:
    """(module, name) that `from x import name` or `from x import y as name` brings `name` from."""
    if not isinstance(node, ast.ImportFrom):
        return None
    for alias in node.names:
        if (alias.asname or alias.name) == name:
            if node.level:
                parts = module.split(".")
                up = node.level - (1 if package else 0)
                parent = ".".join(parts[: len(parts) - up] if up else parts)
                return (f"{parent}.{node.module}" if node.module else parent), alias.name
            return node.module or "", alias.name
    return None


def _of_class(node: ast.ClassDef, module: str, package: bool, depth: int) -> frozenset[str] | None:
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    if init is not None:
        return _of_function(init, skip_first=True)
    for base in node.bases:  # no __init__ of its own: the first base's, where it can be found
        if isinstance(base, ast.Name):
            return _in_module(module, base.id, depth - 1)
        return None
    return None


def _of_function(node: ast.FunctionDef | ast.AsyncFunctionDef, skip_first: bool) -> frozenset[str] | None:
    if node.args.kwarg is not None:
        return None  # **kwargs: whatever it passes on to is not followed
    named = [a.arg for a in node.args.args][1 if skip_first else 0 :]
    return frozenset(named + [a.arg for a in node.args.kwonlyargs])
