#!/bin/sh
# Upload this package's wheelhouse to the internal index (see ../README.rst, Releasing).
exec "$(dirname "$0")/../tools/occo-tool" upload enactor "$@"
