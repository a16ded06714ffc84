#!/bin/sh
# Build this package's self-contained wheelhouse (its wheel and every dependency's).
exec "$(dirname "$0")/../tools/occo-tool" package occo-api "$@"
