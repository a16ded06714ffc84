"""bootstrap.sh layout --link / --clone build the canonical sibling layout."""

from __future__ import annotations

import shutil
import subprocess

from conftest import ROOT, clean_env

from occotool.packages import build_order, discover


def bootstrap(*args, cwd=ROOT):
    return subprocess.run([str(ROOT / "bootstrap.sh"), *args], text=True, capture_output=True,
                          env=clean_env(), cwd=cwd)


def names():
    return [p.directory for p in build_order(discover(ROOT))] + ["tools", "docs"]


def test_link_makes_sibling_references_work(tmp_path):
    target = tmp_path / "occo"
    proc = bootstrap("layout", "--link", str(target))
    assert proc.returncode == 0, proc.stderr
    for name in names():
        assert (target / name).is_symlink()
    # '-e ../util' in the compiler's requirements_test.txt resolves in the new layout
    assert (target / "compiler" / ".." / "util" / "setup.py").is_file()
    again = bootstrap("layout", "--link", str(target))
    assert again.returncode == 0, "linking twice is harmless"


def test_link_refuses_a_missing_package_directory(tmp_path):
    tree = tmp_path / "partial"
    shutil.copytree(ROOT / "tools", tree / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    for name in names():
        if name not in ("tools", "docs", "enactor"):
            shutil.copytree(ROOT / name, tree / name,
                            ignore=shutil.ignore_patterns("env", "wheelhouse", "*.egg-info"))
    (tree / "docs").mkdir()
    # enactor is missing: occo-api's declared dependency cannot be found
    proc = subprocess.run(["python3", str(tree / "tools" / "occo-tool"), "--root", str(tree),
                           "layout", "--link", str(tmp_path / "out")], text=True,
                          capture_output=True, env=clean_env())
    assert proc.returncode == 2
    assert "occo-enactor, which no package directory declares" in proc.stderr


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                   env=clean_env(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org",
                                 GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.org"))


def make_bare_repos(base, only=None):
    for name in only or names():
        work = base / "work" / name
        shutil.copytree(ROOT / name, work, symlinks=True,
                        ignore=shutil.ignore_patterns("env", "wheelhouse", "*.egg-info",
                                                      "__pycache__", "_build"))
        git("init", "-q", "-b", "main", cwd=work)
        git("add", "-A", cwd=work)
        git("commit", "-qm", f"{name}", cwd=work)
        git("clone", "-q", "--bare", str(work), str(base / f"{name}.git"), cwd=base)


def test_clone_from_separate_repositories(tmp_path):
    make_bare_repos(tmp_path / "remote")
    target = tmp_path / "checkout"
    proc = bootstrap("layout", "--clone", str(tmp_path / "remote"), str(target))
    assert proc.returncode == 0, proc.stderr
    for name in names():
        assert (target / name / ".git").is_dir()
    assert (target / "occo-api" / "setup.py").is_file()
    # the cloned layout is itself a working tree the tool understands
    order = subprocess.run(["python3", str(target / "tools" / "occo-tool"), "--root",
                            str(target), "order"], text=True, capture_output=True)
    assert order.returncode == 0 and order.stdout.split()[0] == "util"


def test_clone_names_the_missing_repository(tmp_path):
    make_bare_repos(tmp_path / "remote", only=["util", "tools", "docs"])
    proc = bootstrap("layout", "--clone", str(tmp_path / "remote"), str(tmp_path / "c"))
    assert proc.returncode == 2
    assert "cannot clone: no repository at " in proc.stderr
    for name in ("compiler", "info-broker", "occo-api"):
        assert f"{tmp_path / 'remote'}/{name}.git" in proc.stderr
    assert not (tmp_path / "c").exists(), "nothing is cloned when a repository is missing"
