# The README's two commands: `make demo` (run the offline default workflow and its report)
# and `make test` (the test suite). Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: setup system-deps test-deps demo report rehearse lint format test test-fast bench clean

setup: $(STAMP) system-deps

$(STAMP): requirements.txt requirements-test.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-test.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

system-deps:
	bash envs/install_debian_packages.sh envs/debian-packages.txt

# The test suite's own system packages (SLURM for tests/test_slurm.py). Without root the
# install fails and those tests skip with the reason; REQUIRE_SLURM=1 (.ci/run) makes that a failure.
test-deps:
	-bash envs/install_debian_packages.sh envs/debian-test-packages.txt

demo: setup
	$(BIN)/snakemake --cores $(CORES)
	$(BIN)/snakemake --report results/report.html
	@echo "Tables: results/*/*.md   Report: results/report.html"

report: setup
	$(BIN)/snakemake --report results/report.html

# The paper configuration, shrunk (config/rehearsal.yaml), on miniatures of every download
# served on loopback: builds the miniatures once (.rehearsal/mini), runs everything in
# .rehearsal/run, checks every rule ran and every table cell is filled, builds the report,
# and stops the server whatever happened.
rehearse: setup
	PYTHONPATH=src $(BIN)/python -m cnnpractice.rehearsal.run --dir .rehearsal --cores $(CORES) --report

# Formatting and lint are tools' jobs (ruff for Python, snakefmt for the rules); `make format` fixes.
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile rules

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/snakefmt Snakefile rules

test: setup test-deps lint
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# The CPU benches in quick mode (minutes on 2 cores); README.md (Benchmarks) lists the others.
bench: setup
	$(BIN)/python bench/training_efficiency.py --quick
	$(BIN)/python bench/transforms.py --repeats 3
	$(BIN)/python bench/training_overhead.py --repeats 1

clean:
	rm -rf results logs benchmarks .snakemake
