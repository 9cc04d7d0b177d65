#!/usr/bin/env bash
# make gpu-study STUDY=... PROFILE=...: one whole study on a lent GPU machine, grouped on JAX, in one call.
#
# That machine has JAX (CUDA) but no TensorFlow, Keras, keras-tuner or MLflow, and no network: what it lacks comes
# as wheels in .whl/ (`make gpu-wheels` downloads them here; carry .whl with the call). The study runs as
# `suite run` runs it anywhere: keras-tuner's searches, an MLflow store on SQLite (.suite/ there), the report; with
# no TensorFlow installed the default executor trains every study grouped on JAX (a claim in seconds alone). Its
# report folder (report.md, trials.csv, verdicts.json, the figures) is copied to OUT (default results/gpu), the
# folder the machine hands back, to be committed beside the CPU's. Here, on a CPU, the same script runs with
# JAX_PLATFORMS=cpu, installing nothing that already imports.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
STUDY=${STUDY:-l1_sparsity}
PROFILE=${PROFILE:-quick}
OUT=${OUT:-results/gpu}
NEEDED="keras namex optree pydantic pydantic_core annotated_types typing_inspection mnist1d keras_tuner mlflow \
sqlalchemy alembic mako cachetools sqlparse opentelemetry fastapi starlette databricks cryptography _cffi_backend yaml"

WHO=gpu-study
source suite/bench/gpu_site.sh
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONUNBUFFERED=1
export JAX_PLATFORMS=${JAX_PLATFORMS-}  # set and empty: JAX picks the device it finds
unset KERAS_BACKEND  # the default executor chooses: with no TensorFlow, JAX
$PY -c "import jax; print('gpu-study: JAX', jax.__version__, 'on', jax.devices())"
mkdir -p "$OUT"
start=$(date +%s)
status=0
$PY -m suite run "$STUDY" --profile "$PROFILE" --timings "$OUT/timings-$STUDY-$PROFILE.json" || status=$?
echo "gpu-study: $STUDY [$PROFILE] took $(( $(date +%s) - start )) s of wall time (exit $status)"
mkdir -p "$OUT/$STUDY"
cp -r "results/$STUDY/$PROFILE" "$OUT/$STUDY/" 2>/dev/null || true
exit $status
