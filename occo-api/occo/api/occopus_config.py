"""Reading Occopus's ``occopus_config.yaml`` for the settings OCCO can use, safely.

That file configures Occopus's components with custom tags (``!python_import`` imports the
modules it lists; ``!ResourceHandler``, ``!UDS``, ... construct objects). OCCO never
constructs any of them: the file is *composed* with PyYAML's ``SafeLoader`` (which builds
the node tree and resolves plain scalars' types, but constructs nothing) and only plain
scalars are picked from that tree:

- ``components.rest.host`` and ``.port`` -> OCCO's ``rest`` section;
- ``components.uds`` with ``protocol: redis`` (``host``, ``port``, ``db``) -> the state store
  ``redis://host:port/db``, so that a user's Occopus set-up keeps its Redis.

The ``!python_import`` list and every other component are ignored with a warning. The
values are laid over OCCO's own configuration (``occo.yaml`` if there is one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode

from occo.util import ConfigError, Location, YAMLSyntaxError

from .config import Config, load_config

__all__ = ["is_occopus_config", "load_occopus_config", "load_cfg", "MAX_BYTES"]

MAX_BYTES = 1024 * 1024
INT = "tag:yaml.org,2002:int"
STR = "tag:yaml.org,2002:str"
USED = ("rest", "uds")


def _where(path: Path, node: Node, yaml_path: str) -> Location:
    return Location(file=str(path), line=node.start_mark.line + 1,
                    column=node.start_mark.column + 1, path=yaml_path)


def _compose(path: Path) -> Node | None:
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise ConfigError(f"configuration file is larger than {MAX_BYTES} bytes",
                              location=Location(file=str(path)))
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the configuration file: {exc.strerror or exc}",
                          location=Location(file=str(path))) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError("the configuration file is not UTF-8 text",
                          location=Location(file=str(path))) from exc
    try:
        # compose, never construct: custom tags stay names on the nodes
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YAMLSyntaxError(f"invalid YAML: {exc.problem or exc}", location=Location(
            file=str(path), line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None)) from None
    except yaml.YAMLError as exc:
        raise YAMLSyntaxError(f"invalid YAML: {exc}", location=Location(file=str(path))) \
            from None


def _items(node: Node | None) -> dict[str, tuple[Node, Node]]:
    """A mapping node's entries with plain string keys: ``{key: (key node, value node)}``."""
    if not isinstance(node, MappingNode):
        return {}
    out = {}
    for key, value in node.value:
        if isinstance(key, ScalarNode) and key.tag == STR:
            out[key.value] = (key, value)
    return out


def is_occopus_config(path: str | Path) -> bool:
    """Whether ``path`` looks like Occopus's configuration rather than OCCO's ``occo.yaml``."""
    root = _compose(Path(path))
    top = _items(root)
    return "components" in top or "plugins" in top or (
        root is not None and _has_custom_tag(root, limit=10_000))


def _has_custom_tag(node: Node, limit: int) -> bool:
    seen: set[int] = set()
    stack = [node]
    while stack and len(seen) < limit:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if current.tag.startswith("!"):
            return True
        if isinstance(current, MappingNode):
            stack.extend(v for pair in current.value for v in pair)
        elif not isinstance(current, ScalarNode):
            stack.extend(current.value)
    return False


def _scalar(path: Path, node: Node, yaml_path: str, kind: str) -> Any:
    if not isinstance(node, ScalarNode) or node.tag not in (INT, STR):
        raise ConfigError(f"must be a plain {'integer' if kind == INT else 'string'}",
                          location=_where(path, node, yaml_path))
    if kind == INT:
        if node.tag != INT:
            raise ConfigError(f"must be an integer, got {node.value!r}",
                              location=_where(path, node, yaml_path))
        return int(node.value.replace("_", ""), 0)
    return node.value


def load_occopus_config(path: str | Path) -> tuple[dict[str, Any], list[str]]:
    """The OCCO settings found in an Occopus configuration file, and warnings to show."""
    path = Path(path)
    root = _compose(path)
    if not isinstance(root, MappingNode):
        raise ConfigError("an Occopus configuration must be a mapping",
                          location=Location(file=str(path)))
    top = _items(root)
    warnings: list[str] = []
    if "plugins" in top:
        key, value = top["plugins"]
        count = len(value.value) if not isinstance(value, ScalarNode) else 1
        warnings.append(f"{_where(path, key, 'plugins')}: ignoring the {value.tag} list "
                        f"({count} module(s)): OCCO finds its plugins through entry points "
                        "and never imports what a configuration names")
    values: dict[str, Any] = {}
    components = _items(top["components"][1]) if "components" in top else {}
    if "rest" in components:
        rest = _items(components["rest"][1])
        section: dict[str, Any] = {}
        if "host" in rest:
            section["host"] = _scalar(path, rest["host"][1], "components.rest.host", STR)
        if "port" in rest:
            port = _scalar(path, rest["port"][1], "components.rest.port", INT)
            if not 0 <= port <= 65535:
                raise ConfigError(f"must be a port number (0-65535), got {port}",
                                  location=_where(path, rest["port"][1],
                                                  "components.rest.port"))
            section["port"] = port
        values["rest"] = section
    if "uds" in components:
        uds = _items(components["uds"][1])
        protocol = uds.get("protocol")
        kind = _scalar(path, protocol[1], "components.uds.protocol", STR) if protocol else None
        if kind == "redis":
            host = _scalar(path, uds["host"][1], "components.uds.host", STR) \
                if "host" in uds else "localhost"
            port = _scalar(path, uds["port"][1], "components.uds.port", INT) \
                if "port" in uds else 6379
            db = _scalar(path, uds["db"][1], "components.uds.db", INT) if "db" in uds else 0
            values["store"] = {"backend": "redis", "url": f"redis://{host}:{port}/{db}"}
        else:
            warnings.append(f"{_where(path, components['uds'][0], 'components.uds')}: the "
                            f"{kind or 'default'} uds protocol has no OCCO store; using "
                            "OCCO's configured store")
    ignored = sorted(name for name in components if name not in USED)
    if ignored:
        warnings.append(f"{path}: ignoring the components {', '.join(ignored)} (OCCO "
                        "configures its parts in occo.yaml)")
    return values, warnings


def load_cfg(path: str | Path | None) -> tuple[Config, list[str]]:
    """The configuration for an ``occopus-*`` command given ``--cfg PATH``: OCCO's own
    ``occo.yaml`` as is, or Occopus's file's settings laid over OCCO's default file."""
    if path is None or not is_occopus_config(path):
        return load_config(path), []
    picked, warnings = load_occopus_config(path)
    base = load_config(None)
    values = dict(base.values)
    if "rest" in picked:
        values["rest"] = {**base.section("rest"), **picked["rest"]}
    if "store" in picked:
        values["store"] = {**base.section("store"), **picked["store"]}
    return Config(str(path), values), warnings
