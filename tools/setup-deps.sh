#!/usr/bin/env bash
#===- tools/setup-deps.sh - install what Tessera needs from Debian --------===#
#
# Idempotent: installs only the Debian packages that are missing. Safe to run
# on every build. Set TESSERA_RUNTIME_ONLY=1 to skip the compiler's packages
# (MLIR/LLVM, ONNX), as on a cluster node that only runs packages.
#
#===----------------------------------------------------------------------===#
set -euo pipefail

# Build tools.
pkgs=(cmake ninja-build ccache pkg-config python3)
# Runtime: BLAS and oneDNN, MPI, package format, tests.
pkgs+=(libopenblas-openmp-dev libdnnl-dev libopenmpi-dev openmpi-bin libflatbuffers-dev
       flatbuffers-compiler libgtest-dev)
if [[ "${TESSERA_RUNTIME_ONLY:-0}" != 1 ]]; then
  # Compiler: MLIR/LLVM 22 (FileCheck, lit, not come with llvm-22-tools),
  # ONNX protobuf classes, the ILP solver used by the sharding search.
  pkgs+=(libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
         libonnx-dev libprotobuf-dev protobuf-compiler libonnx-testdata
         coinor-libcbc-dev)
  # Tests: tessera-inspect's HTML report is rendered by headless Chromium.
  pkgs+=(chromium)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup-deps: all ${#pkgs[@]} packages present"
  exit 0
fi

echo "setup-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
# Only refresh the package lists when a package is unknown to apt.
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
  $SUDO apt-get update -qq
fi
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup-deps: done"
