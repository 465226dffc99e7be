"""Name a user's objective by a SPEC and load it: `file.py:function` or `package.module:function`.

A file is imported under a module name made from its path (so that pickling by
reference finds it again in a spawned worker); errors name the SPEC, the flag it
came from and what to change.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from perfopt.errors import UserError


class ObjectiveError(UserError):
    """The user's objective raised, or returned something Optuna cannot store."""


def is_spec(text: str) -> bool:
    """Whether a --objective value names a function (has a ':') rather than a metric."""
    return ":" in text


def where_raised(exc: BaseException) -> str:
    """'file:line' of the innermost frame of an exception's traceback."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "unknown place"
    last = frames[-1]
    return f"{last.filename}:{last.lineno}"


def last_line(exc: BaseException) -> str:
    """The exception's own last line: 'Type: message'."""
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _module_name(path: Path) -> str:
    # One stable name per file: a second load (or a forked worker) reuses the module.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"perfopt_user_{stem}_{digest}"


def _import_file(path: Path, spec: str, flag: str) -> Any:
    if not path.is_file():
        raise UserError(
            f"{flag} {spec}: file {path} not found; give path/to/file.py:function "
            "(relative to the current folder) or package.module:function"
        )
    name = _module_name(path.resolve())
    if name in sys.modules:
        return sys.modules[name]
    # Like `python file.py`: the file's folder is importable, so its sibling modules are.
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise UserError(f"{flag} {spec}: {path} cannot be imported as Python source")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise UserError(
            f"{flag} {spec}: importing {path} raised {last_line(exc)} (at {where_raised(exc)})"
        ) from exc
    return module


def _import_module(module_name: str, spec: str, flag: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            raise UserError(
                f"{flag} {spec}: no module named {exc.name!r}; give path/to/file.py:function "
                "or an importable package.module:function"
            ) from None
        raise UserError(
            f"{flag} {spec}: importing {module_name} raised {last_line(exc)} (at {where_raised(exc)})"
        ) from exc
    except Exception as exc:
        raise UserError(
            f"{flag} {spec}: importing {module_name} raised {last_line(exc)} (at {where_raised(exc)})"
        ) from exc


def load_callable(spec: str, flag: str = "--objective") -> Callable[..., Any]:
    """Import SPEC ('file.py:function' or 'pkg.module:function') and return the function."""
    target, sep, attr = spec.rpartition(":")
    if not sep or not target.strip() or not attr.strip():
        raise UserError(
            f"{flag} {spec!r}: expected path/to/file.py:function or package.module:function"
        )
    target, attr = target.strip(), attr.strip()
    if target.endswith(".py") or "/" in target or "\\" in target:
        module = _import_file(Path(target).expanduser(), spec, flag)
        where = target
    else:
        module = _import_module(target, spec, flag)
        where = f"module {target}"
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = sorted(
                n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
            )[:12]
            raise UserError(
                f"{flag} {spec}: {where} has no {attr!r}"
                + (f"; its functions: {', '.join(names)}" if names else "")
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise UserError(
            f"{flag} {spec}: {attr} in {where} is a {type(obj).__name__}, not a function"
        )
    return obj


def callable_label(fn: Any) -> str:
    """'module:qualname' of a callable (its name in summaries and the study fingerprint)."""
    module = getattr(fn, "__module__", None) or "?"
    name = getattr(fn, "__qualname__", None) or type(fn).__name__
    return f"{module}:{name}"


def importable_spec(fn: Any) -> str | None:
    """A 'module:qualname' SPEC that imports `fn` in another process, or None."""
    module = getattr(fn, "__module__", None)
    name = getattr(fn, "__qualname__", "")
    if not module or module == "__main__" or module.startswith("perfopt_user_"):
        return None
    if "<" in name:  # lambdas and nested functions
        return None
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except Exception:  # noqa: BLE001 - not importable: the callable travels by pickle
        return None
    return f"{module}:{name}" if obj is fn else None


def takes_two(fn: Callable[..., Any]) -> tuple[bool, bool]:
    """(accepts a second positional argument, requires one)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True, False  # builtins and some C callables: trust the user
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    varargs = any(p.kind == p.VAR_POSITIONAL for p in params)
    required = [p for p in positional if p.default is p.empty]
    return (len(positional) >= 2 or varargs), len(required) >= 2
