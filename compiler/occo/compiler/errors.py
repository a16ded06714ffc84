"""The errors occo.compiler raises, all under :class:`occo.util.errors.OccoError`.

A compile reports every problem it finds in one pass (up to a limit), so the user can fix
a file in one go; the individual problems are :class:`CompileError` s carrying the file,
line, column and YAML path of the offending value, and they travel together in one
:class:`CompileErrors`. The tree::

    OccoError                              (occo.util)
    ├── InputError                         (occo.util) exit 2: the user's input is wrong
    │   └── CompileError                   one problem in a description or node definition
    │       ├── CompileErrors              all problems of one compile (also InputErrors)
    │       ├── UnknownNodeTypeError       a node type with no definition (files searched)
    │       ├── DependencyCycleError       the dependencies form a cycle (the cycle listed)
    │       ├── NoMatchingImplementationError  a node's filter keeps no implementation
    │       ├── TemplateReferenceError     a template names a node that is not a dependency
    │       └── InstanceLimitError         more instances than a node or infrastructure may have
    └── PluginLoadError                    exit 1: an installed plugin could not be loaded

Errors of the YAML loader (``YAMLSyntaxError``, ``ForbiddenTagError``, ``IncludeError``,
``LimitExceededError`` from occo.util) appear unchanged inside :class:`CompileErrors`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from occo.util import InputError, InputErrors, Location, OccoError

__all__ = [
    "CompileError",
    "CompileErrors",
    "UnknownNodeTypeError",
    "DependencyCycleError",
    "NoMatchingImplementationError",
    "TemplateReferenceError",
    "InstanceLimitError",
    "PluginLoadError",
    "InvalidModelError",
]


class CompileError(InputError):
    """One problem found while compiling; ``location`` says where it was written."""


class CompileErrors(InputErrors, CompileError):
    """Every problem found in one compile, reported together.

    ``errors`` holds the individual :class:`~occo.util.errors.InputError` s in the order
    they were found; ``truncated`` counts those left out beyond the limit.
    """

    def __init__(self, errors: Iterable[InputError], *, truncated: int = 0) -> None:
        super().__init__(errors, truncated=truncated)


class UnknownNodeTypeError(CompileError):
    """A node's ``type`` has no node definition; ``searched`` lists where we looked."""

    def __init__(self, message: str, *, node_type: str, searched: Sequence[str],
                 location: Location | None = None, node: str | None = None) -> None:
        super().__init__(message, location=location, node=node)
        self.node_type = node_type
        self.searched = tuple(searched)


class DependencyCycleError(CompileError):
    """The dependencies form a cycle; ``cycle`` is ``(a, b, ..., a)``, each depending on
    the next."""

    def __init__(self, message: str, *, cycle: Sequence[str],
                 location: Location | None = None) -> None:
        super().__init__(message, location=location)
        self.cycle = tuple(cycle)


class NoMatchingImplementationError(CompileError):
    """A node's ``filter`` is not a sub-mapping of any implementation's ``resource``."""


class TemplateReferenceError(CompileError):
    """A template calls ``getip('x')`` (or a sibling) where ``x`` is not a dependency.

    ``target`` is the node named, ``function`` the template function called.
    """

    def __init__(self, message: str, *, target: str, function: str,
                 location: Location | None = None, node: str | None = None) -> None:
        super().__init__(message, location=location, node=node)
        self.target = target
        self.function = function


class InstanceLimitError(CompileError):
    """A description or a scale request asks for more instances than one node or one
    infrastructure may have (:class:`~occo.compiler.limits.InstanceLimits`); the
    location's path names the field (``nodes[0].scaling.max``, ``count``)."""


class PluginLoadError(OccoError):
    """A plugin registered in an entry point group could not be loaded or is not what
    the group promises (an installation problem, not the user's input)."""


class InvalidModelError(OccoError):
    """A dict given to ``from_dict`` is not a compiled model (corrupt or foreign data)."""
