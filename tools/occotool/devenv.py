"""env/dev: one virtualenv with every package installed editable, in build order, plus
everything their tests need (the union of the requirements_test.txt files, which agree
because they are pinned together)."""

from __future__ import annotations

from pathlib import Path

from .envs import env_dir, make_env
from .packages import Package


def dev_env(root: Path, order: list[Package]) -> Path:
    lines: list[str] = []
    seen: set[str] = set()
    for pkg in order:
        for raw in (pkg.path / "requirements_test.txt").read_text().splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if line.startswith("-e "):
                line = f"-e {(pkg.path / line[3:].strip()).resolve()}"
            if line not in seen:
                seen.add(line)
                lines.append(line)
    # editables first, in build order, then the pinned distributions
    lines.sort(key=lambda l: 0 if l.startswith("-e ") else 1)
    combined = env_dir(root) / "dev-requirements.txt"
    combined.parent.mkdir(parents=True, exist_ok=True)
    combined.write_text("\n".join(lines) + "\n")
    return make_env(root, env_dir(root) / "dev", [combined], cwd=root,
                    stamp_inputs=[p.path / "setup.py" for p in order], seed_pip=True)
