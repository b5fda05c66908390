#!/usr/bin/env bash
# Makes tools/venv with the pinned Python packages and checks the Debian tools the
# recipes call (sox, flac, espeak-ng). Safe to run again: finished parts are skipped.
#
# Usage: tools/install.sh [--python python3.11] [--skip-system]
set -euo pipefail

tools_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root_dir=$(dirname "${tools_dir}")
venv="${tools_dir}/venv"
python=python3
skip_system=false

while [ $# -gt 0 ]; do
    case "$1" in
        --python) python=$2; shift 2 ;;
        --skip-system) skip_system=true; shift ;;
        -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
        *) echo "$0: unknown option $1 (see --help)" >&2; exit 1 ;;
    esac
done

log() { echo "[install] $*"; }

# --- Debian packages -------------------------------------------------------
# command name -> Debian package
declare -A system_tools=([sox]=sox [flac]=flac [espeak-ng]=espeak-ng)
if ! ${skip_system}; then
    missing=()
    for cmd in "${!system_tools[@]}"; do
        command -v "${cmd}" > /dev/null || missing+=("${system_tools[${cmd}]}")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
            log "installing Debian packages: ${missing[*]}"
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null
        else
            echo "[install] missing system packages: ${missing[*]}" >&2
            echo "[install] install them first, e.g.: sudo apt-get install ${missing[*]}" >&2
            echo "[install] (or rerun with --skip-system if you only need training on existing data)" >&2
            exit 1
        fi
    else
        log "system packages present: ${!system_tools[*]}"
    fi
fi

# --- Python virtual environment ---------------------------------------------
if ! "${python}" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    echo "[install] ${python} is not Python 3.11; pass --python /path/to/python3.11" >&2
    exit 1
fi
if [ ! -x "${venv}/bin/python" ]; then
    log "creating ${venv}"
    "${python}" -m venv "${venv}"
fi

# The stamp holds a hash of setup.py: a changed pin reinstalls, an unchanged one is skipped.
stamp="${venv}/.espnet_trinet.stamp"
want=$(cat "${root_dir}/setup.py" | sha256sum | cut -d' ' -f1)
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ] \
        && "${venv}/bin/python" -c 'import espnet_trinet' 2> /dev/null; then
    log "Python environment up to date (${venv})"
else
    # pip>=25 rejects ci_sdr (an espnet==202511 dependency) because its sdist declares
    # a git URL under an extra; pip 24 accepts it.
    "${venv}/bin/python" -m pip install -q --upgrade "pip<25" wheel
    log "installing espnet_trinet and pinned dependencies (first time: a few minutes, ~5 GB)"
    "${venv}/bin/python" -m pip install -q -e "${root_dir}[test]"
    echo "${want}" > "${stamp}"
fi
log "done: activate with 'source ${tools_dir}/activate_python.sh'"
