# Sourced by recipes (as in ESPnet): puts tools/venv first on PATH.
_trinet_tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ ! -x "${_trinet_tools}/venv/bin/python" ]; then
    echo "tools/venv is missing: run ${_trinet_tools}/install.sh first" >&2
    return 1 2> /dev/null || exit 1
fi
# shellcheck disable=SC1091
. "${_trinet_tools}/venv/bin/activate"
# ESPnet's text frontends try to download NLTK data at import; nothing can be fetched here.
export NLTK_DATA="${NLTK_DATA:-${_trinet_tools}/venv/nltk_data}"
# KenLM's lmplz and build_binary, when tools/install_kenlm.sh has built them (asr.sh --use_ngram true).
[ ! -d "${_trinet_tools}/kenlm/bin" ] || export PATH="${_trinet_tools}/kenlm/bin:${PATH}"
unset _trinet_tools
