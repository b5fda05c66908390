# Sourced by run.sh: the project's Python environment and the recipe's tools.
MAIN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
export MAIN_ROOT
# shellcheck disable=SC1091
. "${MAIN_ROOT}/tools/activate_python.sh"
export PYTHONIOENCODING=UTF-8
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
