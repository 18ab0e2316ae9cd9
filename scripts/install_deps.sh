#!/usr/bin/env bash
# Installs the build and test dependencies from Debian's packages. Idempotent:
# does nothing when everything is already there.
set -euo pipefail
pkgs=(build-essential cmake ninja-build ccache pkg-config git
      libgtest-dev libgmock-dev nlohmann-json3-dev libpcre2-dev libcli11-dev libicu-dev
      python3 python3-pip unzip)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# python3/pip may come from elsewhere (pyenv): only ask apt when the command is absent.
filtered=()
for p in "${missing[@]}"; do
  case "$p" in
    python3) command -v python3 >/dev/null || filtered+=("$p") ;;
    python3-pip) python3 -m pip --version >/dev/null 2>&1 || filtered+=("$p") ;;
    *) filtered+=("$p") ;;
  esac
done
if ((${#filtered[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "installing: ${filtered[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${filtered[@]}"
fi
