#!/usr/bin/env bash
# Installs KenLM for asr.sh --use_ngram true: the kenlm Python module into tools/venv (ESPnet's
# n-gram scorer imports it) and lmplz + build_binary into tools/kenlm/bin (path.sh puts it on PATH).
# Both come from the one kenlm==0.3.0 sdist. Safe to run again: finished parts are skipped.
#
# Usage: tools/install_kenlm.sh [--jobs 2] [--skip-system]
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
venv="${tools_dir}/venv"
kenlm_dir="${tools_dir}/kenlm"
version=0.3.0
# The sdist's hash as PyPI serves it: the C++ build below does not go through pip's own check.
sdist_sha256=c4628bb9fb63c8a6f9240035b8b037385cfc404cb72e933cf48878291edac1e8
max_order=6  # highest n-gram order the binaries and the module accept (asr.sh --ngram_num)
jobs=2
skip_system=false

while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs=$2; shift 2 ;;
        --skip-system) skip_system=true; shift ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "$0: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done

log() { echo "[install_kenlm] $*"; }

stamp="${kenlm_dir}/.done"
want="kenlm==${version} max_order=${max_order}"
module_ok() {
    "${venv}/bin/python" -c "import importlib.metadata as m, kenlm, sys
sys.exit(m.version('kenlm') != '${version}')" 2> /dev/null
}
binaries_ok() { [ -x "${kenlm_dir}/bin/lmplz" ] && [ -x "${kenlm_dir}/bin/build_binary" ]; }

if [ ! -x "${venv}/bin/python" ]; then
    echo "[install_kenlm] ${venv} is missing: run ${tools_dir}/install.sh first" >&2
    exit 1
fi
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ] && module_ok && binaries_ok; then
    log "KenLM ${version} up to date (${kenlm_dir}/bin, kenlm module in ${venv})"
    exit 0
fi

# --- Debian packages -------------------------------------------------------
# lmplz needs Boost; CMake's find_package asks for unit_test_framework too, even without tests.
debs=(cmake g++ make libboost-program-options-dev libboost-system-dev libboost-thread-dev libboost-test-dev)
if ! ${skip_system} && command -v dpkg-query > /dev/null; then
    missing=()
    for deb in "${debs[@]}"; do
        dpkg-query -W -f='${Status}' "${deb}" 2> /dev/null | grep -q "install ok installed" || missing+=("${deb}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
            log "installing Debian packages: ${missing[*]}"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
        else
            echo "[install_kenlm] missing system packages: ${missing[*]}" >&2
            echo "[install_kenlm] install them first, e.g.: sudo apt-get install ${missing[*]}" >&2
            echo "[install_kenlm] (or rerun with --skip-system if Boost and CMake are installed otherwise)" >&2
            exit 1
        fi
    else
        log "system packages present: ${debs[*]}"
    fi
fi

# --- Source ------------------------------------------------------------------
src="${kenlm_dir}/src/kenlm-${version}"
if [ ! -f "${src}/CMakeLists.txt" ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "${tmp}"' EXIT
    # --no-binary kenlm, not :all:, which would also build kenlm's build requirements (cmake) from source.
    log "downloading the kenlm==${version} sdist"
    "${venv}/bin/python" -m pip download -q --no-deps --no-binary kenlm "kenlm==${version}" -d "${tmp}"
    sdist="${tmp}/kenlm-${version}.tar.gz"
    echo "${sdist_sha256}  ${sdist}" | sha256sum -c --quiet -
    mkdir -p "${kenlm_dir}/src"
    rm -rf "${src}"
    tar -xzf "${sdist}" -C "${kenlm_dir}/src"
    # setup.py hard-codes make -j4; keep to the cores asked for.
    sed -i -E "s/\"-j[0-9]+\"/\"-j${jobs}\"/" "${src}/setup.py"
fi

# --- Python module -------------------------------------------------------------
if module_ok; then
    log "kenlm ${version} Python module present"
else
    log "building the kenlm Python module (a few minutes)"
    MAX_ORDER=${max_order} "${venv}/bin/python" -m pip install -q "${src}"
    module_ok || { echo "[install_kenlm] kenlm ${version} does not import after installing it" >&2; exit 1; }
fi

# --- lmplz and build_binary ------------------------------------------------------
if binaries_ok; then
    log "lmplz and build_binary present in ${kenlm_dir}/bin"
else
    log "building lmplz and build_binary (a few minutes)"
    cmake -S "${src}" -B "${kenlm_dir}/build" -DCMAKE_BUILD_TYPE=Release -DKENLM_MAX_ORDER=${max_order} \
        > "${kenlm_dir}/cmake.log" 2>&1 \
        || { echo "[install_kenlm] cmake failed, see ${kenlm_dir}/cmake.log" >&2; exit 1; }
    make -C "${kenlm_dir}/build" -j"${jobs}" lmplz build_binary > "${kenlm_dir}/make.log" 2>&1 \
        || { echo "[install_kenlm] make failed, see ${kenlm_dir}/make.log" >&2; exit 1; }
    mkdir -p "${kenlm_dir}/bin"
    install -m 755 "${kenlm_dir}/build/bin/lmplz" "${kenlm_dir}/build/bin/build_binary" "${kenlm_dir}/bin/"
fi

echo "${want}" > "${stamp}"
log "done: ${kenlm_dir}/bin is on PATH after 'source ${tools_dir}/activate_python.sh'"
