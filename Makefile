PY := .venv/bin/python
.venv/.stamp: pyproject.toml requirements-dev.txt ; python3 -m venv .venv && $(PY) -m pip install -q --upgrade pip && $(PY) -m pip install -q -e . -r requirements-dev.txt && touch $@
venv: .venv/.stamp
lint: .venv/.stamp ; $(PY) -m ruff check . && $(PY) -m ruff format --check .
format: .venv/.stamp ; $(PY) -m ruff check --fix . && $(PY) -m ruff format .
typecheck: .venv/.stamp ; $(PY) -m mypy
test: lint typecheck ; $(PY) -m pytest --cov --cov-report=term
soak: .venv/.stamp ; $(PY) -m pytest tests/reliability --soak --timeout=900 -p no:cov -q -rfE
demo: .venv/.stamp ; $(PY) -m rokt_async.bench --duration 20 --concurrency 64 --faults 504_before=0.02,504_after=0.01,reset_after=0.01
bench: .venv/.stamp ; $(PY) -m pip install -q -r requirements-bench.txt && $(PY) -m benchmarks.bench_overhead && $(PY) -m benchmarks.bench_layers && $(PY) -m benchmarks.bench_codec
.PHONY: venv lint format typecheck test soak demo bench
