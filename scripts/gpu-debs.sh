#!/usr/bin/env bash
# Downloads, here, the Debian packages lowbit builds with (headers, CMake packages and the
# few shared libraries) into DIR (default .gpu-debs, git-ignored), for scripts/gpu-check.sh on
# a lent GPU machine, which has no network: it unpacks them into a prefix of its own. About
# 19 MB, inside the 64 MiB a device call may carry (`carry: [".gpu-debs"]`). Idempotent.
set -euo pipefail
dir=${1:-.gpu-debs}
pkgs=(nlohmann-json3-dev libfmt-dev libfmt9 libboost1.74-dev libboost-program-options1.74-dev
      libboost-program-options1.74.0 libsqlite3-dev libsqlite3-0 zlib1g-dev zlib1g doctest-dev
      libcpp-httplib-dev libcpp-httplib0.11 libssl-dev libssl3 libbrotli-dev libbrotli1)
mkdir -p "$dir"
missing=()
for p in "${pkgs[@]}"; do
  compgen -G "$dir/${p}_*.deb" > /dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  (cd "$dir" && apt-get download "${missing[@]}" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
    { echo "scripts/gpu-debs.sh: apt-get download failed (run apt-get update?)" >&2; exit 1; }
fi
echo "gpu-debs: $(ls "$dir"/*.deb | wc -l) packages, $(du -sh "$dir" | cut -f1) in $dir"
