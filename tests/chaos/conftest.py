"""Shared set-up of the chaos suites: the end-to-end helpers (workspace,
start_server, Server...) and the --long switch.

Short runs are what CI runs; `--long` (or VERNIER_CHAOS_LONG=1) runs the
long versions, e.g.
    /usr/bin/python3 -m pytest -q tests/chaos/test_crash_consistency.py --long
and `--chaos-seed N` (or VERNIER_CHAOS_SEED) replays one seeded run.
"""
import importlib.util
import os
import sys

import pytest

_E2E = os.path.join(os.path.dirname(__file__), "..", "e2e")
_spec = importlib.util.spec_from_file_location("e2e_support", os.path.join(_E2E, "conftest.py"))
e2e_support = importlib.util.module_from_spec(_spec)
sys.modules["e2e_support"] = e2e_support
_spec.loader.exec_module(e2e_support)

# The e2e fixtures, for the tests of this folder too.
workspace = e2e_support.workspace
start_server = e2e_support.start_server


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true", default=False,
                     help="run the long chaos versions (also VERNIER_CHAOS_LONG=1)")
    parser.addoption("--chaos-seed", type=int, default=None,
                     help="the seed of the kill schedule (also VERNIER_CHAOS_SEED)")


@pytest.fixture
def long_run(request):
    return request.config.getoption("--long") or os.environ.get("VERNIER_CHAOS_LONG") == "1"


@pytest.fixture
def chaos_seed(request):
    seed = request.config.getoption("--chaos-seed")
    if seed is None:
        seed = int(os.environ.get("VERNIER_CHAOS_SEED", "9"))
    return seed
