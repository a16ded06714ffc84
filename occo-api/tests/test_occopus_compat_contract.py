"""The compatibility contract (docs/user/occopus-compatibility.rst) cannot go stale: every
key of every schema OCCO checks, every template name, every Occopus REST path and every
occopus-* command has its row, and every row is well formed."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest
from compat_contract import CONTRACT, DOCS, contract_rows

from occo.compiler import load_resource_schemas
from occo.compiler._sections import (
    CONTEXT_SCHEMAS,
    DEPENDENCY_SCHEMA,
    INFRA_SCHEMA,
    MAPPING_SCHEMA,
    NODE_SCHEMA,
    SCALING_SCHEMA,
    health_check_schema,
)
from occo.compiler.compiler import _REFUSED_NAMES
from occo.util.template_names import CONFIG_MANAGER_NAMES, HEALTH_CHECK_NAMES, TEMPLATE_NAMES

ROWS = contract_rows()


def _missing(items: set[str]) -> list[str]:
    return sorted(i for i in items if i not in ROWS)


def test_the_contract_is_in_the_documentation_and_has_its_parts():
    index = (DOCS.parent / "index.rst").read_text()
    assert "user/occopus-compatibility" in index
    files = {row.file for row in ROWS.values()}
    assert {"description.inc", "node-definitions.inc", "rest-commands.inc"} <= files, files
    assert CONTRACT.name in {p.name for p in DOCS.iterdir()}
    assert "occopus-compatibility" in (DOCS / "formats.rst").read_text()


@pytest.mark.parametrize("prefix,schema", [
    ("description", INFRA_SCHEMA), ("node", NODE_SCHEMA), ("scaling", SCALING_SCHEMA),
    ("dependency", DEPENDENCY_SCHEMA), ("mapping", MAPPING_SCHEMA)])
def test_every_key_of_the_description_has_a_row(prefix, schema):
    assert _missing({f"{prefix}.{name}" for name in schema.names}) == []


def test_every_template_name_and_refused_function_has_a_row():
    names = set(TEMPLATE_NAMES) | set(HEALTH_CHECK_NAMES) | set(_REFUSED_NAMES)
    for extra in CONFIG_MANAGER_NAMES.values():
        names |= set(extra)
    assert _missing({f"template.{name}" for name in names}) == []


def test_every_resource_key_of_every_type_has_a_row():
    items = {f"resource.{rtype}.{name}" for rtype, schema in load_resource_schemas().items()
             for name in schema.names}
    assert _missing(items) == []


def test_every_contextualisation_and_health_check_key_has_a_row():
    items = {f"contextualisation.{ctype}" for ctype in CONTEXT_SCHEMAS}
    items |= {f"contextualisation.{ctype}.{name}" for ctype, schema in CONTEXT_SCHEMAS.items()
              for name in schema.names if name != "type"}
    checks = {ep.name for ep in entry_points(group="occo.healthcheck")}
    items |= {f"health_check.{name}" for name in health_check_schema(checks).names}
    assert _missing(items) == []


def test_every_config_manager_type_has_a_row():
    types = {ep.name for ep in entry_points(group="occo.configmanager")} | {"none"}
    assert _missing({f"config_management.{t}" for t in types}) == []


def test_every_occopus_command_has_a_row():
    commands = {ep.name for ep in entry_points(group="console_scripts")
                if ep.name.startswith("occopus-") and ep.value.startswith("occo.api.")}
    assert commands, "the occopus-* commands are not installed"
    assert _missing({f"command.{c}" for c in commands}) == []


def test_every_occopus_rest_path_has_a_row():
    from occo.api.rest import OCCOPUS_ROUTES
    assert _missing({f"rest.{method} {path}" for method, path in OCCOPUS_ROUTES}) == []


def test_a_row_that_differs_says_why():
    for row in ROWS.values():
        if not row.same:
            verdict, _, reason = row.difference.partition(":")
            assert len(reason.split()) >= 4, f"{row.file}: {row.item}: give the reason"
