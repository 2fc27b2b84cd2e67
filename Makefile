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
mutate: .venv/.stamp ; $(PY) -m pip install -q -r requirements-mutate.txt && rm -rf mutants && .venv/bin/mutmut run --max-children 2 && .venv/bin/mutmut results --all true | awk -F'[.:]' '{n[$$2]++; n["total"]++; if ($$NF == " killed") {k[$$2]++; k["total"]++}} END {for (m in n) printf "%-12s %4d/%-4d killed %5.1f%%\n", m, k[m], n[m], 100*k[m]/n[m]}' | sort
.PHONY: venv lint format typecheck test soak demo bench mutate
