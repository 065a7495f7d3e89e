# The two commands of the README:  `make report`  (main job)  and  `make test`  (test suite).
# Both set up a fresh machine first: the Debian Fashion-MNIST package (when root) and the package
# with every extra (torch is pinned to 2.13.0, whose CPU wheel the machine image provides).
PYTHON ?= python3
FASHION := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz

.PHONY: setup report test bench docs docs-notebooks

setup:
	@if [ ! -f $(FASHION) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
	      || echo "note: dataset-fashion-mnist could not be installed"; \
	  else echo "note: run 'apt-get install dataset-fashion-mnist' as root for the Fashion-MNIST steps"; fi; \
	fi
	$(PYTHON) -m pip install -q --disable-pip-version-check -e '.[all]'

report: setup
	$(PYTHON) -m rmt_idinit report --out reports/paper

test: setup
	$(PYTHON) -m pytest

# every benchmarks/bench_*.py into benchmarks/results/bench.json, and the README speed table from it
bench: setup
	$(PYTHON) -m benchmarks.run_all

# The documentation (Sphinx + numpydoc + myst-nb), warnings are errors. Notebooks are rendered
# from the executed copies stored in docs/notebooks/; `make docs-notebooks` refreshes them.
docs:
	$(PYTHON) -m sphinx -W --keep-going -b html -q docs docs/_build/html
	@echo "wrote docs/_build/html/index.html"

docs-notebooks:
	$(PYTHON) docs/execute_notebooks.py
