#!/usr/bin/env bash
# Installs the Debian packages lowbit needs to build, test and run its demo.
# Idempotent: when every package is already installed it makes no apt call at all.
# Works as root or through sudo. Prints what it installs. --bench adds what make bench needs.
set -euo pipefail

packages=(
  g++ cmake make ccache
  libtorch-dev
  libopenblas0-openmp  # LibTorch's matrix products: OpenBLAS (OpenMP, LibTorch's threads) over the reference BLAS
  nlohmann-json3-dev libfmt-dev libboost-program-options-dev doctest-dev
  libcpp-httplib-dev chromium  # lowbit serve, and its real-browser test (tests/browser)
  libsqlite3-dev sqlite3 zlib1g-dev
  gnuplot-nox dataset-fashion-mnist
  git procps
  clang libclang-rt-dev e2fsprogs   # make stress: libFuzzer with sanitizers, chattr
  slurmctld slurmd slurm-client munge  # make test: a throwaway single-node Slurm (tests/slurm)
  texlive-latex-base texlive-latex-recommended  # make test: every report table compiles with pdflatex (booktabs)
  python3-pandas  # make test: every report CSV reads with pandas, in the markdown's units
)

# make bench also compares with Python PyTorch on the same kernels (bench/py_bench.py).
if [ "${1:-}" = "--bench" ]; then packages+=(python3-torch time); fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "install-deps: missing packages (${missing[*]}) and not root, no sudo; install them as root" >&2
  exit 2
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: done"
