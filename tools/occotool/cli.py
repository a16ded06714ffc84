"""Command line of tools/occo-tool. Run with --help for the commands."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import index as index_mod
from . import layout, pins, pythons, static, system, testing
from .devenv import dev_env
from .envs import env_dir
from .errors import ToolError
from .packages import build_order, discover, select
from .paths import find_machine_paths
from .wheels import build_wheelhouse, check_wheels

DEFAULT_ROOT = Path(__file__).resolve().parents[2]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="occo-tool", description=__doc__)
    p.add_argument("--root", type=Path, default=DEFAULT_ROOT,
                   help="the monorepo's top directory (default: this checkout)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("order", help="print the packages in build order")
    dv = sub.add_parser("dev", help="create or update env/dev (every package editable), "
                                    "showing what it installs")
    dv.add_argument("-q", "--quiet", action="store_true",
                    help="print nothing when env/dev is up to date")
    t = sub.add_parser("test", help="run tests, each package in its own virtualenv")
    t.add_argument("packages", nargs="*", help="package directories (default: all, then tools)")
    t.add_argument("--no-tools", action="store_true", help="skip the tool's own tests")
    t.add_argument("--pytest", action="append", default=[], metavar="ARG",
                   help="extra argument for pytest (repeatable)")
    t.add_argument("--also-python", action="append", metavar="3.X",
                   default=os.environ.get("OCCO_ALSO_PYTHONS", "").split(),
                   help="after the full run, each package's fast tests (not marked slow) "
                        "on this other supported Python too (repeatable; default: "
                        "$OCCO_ALSO_PYTHONS, space-separated)")
    sub.add_parser("check-paths", help="fail on an absolute path of a machine in the tree")
    sub.add_parser("static", help="the static checks of the test run: ruff and mypy")
    sub.add_parser("pythons", help="the supported Pythons and where each is found here")
    pn = sub.add_parser("pin", help="regenerate requirements.txt and requirements_test.txt")
    pn.add_argument("packages", nargs="*")
    pn.add_argument("--upgrade", action="store_true",
                    help="resolve afresh (by default the versions pinned now are kept)")
    sub.add_parser("check-pins", help="check every package's requirements files")
    pk = sub.add_parser("package", help="build wheelhouses (what package.sh runs)")
    pk.add_argument("packages", nargs="*")
    pk.add_argument("--all", action="store_true")
    cw = sub.add_parser("check-wheels", help="check built wheels")
    cw.add_argument("wheels", nargs="+", type=Path)
    up = sub.add_parser("upload", help="upload a wheelhouse (what upload.sh runs)")
    up.add_argument("package")
    up.add_argument("--index", help="the index's simple URL (default: $OCCO_INDEX_URL, "
                                    "then the running local index)")
    up.add_argument("--password-file", type=Path)
    ix = sub.add_parser("index", help="start, stop or report the local index")
    ix.add_argument("action", choices=["start", "stop", "status"])
    ix.add_argument("--dir", type=Path, help="where it keeps packages and password "
                                             "(default: env/index)")
    ix.add_argument("--port", type=int, default=None,
                    help="start: serve on this port (0: a free one); default: the port this "
                         "index had before (kept in DIR/server.json), else a free one")
    ly = sub.add_parser("layout", help="lay the packages out side by side in a directory")
    group = ly.add_mutually_exclusive_group(required=True)
    group.add_argument("--link", metavar="DIR", type=Path)
    group.add_argument("--clone", nargs=2, metavar=("BASE", "DIR"))
    return p


def _run(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    packages = discover(root)
    order = build_order(packages)
    if args.command == "order":
        for pkg in order:
            print(f"{pkg.directory:26s} {pkg.dist} {pkg.version}")
    elif args.command == "dev":
        if args.quiet:
            dev_env(root, order, show=None)
        else:
            print("build order: " + ", ".join(p.directory for p in order), flush=True)
            print(f"ready: {dev_env(root, order)}")
    elif args.command == "test":
        chosen = select(packages, args.packages) if args.packages else order
        if any(pkg.directory == "occo-api" for pkg in chosen):
            system.ensure_chromium()   # the dashboard's browser tests
        reports = env_dir(root) / "reports"
        reports.mkdir(parents=True, exist_ok=True)
        others = [pythons.resolve(spec) for spec in dict.fromkeys(args.also_python)]
        outcomes = [testing.check_paths(root)]
        if not args.packages:
            outcomes += [static.check_lint(root), static.check_types(root, packages)]
        outcomes += [testing.test_package(root, packages, pkg, reports, args.pytest)
                     for pkg in chosen]
        if not args.packages and not args.no_tools:
            outcomes.append(testing.test_tools(root, reports, args.pytest))
        for python, version in others:
            if pythons.version_of(sys.executable) == version:
                continue  # the full run was on this one
            outcomes += [testing.test_package(root, packages, pkg, reports,
                                              [*args.pytest, "-m", "not slow"],
                                              python=python, label=version)
                         for pkg in chosen]
        return testing.summarise(outcomes)
    elif args.command == "static":
        return testing.summarise([static.check_lint(root), static.check_types(root, packages)])
    elif args.command == "check-paths":
        found = find_machine_paths(root)
        if found:
            raise ToolError("absolute paths of a machine in the tree:\n  " + "\n  ".join(found))
        print("no absolute path of a machine in the tree")
    elif args.command == "pythons":
        for version in pythons.SUPPORTED:
            print(f"{version}  {pythons.find(version) or 'not found'}")
    elif args.command == "pin":
        pins.pin(root, packages, select(packages, args.packages) if args.packages else order,
                 upgrade=args.upgrade)
    elif args.command == "check-pins":
        problems = [p for pkg in order for p in pins.check(packages, pkg)]
        if problems:
            raise ToolError("requirements files need attention:\n  " + "\n  ".join(problems))
        print(f"requirements files of {len(order)} packages are complete and pinned")
    elif args.command == "package":
        if not args.all and not args.packages:
            raise ToolError("name the packages to build, or --all", 2)
        chosen = order if args.all else select(packages, args.packages)
        print("build order: " + ", ".join(p.directory for p in chosen), flush=True)
        for pkg in chosen:
            build_wheelhouse(root, packages, pkg)
    elif args.command == "check-wheels":
        check_wheels([w.resolve() for w in args.wheels], packages)
        print(f"{len(args.wheels)} wheels pass")
    elif args.command == "upload":
        pkg = select(packages, [args.package])[0]
        index_mod.upload(root, pkg, {p.dist for p in packages.values()},
                         index=args.index, password_file=args.password_file)
    elif args.command == "index":
        directory = (args.dir or index_mod.default_dir(root)).resolve()
        if args.action == "start":
            already = index_mod.running(directory) is not None
            state = index_mod.start(root, directory, args.port)
            print(f"index {'already ' if already else ''}running at {state['simple']} "
                  f"(pid {state['pid']}); upload password in {directory / 'password'}")
        elif args.action == "stop":
            print("stopped" if index_mod.stop(directory) else "no index was running")
        else:
            print(index_mod.status(directory))
    elif args.command == "layout":
        if args.link:
            made = layout.link(root, order, args.link.resolve())
            print(f"linked {len(made)} directories into {args.link}")
        else:
            base, target = args.clone
            made = layout.clone(base, layout.names(order), Path(target).resolve())
            print(f"cloned {len(made)} repositories into {target}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except ToolError as exc:
        print(f"occo-tool: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("occo-tool: interrupted", file=sys.stderr)
        return 130
