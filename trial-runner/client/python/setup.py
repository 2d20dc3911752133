"""Generates the vernier.v1 stubs from the repository's protos/ while building
(they are never committed); everything else is in pyproject.toml.

The compiler is protoc ($PROTOC, or on PATH) with grpc_python_plugin
($VERNIER_GRPC_PYTHON_PLUGIN, on PATH, or /usr/bin); failing that,
grpc_tools.protoc (pip package grpcio-tools). The protos are
read from $VERNIER_PROTO_DIR, default ../../../protos beside this file.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

_HERE = Path(__file__).resolve().parent
_PROTOS = ("vernier/v1/study.proto", "vernier/v1/service.proto")
_GENERATED = ("study_pb2.py", "study_pb2_grpc.py", "service_pb2.py",
              "service_pb2_grpc.py")


def _proto_dir() -> Path:
    proto_dir = Path(os.environ.get("VERNIER_PROTO_DIR") or
                     _HERE.parents[2] / "protos")
    if not (proto_dir / _PROTOS[0]).is_file():
        sys.exit(f"vernier: no {_PROTOS[0]} under {proto_dir}; build from the "
                 "Vernier repository or set VERNIER_PROTO_DIR")
    return proto_dir


def _compiler() -> list:
    protoc = os.environ.get("PROTOC") or shutil.which("protoc")
    plugin = (os.environ.get("VERNIER_GRPC_PYTHON_PLUGIN") or
              shutil.which("grpc_python_plugin"))
    if not plugin and os.access("/usr/bin/grpc_python_plugin", os.X_OK):
        plugin = "/usr/bin/grpc_python_plugin"
    if protoc and plugin:
        return [protoc, f"--plugin=protoc-gen-grpc_python={plugin}"]
    try:
        import grpc_tools  # noqa: F401
        return [sys.executable, "-m", "grpc_tools.protoc"]
    except ImportError:
        sys.exit("vernier: generating the gRPC stubs needs protoc and "
                 "grpc_python_plugin (Debian: protobuf-compiler-grpc) or the "
                 "grpcio-tools package")


class BuildPyWithStubs(build_py):
    """build_py, then protoc into the build tree's vernier/v1/."""

    def run(self):
        super().run()
        out = Path(self.build_lib)
        out.joinpath("vernier", "v1").mkdir(parents=True, exist_ok=True)
        proto_dir = _proto_dir()
        command = _compiler() + [
            f"--proto_path={proto_dir}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            *_PROTOS,
        ]
        self.announce("running " + " ".join(command), level=2)
        subprocess.run(command, check=True)

    def get_outputs(self, include_bytecode=1):
        generated = [
            os.path.join(self.build_lib, "vernier", "v1", name)
            for name in _GENERATED
        ]
        return super().get_outputs(include_bytecode) + generated


# Building in a scratch folder keeps the source tree clean, and no stale copy
# of a removed module can reach a later build.
_scratch = tempfile.mkdtemp(prefix="vernier-build-")
atexit.register(shutil.rmtree, _scratch, ignore_errors=True)

setup(cmdclass={"build_py": BuildPyWithStubs},
      options={
          "build": {"build_base": os.path.join(_scratch, "build")},
          "egg_info": {"egg_base": _scratch},
      })
