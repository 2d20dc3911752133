"""`pip install` of the package from a checkout, offline."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
PACKAGE = Path("trial-runner", "client", "python")


def test_pip_install_generates_the_stubs_and_imports(tmp_path):
    # A copy of the checkout's two relevant folders, so that the build runs
    # exactly as from the repository without touching it.
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO / "protos", checkout / "protos")
    shutil.copytree(REPO / PACKAGE, checkout / PACKAGE,
                    ignore=shutil.ignore_patterns("tests", "__pycache__",
                                                  "build", "*.egg-info"))
    before = sorted(p.name for p in (checkout / PACKAGE).iterdir())
    target = tmp_path / "site"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([
        sys.executable, "-m", "pip", "install", "--no-deps",
        "--no-build-isolation", "--no-index", "--disable-pip-version-check",
        "--quiet", "--target",
        str(target),
        str(checkout / PACKAGE)
    ], check=True, env=env, cwd=tmp_path)

    probe = subprocess.run([
        sys.executable, "-c",
        "import vernier, vernier.v1.service_pb2_grpc as g; "
        "print(vernier.__file__); print(g.TrialServiceStub.__name__)"
    ], check=True, capture_output=True, text=True, cwd=tmp_path,
        env=dict(env, PYTHONPATH=str(target)))
    module_file, stub = probe.stdout.split()
    assert Path(module_file).parent == target / "vernier"
    assert stub == "TrialServiceStub"
    # Nothing generated lands in the source folder.
    assert sorted(p.name for p in (checkout / PACKAGE).iterdir()) == before
