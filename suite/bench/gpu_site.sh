# Sourced by gpu_check.sh and gpu_study.sh: on the lent GPU machine (no network), install from .whl/ what the
# modules NEEDED lacks (`make gpu-wheels` downloads the wheels here; carry .whl with the call), into /tmp/site on
# PYTHONPATH; where every module already imports (a CPU with the package installed), install nothing.
# Needs: PY (the Python), NEEDED (module names), WHO (the script's name, for its one-line error).
missing=$($PY - "$NEEDED" <<'PYTHON'
import importlib.util, sys
print(" ".join(m for m in sys.argv[1].split() if importlib.util.find_spec(m) is None))
PYTHON
)
if [ -n "$missing" ]; then
    if ! ls .whl/*.whl >/dev/null 2>&1; then
        echo "$WHO: missing $missing and no wheels in .whl/ (run make gpu-wheels here, carry .whl)" >&2
        exit 2
    fi
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
