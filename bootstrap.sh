#!/bin/sh
# OCCO's entry point for developers and CI. See README.rst.
#
#   ./bootstrap.sh                      create env/dev and build every wheelhouse, in order
#   ./bootstrap.sh test [PKG...]        run all tests, each package in its own virtualenv
#   ./bootstrap.sh demo [ping] [--keep] build, heal, scale and destroy the demo (--help)
#   ./bootstrap.sh layout --link DIR    link the packages side by side into DIR
#   ./bootstrap.sh layout --clone BASE DIR   clone BASE/<name>.git for each package into DIR
#   ./bootstrap.sh python               the Python it runs (PYTHON=python3.13 or 3.13 picks one)
set -eu
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
# PYTHON=python3.13 (or 3.13) where python3.13 is not on PATH, or is a pyenv shim of a
# version pyenv has not selected: pyenv's newest 3.13.* (tools/occotool/pythons.py looks
# the same way)
runs() { "$1" -c 'import sys' >/dev/null 2>&1; }
if ! runs "$PYTHON"; then
    version="$(printf '%s' "$PYTHON" | sed -n 's/^\(python\)\{0,1\}\(3\.[0-9][0-9]*\)$/\2/p')"
    if [ -n "$version" ]; then
        for candidate in $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".* 2>/dev/null | sort -t. -k3 -n -r); do
            if runs "$candidate/bin/python$version"; then
                PYTHON="$candidate/bin/python$version"
                break
            fi
        done
    fi
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap.sh: OCCO needs CPython 3.11, 3.12 or 3.13 as \$PYTHON (now: $PYTHON)" >&2
    exit 2
fi
tool() { "$PYTHON" tools/occo-tool "$@"; }

usage() { sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'; }

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
    "")
        echo "build order:"
        tool order
        tool dev
        tool package --all
        ;;
    test)
        tool test "$@"
        ;;
    demo)
        # The demo's command line first, with the standard library alone (from the source
        # tree: occo-demo/occo/demo/options.py), so --help and a usage error answer at
        # once, before env/dev exists. Then env/dev (showing what it installs while it is
        # made; nothing when it is up to date), then the demo in the foreground, so Ctrl-C
        # reaches it and it destroys what it built (see docs/dev/demo.rst).
        status=0
        "$PYTHON" -I -S -c 'import sys; sys.path.insert(0, "occo-demo")
from occo.demo.options import preflight; sys.exit(preflight(sys.argv[1:]))' "$@" || status=$?
        case "$status" in
            0) ;;
            3) exit 0 ;;          # the help was printed: nothing to run
            *) exit "$status" ;;
        esac
        tool dev --quiet
        exec env/dev/bin/python -m occo.demo "$@"
        ;;
    layout)
        tool layout "$@"
        ;;
    python)
        "$PYTHON" -c 'import sys; print(sys.executable, "%d.%d.%d" % sys.version_info[:3])'
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
