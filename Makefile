# The README's commands. Each sets up .venv first (idempotent; see tools/setup_env.sh).
PY := .venv/bin/python

.PHONY: setup lint test demo

setup:
	bash tools/setup_env.sh

# Style and static checks (ruff.toml): pyflakes, pycodestyle, import order, bugbear.
lint: setup
	.venv/bin/ruff check .

# Unit, integration and learning tests. pytest exits 5 when it collects nothing: that fails too.
test: setup
	$(PY) -m pytest -q tests

# Set up, generate the synthetic MPII data if missing, plan the demo for this machine
# (recipe and epochs within DEMO_BUDGET_MIN, default 12, and the whole run within
# DEMO_TOTAL_MIN, default 20), train it, evaluate it with flip test, print the PCKh table
# and save pictures under work_dirs/demo_hg2_synth_mpii. The script runs the set-up
# itself, so that the deadline counts it.
demo:
	bash tools/run_demo.sh
