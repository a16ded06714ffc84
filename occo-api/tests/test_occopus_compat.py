"""The Occopus compatibility corpus (tests/compat/*.yaml, see its README.rst): every case
gets the verdict Occopus 1.10 gives it, or names the contract row that says why not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from compat_contract import contract_rows
from e2e import Setup

from occo.compiler import CompileErrors
from occo.compiler.model import StaticDescription

CASES_DIR = Path(__file__).parent / "compat"
CASE_KEYS = {"id", "rule", "occopus", "source", "occo", "description", "description_text",
             "node_definitions", "node_definitions_text", "files", "error", "warning",
             "build", "check"}
SOURCE = re.compile(r"occopus/(compiler|infra-processor|resource-handler|config-manager|"
                    r"util|info-broker|api|enactor) \S+\.py \S+")


def _load_cases() -> list[dict[str, Any]]:
    cases = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()) or ():
            case["_file"] = path.name
            cases.append(case)
    return cases


CASES = _load_cases()


def _default_definitions(description: Any) -> dict[str, Any]:
    types = set()
    if isinstance(description, dict):
        for node in description.get("nodes") or ():
            if isinstance(node, dict) and isinstance(node.get("type"), str):
                types.add(node["type"])
    return {f"node_def:{t}": [{"resource": {"type": "dummy", "create_latency": 0.01}}]
            for t in sorted(types)}


def _write(case: dict[str, Any], root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    infra = root / "infra.yaml"
    if "description_text" in case:
        infra.write_text(case["description_text"])
        parsed = yaml.safe_load(re.sub(r"!{1,2}[^\s\[\]{}]+", "", case["description_text"]))
    else:
        infra.write_text(yaml.safe_dump(case["description"], sort_keys=False))
        parsed = case["description"]
    nodes = root / "nodes" / "node_definitions.yaml"
    nodes.parent.mkdir(exist_ok=True)
    if "node_definitions_text" in case:
        nodes.write_text(case["node_definitions_text"])
    else:
        defs = case.get("node_definitions", _default_definitions(parsed))
        nodes.write_text(yaml.safe_dump(defs, sort_keys=False))
    for name, text in (case.get("files") or {}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return infra


def _lookup(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def test_the_corpus_is_well_formed():
    rows = contract_rows()
    ids = [c.get("id") for c in CASES]
    assert len(CASES) >= 50
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    for case in CASES:
        where = f"{case['_file']}: {case.get('id')}"
        assert set(case) - {"_file"} <= CASE_KEYS, (where, set(case) - CASE_KEYS)
        assert case.get("occopus") in ("accept", "reject"), where
        assert case.get("occo", case["occopus"]) in ("accept", "reject"), where
        assert SOURCE.match(str(case.get("source", ""))), (where, case.get("source"))
        assert case.get("rule") in rows, (where, case.get("rule"))
        if case.get("occo", case["occopus"]) != case["occopus"]:
            assert not rows[case["rule"]].same, (
                f"{where}: OCCO differs from Occopus, so row {case['rule']!r} must say why")
        assert ("description" in case) != ("description_text" in case), where
        if case.get("occo", case["occopus"]) == "reject":
            assert case.get("error"), f"{where}: a rejected case names part of the message"


@pytest.fixture(scope="module")
def occo(tmp_path_factory):
    setup = Setup(tmp_path_factory.mktemp("compat"))
    setup.write_config()
    with setup.occo() as core:
        yield core


@pytest.mark.parametrize("case", CASES, ids=[c.get("id", "?") for c in CASES])
def test_occo_gives_occopus_verdict(case, occo, tmp_path):
    infra = _write(case, tmp_path / "case")
    verdict = case.get("occo", case["occopus"])
    if verdict == "reject":
        with pytest.raises(CompileErrors) as caught:
            occo.validate(infra)
        text = str(caught.value)
        assert case["error"] in text, text
        located = [e for e in caught.value.errors if e.location and e.location.file]
        assert located, f"no error names a file: {text}"
        assert any(e.location.line for e in located), f"no error names a line: {text}"
        return
    try:
        description = occo.validate(infra)
    except CompileErrors as exc:
        pytest.fail(f"Occopus accepts this ({case['source']}), OCCO refused it:\n{exc}")
    if case.get("warning"):
        assert any(case["warning"] in w for w in description.warnings), description.warnings
    compiled = description.to_dict()
    assert StaticDescription.from_dict(compiled) == description
    for dotted, expected in (case.get("check") or {}).items():
        assert _lookup(compiled, dotted) == expected, (dotted, compiled)
    if case.get("build"):
        result = occo.build(infra)
        try:
            assert result["status"] == "ready", result
        finally:
            gone = occo.destroy(result["infra_id"])
            assert gone["status"] == "destroyed", gone
