#!/usr/bin/env bash
# End-to-end tests: the real `pagoda serve` on loopback, driven by the official
# openai client and raw HTTP. Usage: tests/e2e/run.sh PAGODA_BIN [pytest args...]
# Creates (once) a venv with the pinned client from tests/requirements-e2e.txt
# in $PAGODA_E2E_VENV (default /work/venvs/e2e, else ~/.cache/pagoda/venvs/e2e).
# Exits 77 (ctest: skipped) with a message when the venv cannot be made.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin=${1:?usage: run.sh PAGODA_BIN [pytest args]}
shift
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
[[ -x $bin ]] || { echo "e2e: $bin is not built"; exit 1; }
default_venv=/work/venvs/e2e
[[ -d /work/venvs || -d $default_venv ]] || default_venv=$HOME/.cache/pagoda/venvs/e2e
venv=${PAGODA_E2E_VENV:-$default_venv}
req=$root/tests/requirements-e2e.txt
stamp=$venv/.pagoda-requirements
if ! cmp -s "$req" "$stamp" 2>/dev/null; then
  echo "e2e: setting up $venv from $req" >&2
  if ! { python3 -m venv "$venv" >/dev/null 2>&1 &&
         "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req" >&2; }; then
    echo "SKIPPED: e2e tests: could not create the venv $venv with the pinned openai client (no PyPI access?)"
    exit 77
  fi
  cp "$req" "$stamp"
fi
export PAGODA_BIN=$bin
export PAGODA_SHARED_DIR=${PAGODA_SHARED_DIR:-$root/../shared}
cd "$root"
"$venv/bin/python" -m pytest -q -p no:cacheprovider "$here" "$@"
