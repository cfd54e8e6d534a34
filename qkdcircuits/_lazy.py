"""Lazy package namespaces (PEP 562): public names imported from their module on first use.

A package's ``__init__`` names each public attribute once, with the module that defines it, and
installs the two module-level hooks this module builds::

    __getattr__, __dir__ = lazy_exports(globals(), {".model": ("Model", "build")})

so that ``import package`` stays cheap and ``from package import Model`` imports only the
module that defines ``Model``. Used by the ``__init__`` of :mod:`qkdcircuits`, :mod:`network`
(and its subpackages) and :mod:`rl`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["exported_names", "lazy_exports"]


def exported_names(exports: Mapping[str, Iterable[str]]) -> list[str]:
    """List the public names of a ``{module: names}`` export map, sorted.

    Parameters
    ----------
    exports : Mapping[str, Iterable[str]]
        Module name -> the public names it defines.

    Returns
    -------
    list[str]
        Every name once, sorted (what ``__all__`` holds).

    Raises
    ------
    ValueError
        If two modules export the same name.

    Examples
    --------
    >>> exported_names({".b": ("z", "y"), ".a": ("x",)})
    ['x', 'y', 'z']
    """
    seen: dict[str, str] = {}
    for module, names in exports.items():
        for name in names:
            if name in seen:
                raise ValueError(f"name={name!r} exported by both {seen[name]!r} and {module!r}")
            seen[name] = module
    return sorted(seen)


def lazy_exports(
    namespace: dict[str, Any],
    exports: Mapping[str, Iterable[str]],
    *,
    submodules: Iterable[str] = (),
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Build the module ``__getattr__`` and ``__dir__`` of a package with lazy exports.

    Parameters
    ----------
    namespace : dict[str, Any]
        The package's ``globals()``; an imported name is cached there, so later look-ups do not
        reach ``__getattr__`` again.
    exports : Mapping[str, Iterable[str]]
        Module -> the public names it defines. A module name with a leading dot is relative to
        the package (``".links.params"``), as in :func:`importlib.import_module`.
    submodules : Iterable[str], optional
        Names of subpackages returned as modules (``package.name`` imported on first use).

    Returns
    -------
    tuple[Callable[[str], Any], Callable[[], list[str]]]
        ``(__getattr__, __dir__)``: the first imports a name's module and returns the name, or
        raises ``AttributeError`` naming the package and the name; the second lists the
        package's globals with every lazy name, sorted.

    Raises
    ------
    ValueError
        As :func:`exported_names`, when ``exports`` names one public name twice.

    Examples
    --------
    >>> namespace = {"__name__": "demo"}
    >>> getattr_, dir_ = lazy_exports(namespace, {"json": ("dumps",)}, submodules=("path",))
    >>> getattr_("dumps")([1, 2])
    '[1, 2]'
    >>> "dumps" in namespace  # cached
    True
    >>> dir_()
    ['__name__', 'dumps', 'path']
    >>> getattr_("loads")
    Traceback (most recent call last):
    ...
    AttributeError: module 'demo' has no attribute 'loads'
    """
    package = namespace["__name__"]
    exported_names(exports)  # refuses a name that two modules export
    module_of = {name: module for module, names in exports.items() for name in names}
    submodules = tuple(submodules)

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *module_of, *submodules})

    return __getattr__, __dir__
