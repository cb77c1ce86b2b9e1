#!/usr/bin/env bash
# Refresh constraints.txt: the exact versions that the README's set-up commands and .ci/run install
# (`pip install -c constraints.txt -e '.[test]'`).
#
# It resolves every dependency of pyproject.toml (all extras) and of scripts/constraints-extra.in,
# for every platform and every Python the project supports (>= 3.11), with uv in a throw-away venv.
#
#   scripts/refresh-constraints.sh                      # add what is new, keep every other pin
#   scripts/refresh-constraints.sh --upgrade            # move every pin to its newest release
#   scripts/refresh-constraints.sh --upgrade-package X  # move one package (and what it needs)
#
# Then run the tests (tests/package/test_constraints.py checks the file against pyproject.toml and
# the installed venv) and commit constraints.txt with the change that needed it.
set -euo pipefail
cd "$(dirname "$0")/.."

tool="${TMPDIR:-/tmp}/reconciler-constraints-tool"
[ -x "$tool/bin/uv" ] || { python3 -m venv "$tool" && "$tool/bin/python" -m pip install --quiet "uv==0.13.8"; }

"$tool/bin/uv" pip compile pyproject.toml scripts/constraints-extra.in \
    --all-extras --universal --python-version 3.11 \
    --custom-compile-command "scripts/refresh-constraints.sh" \
    --output-file constraints.txt --quiet "$@"
echo "constraints.txt: $(grep -c '==' constraints.txt) pinned distributions"
