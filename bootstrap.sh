#!/bin/sh
# OCCO's entry point for developers and CI. See README.rst.
#
#   ./bootstrap.sh                      create env/dev and build every wheelhouse, in order
#   ./bootstrap.sh test [PKG...]        run all tests, each package in its own virtualenv
#   ./bootstrap.sh demo [ping] [--keep] build, heal, scale and destroy the demo (--help)
#   ./bootstrap.sh layout --link DIR    link the packages side by side into DIR
#   ./bootstrap.sh layout --clone BASE DIR   clone BASE/<name>.git for each package into DIR
set -eu
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "bootstrap.sh: OCCO needs Python 3.11 or newer as \$PYTHON (now: $PYTHON)" >&2
    exit 2
fi
tool() { "$PYTHON" tools/occo-tool "$@"; }

usage() { sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'; }

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
        # env/dev first (quiet when it is up to date), then the demo in the foreground,
        # so Ctrl-C reaches it and it destroys what it built (see docs/dev/demo.rst)
        [ -x env/dev/bin/python ] || echo "setting up env/dev (every OCCO package, editable; the first time takes a minute or two)"
        tool dev >/dev/null
        exec env/dev/bin/python -m occo.demo "$@"
        ;;
    layout)
        tool layout "$@"
        ;;
    -h|--help|help)
        usage
        ;;
    *)
        usage >&2
        exit 2
        ;;
esac
