#!/usr/bin/env bash
# The second build of the matrix (`make test TORCH=pip`): the pinned torch 2.x wheel
# (scripts/torch-pip.txt) in a virtual environment VENV under the build tree, installed once.
# Prints the CMake prefix path that finds its LibTorch: TorchConfig.cmake's folder and the
# torch package itself, so that find_library takes the wheel's libtorch before Debian's.
set -euo pipefail
venv=${1:?usage: scripts/torch-pip.sh VENV_DIR}
pins=$(cd "$(dirname "$0")" && pwd)/torch-pip.txt
want=$(sed -n 's/^torch==//p' "$pins")
where() {  # the torch package's folder, without importing torch
  "$venv/bin/python" -c 'import importlib.util as u; s = u.find_spec("torch"); print(s.submodule_search_locations[0] if s else "")'
}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2 || { echo "scripts/torch-pip.sh: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
fi
have=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("torch"))' 2>/dev/null || true)
if [ "$have" != "$want" ] || [ ! -f "$(where)/share/cmake/Torch/TorchConfig.cmake" ]; then
  echo "torch-pip: installing torch $want and its CUDA libraries into $venv (about 3 GB)" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps -r "$pins" >&2
fi
dir=$(where)
[ -f "$dir/share/cmake/Torch/TorchConfig.cmake" ] || { echo "scripts/torch-pip.sh: no TorchConfig.cmake under $dir" >&2; exit 1; }
echo "$dir/share/cmake;$dir"
