#!/usr/bin/env bash
# Installs the Debian packages visbench needs, and nothing when all are
# present. Usage: scripts/deps.sh [core|bench|all]   (default: core)
#   core   build, run and test (make, make test, make demo)
#   bench  the peers the benchmarks compare against (scikit-learn, OpenCV, ...)
set -u
group=${1:-core}
core=(gcc make pkg-config
      libsvm-dev libvlfeat-dev libgsl-dev libstb-dev libopenblas-dev libfyaml-dev
      libsqlite3-dev sqlite3 zlib1g-dev libcmocka-dev dataset-fashion-mnist
      chromium   # chromium: make test opens the HTML report in it (tests/e2e/browser.sh)
      openmpi-bin libopenmpi-dev  # visbench run --mpi (mpicc, mpirun; tests/e2e/scale.sh)
      slurm-wlm   # tests/e2e/scale.sh submits a real job array to a one-node cluster
      libxgboost-dev  # the boost classifier (XGBoost's C API)
      clang libomp-dev libclang-rt-dev)  # make CC=clang (libomp: its OpenMP) and make fuzz (libFuzzer, sanitizers)
bench=(bc python3 python3-numpy python3-opencv python3-sklearn python3-skimage python3-torch python3-xgboost xgboost hyperfine)
case "$group" in
  core) want=("${core[@]}") ;;
  bench) want=("${bench[@]}") ;;
  all) want=("${core[@]}" "${bench[@]}") ;;
  *) echo "deps: unknown group '$group' (core, bench, all)" >&2; exit 2 ;;
esac
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#want[@]} $group packages are installed"
  exit 0
fi
cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: install them as root, then run make again:" >&2
  echo "  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
sh -c "$cmd" || { echo "deps: apt-get failed; see its messages above" >&2; exit 1; }
