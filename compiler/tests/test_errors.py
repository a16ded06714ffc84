"""The compiler's error tree: where each error sits, its exit code, its JSON form."""

from __future__ import annotations

import json

from occo.compiler import (
    CompileError,
    CompileErrors,
    DependencyCycleError,
    InvalidModelError,
    NoMatchingImplementationError,
    PluginLoadError,
    TemplateReferenceError,
    UnknownNodeTypeError,
)
from occo.util import InputError, InputErrors, Location, OccoError


def test_the_tree():
    for cls in (CompileErrors, UnknownNodeTypeError, DependencyCycleError,
                NoMatchingImplementationError, TemplateReferenceError):
        assert issubclass(cls, CompileError) and issubclass(cls, InputError)
    assert issubclass(CompileErrors, InputErrors)
    assert issubclass(PluginLoadError, OccoError) and not issubclass(PluginLoadError, InputError)
    assert issubclass(InvalidModelError, OccoError) and not issubclass(InvalidModelError,
                                                                       InputError)


def test_exit_codes_and_json_form():
    cycle = DependencyCycleError("the dependencies form a cycle: a -> b -> a",
                                 cycle=("a", "b", "a"),
                                 location=Location("infra.yaml", 9, 5, "dependencies[0]"))
    ref = TemplateReferenceError("calls getip('x')", target="x", function="getip",
                                 location=Location(path="node_def:t[0].resource"), node="web")
    errors = CompileErrors([cycle, ref], truncated=2)
    assert errors.exit_code == 2 and PluginLoadError("x").exit_code == 1
    data = json.loads(json.dumps(errors.to_dict()))
    assert data == {"error": "CompileErrors", "message": "4 errors", "truncated": 2, "errors": [
        {"error": "DependencyCycleError", "message": "the dependencies form a cycle: a -> b -> a",
         "file": "infra.yaml", "line": 9, "column": 5, "path": "dependencies[0]"},
        {"error": "TemplateReferenceError", "message": "calls getip('x')",
         "path": "node_def:t[0].resource", "node": "web"}]}
    assert str(errors) == ("4 errors:\n"
                           "  infra.yaml:9:5: dependencies[0]: the dependencies form a cycle: "
                           "a -> b -> a\n"
                           "  node_def:t[0].resource: calls getip('x')\n"
                           "  ... and 2 more")
    assert cycle.cycle == ("a", "b", "a") and (ref.target, ref.function) == ("x", "getip")
