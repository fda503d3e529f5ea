# medimock - `make serve` and `make test` are all a new user needs; both install first.
# Each job is a `medimock` command (see `.venv/bin/medimock COMMAND --help`); the targets only map variables to options.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
MEDIMOCK := $(VENV)/bin/medimock
STAMP  := $(VENV)/.installed

PORT     ?= 8080
API      ?=
TARGET   ?=
USERS    ?= 10
SPAWN_RATE ?= 5
DURATION ?= 30s
WORKERS  ?= 1
FULL     ?=
STRICT   ?=
TEST_WORKERS ?= auto
export PORT

.PHONY: install serve test unit contract load lint bench clean spec-ambra spec-ambra-check mutation mutation-score lint-specs verify-specs diff diff-defects

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "medimock needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -c "from mockserver.spec import available_specs, read_document; [read_document(p) for p in available_specs().values()]"
	@touch $(STAMP)

install: $(STAMP) ## create .venv and install medimock with its dev extras

serve: $(STAMP) ## run the mock with every API on http://127.0.0.1:$(PORT)
	$(MEDIMOCK) serve --port $(PORT) $(if $(filter-out 1,$(WORKERS)),--workers $(WORKERS)) $(ARGS)

# make test                 unit tests, every contract suite against the embedded mock, a Locust smoke run
#                           (pytest-xdist: one worker per CPU, TEST_WORKERS=N for N, TEST_WORKERS=0 for one process;
#                           a contract suite, tests/packaging and each other file stay on one worker: tests/conftest.py)
# make test TARGET=<url>    the contract suites against your server instead (a root with medimock's mounts; API=clarius for one)
test: $(STAMP)
ifeq ($(strip $(TARGET)),)
	$(PY) -m pytest tests contracts --junitxml=reports/junit.xml -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)
else
	MEDIMOCK_TARGET=$(TARGET) $(MEDIMOCK) contract $(if $(API),--api $(API)) --junit reports/junit-contracts.xml \
	  $(if $(STRICT),--strict) $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))
endif

unit: $(STAMP) ## the mock's own tests only
	$(PY) -m pytest tests $(PYTEST_ARGS)

# make contract API=clarius TARGET=https://your-server [FULL=1] [STRICT=1]   (TARGET is that API's base URL)
contract: $(STAMP)
	$(if $(API),,$(error API=clarius|tscharts|radiology|ambra is required))
	$(MEDIMOCK) contract --api $(API) $(if $(TARGET),--target $(TARGET)) $(if $(FULL),--examples 200) $(if $(STRICT),--strict) \
	  $(if $(PYTEST_ARGS),-- $(PYTEST_ARGS))

# make load API=clarius|clarius-research|ambra [TARGET=<url>] [USERS=10] [SPAWN_RATE=5] [DURATION=30s] [WORKERS=N]
#           [THRESHOLDS=loadtests/thresholds.yaml] [MAX_P95_MS=..] [MAX_FAILURE_RATIO=..] [MIN_RPS=..]
load: $(STAMP)
	$(if $(API),,$(error API=clarius|clarius-research|ambra is required))
	$(MEDIMOCK) load --api $(API) $(if $(TARGET),--target $(TARGET)) --users $(USERS) --spawn-rate $(SPAWN_RATE) \
	  --duration $(DURATION) $(if $(filter-out 0 1,$(WORKERS)),--workers $(WORKERS)) $(if $(THRESHOLDS),--thresholds $(THRESHOLDS)) \
	  $(if $(MAX_P95_MS),--max-p95-ms $(MAX_P95_MS)) $(if $(MAX_FAILURE_RATIO),--max-failure-ratio $(MAX_FAILURE_RATIO)) \
	  $(if $(MIN_RPS),--min-rps $(MIN_RPS)) $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

bench: $(STAMP) ## mock vs a static-JSON ceiling under gunicorn; writes benchmarks/RESULTS.md
	$(PY) -m benchmarks.run $(ARGS)

clean:
	rm -rf $(VENV) reports .pytest_cache .hypothesis .schemathesis .mypy_cache .ruff_cache *.egg-info build dist

spec-ambra: $(STAMP) ## regenerate specs/ambra/openapi.yaml from the vendor document
	$(PY) specs/ambra/derive.py

spec-ambra-check: $(STAMP) ## fail when specs/ambra/openapi.yaml is stale
	$(PY) specs/ambra/derive.py --check

# make lint-specs [API=clarius]: Spectral (spectral:oas) and Redocly (recommended), pinned, installed with npm
# into ~/.cache/medimock on first use; fails on any error or warning (.spectral.yaml and redocly.yaml say what is off)
lint-specs: $(STAMP)
	$(PY) -m medimock.spec_lint $(if $(API),--api $(API)) $(ARGS)

# make verify-specs [API=clarius] [ARGS="--seed N --max-time S"]: schemathesis's CLI (st run: every phase, every check,
# specs/schemathesis.toml) against a served mock with the seeded credentials; 100 examples per operation, 300 s of
# fuzzing and stateful rounds per spec, a random seed (make test runs a small budget with a fixed seed)
verify-specs: $(STAMP)
	$(PY) -m medimock.verify_specs $(if $(API),--api $(API)) $(ARGS)

# make diff API=tscharts A=<url> B=<url> [SCENARIO=workflows|recording|property] [RECORDING=file] [FAIL_ON=status,shape]
#   one scenario against two roots (medimock's mounts) in lockstep; the report goes to reports/diff/
diff: $(STAMP)
	$(if $(and $(API),$(A),$(B)),,$(error API=clarius|tscharts|radiology|ambra A=<url> B=<url> are required))
	$(MEDIMOCK) diff --api $(API) --a $(A) --b $(B) $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(RECORDING),--recording $(RECORDING)) \
	  $(if $(FAIL_ON),--fail-on $(FAIL_ON)) $(ARGS)

# make diff-defects: medimock diff of the mock against every `make mutation` defect variant (one diff per API, one B
# per defect, the exact differences of each; also part of make test)
diff-defects: $(STAMP)
	$(PY) -m pytest tests/diff -q -k test_every_defect $(PYTEST_ARGS)

# make mutation [API=clarius]: each API's contract suite against the mock with one deliberate defect at a time
mutation: $(STAMP)
	$(MEDIMOCK) mutation $(if $(API),--api $(API)) --out contracts/MUTATION.md $(ARGS)

# make mutation-score [API=tscharts] [ARGS="--sample 60 --seed 18 --jobs 2"]: cosmic-ray mutates the API's handlers and store
# in a copy of mockserver/, one mutant at a time, and the API's contract suite judges each (default: tscharts and radiology);
# writes reports/mutation-score.md (.json: every mutant's verdict) and its section of contracts/MUTATION.md;
# ARGS="--again contracts/mutation-score.json" judges only the committed run's survivors again (after a suite gained checks)
# (medimock mutation-score --pool REPORT.json... judges nothing: the runs' mutants pooled, each once, with today's declarations)
mutation-score: $(STAMP)
	nice -n 10 $(MEDIMOCK) mutation-score $(if $(API),--api $(API)) --record contracts/MUTATION.md $(ARGS)
