# The commands a newcomer needs: `make study`, `make check` (seconds) and `make test` (the whole suite, as CI).
# Everything runs inside .venv, created on first use.

PYTHON  ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STUDY   ?= dropout
PROFILE ?= quick
PORT    ?= 5000
BENCH_STUDY ?= capacity
WORKERS ?= 0

.PHONY: study studies confirm scorecard check test bench gpu-check gpu-wheels gpu-study ui validate list clean-state

# Re-install when the package's dependencies change.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

study: $(BIN)/.installed  ## run STUDY (default: dropout) at PROFILE (default: quick); WORKERS=N: N parallel workers
	$(BIN)/suite run $(STUDY) --profile $(PROFILE) --workers $(WORKERS)

studies: $(BIN)/.installed  ## every study at the quick profile, each on its faster executor (suite list), then the scorecard (results/README.md)
	@start=$$(date +%s); \
	$(BIN)/suite run studies/*.yaml --profile quick || exit 1; \
	$(BIN)/suite scorecard; \
	echo "make studies: $$(( ($$(date +%s) - start) / 60 )) min $$(( ($$(date +%s) - start) % 60 )) s of wall time in all"

confirm: $(BIN)/.installed  ## every study again at quick on fresh seeds (suite confirm), then the scorecard's fresh-seeds column
	@start=$$(date +%s); \
	$(BIN)/suite confirm studies/*.yaml --profile quick || exit 1; \
	$(BIN)/suite scorecard; \
	echo "make confirm: $$(( ($$(date +%s) - start) / 60 )) min $$(( ($$(date +%s) - start) % 60 )) s of wall time in all"

scorecard: $(BIN)/.installed  ## rebuild results/README.md from the reports
	$(BIN)/suite scorecard

check: $(BIN)/.installed  ## the fast tier, after every change: statistics, schema, every study validated, golden reports (no training)
	$(BIN)/python -m pytest -m "not slow" -n 2 -q

test: $(BIN)/.installed  ## the whole suite, as CI runs it: the fast tier and the capped end-to-end runs, on 2 workers
	$(BIN)/python -m pytest -n 2

bench: $(BIN)/.installed  ## the suite's overhead, backends, report/resume scaling -> results/bench/ (about 15 min)
	$(BIN)/suite bench $(BENCH_STUDY) --profile $(PROFILE)

gpu-check:  ## on a lent GPU machine (JAX, no TensorFlow): grouped tests and trial-epochs/s by group size -> results/bench/gpu/
	bash suite/bench/gpu_check.sh

# What a lent GPU machine lacks for a whole study (it has JAX with CUDA, pandas, scipy, scikit-learn, matplotlib,
# grpcio, pyarrow, anyio, httpx, but no TensorFlow, Keras, keras-tuner or MLflow): found by running a study in a
# virtualenv holding only that machine's packages plus these (see README, "Whole studies on a GPU").
GPU_WHEELS := keras namex optree pydantic pydantic-core annotated-types typing-inspection mnist1d \
  keras-tuner kt-legacy mlflow-skinny mlflow-tracing sqlalchemy alembic mako cachetools sqlparse \
  opentelemetry-api opentelemetry-sdk opentelemetry-semantic-conventions opentelemetry-proto importlib-metadata \
  fastapi starlette databricks-sdk cryptography cffi tqdm

gpu-wheels: $(BIN)/.installed  ## download here, into .whl/, the wheels a whole study needs on the GPU machine (its Python 3.12, x86-64)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
	  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
	  --platform manylinux_2_34_x86_64 -d .whl \
	  $$($(BIN)/python -c "import importlib.metadata as m, sys; print(' '.join(n + '==' + m.version(n) for n in sys.argv[1:]))" $(GPU_WHEELS))
	@du -sh .whl

gpu-study:  ## on the lent GPU machine: one whole study (STUDY, PROFILE) grouped on JAX, its report to $$OUT (results/gpu/ here)
	bash suite/bench/gpu_study.sh

ui: $(BIN)/.installed  ## MLflow UI on 127.0.0.1:$(PORT) over .suite/mlflow.db
	$(BIN)/suite ui --port $(PORT)

validate: $(BIN)/.installed  ## check every study file without running it
	$(BIN)/suite validate studies/*.yaml

list: $(BIN)/.installed
	$(BIN)/suite list

clean-state:  ## forget every recorded run and tuner state (results/ is kept)
	rm -rf .suite
