"""Hostile study YAML: alias bombs, deep nesting, huge and non-finite numbers,
10 MB strings, bytes that are not UTF-8, duplicate keys, wrong types and
unknown fields. Each file is refused with a message naming the field (or the
position) by `vernier validate` (exit 2) and by the CreateStudy RPC
(INVALID_ARGUMENT), and a refused study leaves the database unchanged."""
import os
import subprocess

import grpc
import pytest

from vernier.v1 import service_pb2

from conftest import VERNIER
from hostile_util import ADMIN, hostile  # noqa: F401 (fixture)

REST = b"""objective: {metric: loss, goal: minimize}
parameters:
  - {name: x, type: double, min: 0, max: 1}
trials: {max: 2}
worker: {kind: none}
"""
# A valid study named `h`: each case breaks it in one place.
VALID = b"name: h\n" + REST


def study(*lines, rest=REST):
    return b"\n".join(lines) + b"\n" + rest


def laughs(indent=b""):
    """Nine levels of nine aliases: 9^9 strings once expanded."""
    lines = [indent + b'a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        refs = b", ".join([b"*a%d" % (i - 1)] * 9)
        lines.append(indent + b"a%d: &a%d [%s]" % (i, i, refs))
    return b"\n".join(lines)


def with_parameter(text):
    return REST.replace(b"{name: x, type: double, min: 0, max: 1}", text)


MIB = 1 << 20
# (id, YAML bytes, part of the message)
CASES = [
    # --- Alias bombs and nesting
    ("laughs-in-settings", b"name: h\nalgorithm:\n  name: random\n  settings:\n"
     + laughs(b"    ") + b"\n" + REST, "too large or too deeply nested"),
    ("laughs-at-top-level", b"name: h\n" + laughs() + b"\n" + REST, "a0: unknown key"),
    ("laughs-in-description", laughs() + b"\nname: h\ndescription: *a9\n" + REST,
     "description: must be a string"),
    ("laughs-in-env", b"name: h\n" + laughs() + b"\n"
     + REST.replace(b"worker: {kind: none}", b"worker: {command: [t], env: {A: *a9}}"),
     "worker.env.A: "),
    ("laughs-in-labels", b"name: h\n" + laughs() + b"\nlabels: {team: *a9}\n" + REST,
     "labels.team: "),
    ("deep-flow-sequences", b"name: " + b"[" * 100_000 + b"]" * 100_000 + b"\n" + REST,
     "YAML syntax error: nested more than 2000 levels deep"),
    ("deep-flow-mappings", b"name: h\ndescription: " + b"{a: " * 5000 + b"1" + b"}" * 5000
     + b"\n" + REST, "YAML syntax error: nested more than 2000 levels deep"),
    ("deep-settings", b"name: h\nalgorithm: {name: random, settings: {a: " + b"[" * 100
     + b"]" * 100 + b"}}\n" + REST, "algorithm.settings.a"),
    # --- Numbers
    ("min-nan", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: .nan, max: 1}")), "parameters[0].min: must be a finite"),
    ("max-inf", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: 0, max: .inf}")), "parameters[0].max: must be a finite"),
    ("min-minus-inf", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: -.Inf, max: 1}")), "parameters[0].min: must be a finite"),
    ("max-1e999", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: 0, max: 1e999}")), "parameters[0].max: must be a finite"),
    ("min-above-max", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: 1e308, max: -1e308}")),
     "parameters[0].max: must be greater than min"),
    ("int-bounds-past-2^53", study(b"name: h", rest=with_parameter(
        b"{name: x, type: int, min: -9223372036854775808, max: 9223372036854775807}")),
     "parameters[0].min: must lie within +/-2^53"),
    ("target-nan", study(b"name: h", rest=REST.replace(
        b"goal: minimize}", b"goal: minimize, target: .nan}")),
     "objective.target: must be a finite number"),
    ("trials-max-huge", study(b"name: h", rest=REST.replace(
        b"max: 2}", b"max: 99999999999999999999999}")),
     "trials.max: must be an integer, not '99999999999999999999999'"),
    ("trials-max-negative", study(b"name: h", rest=REST.replace(b"max: 2}", b"max: -3}")),
     "trials.max: "),
    ("parallel-past-int32", study(b"name: h", rest=REST.replace(
        b"max: 2}", b"max: 2, parallel: 4294967296}")), "trials.parallel: "),
    ("seed-past-uint64", study(b"name: h", b"algorithm: {name: random, seed: 18446744073709551616}"),
     "algorithm.seed: must be a non-negative integer"),
    ("seed-negative", study(b"name: h", b"algorithm: {name: random, seed: -1}"),
     "algorithm.seed: must be a non-negative integer, not '-1'"),
    ("runtime-centuries", study(b"name: h", rest=REST.replace(
        b"max: 2}", b"max: 2, max_runtime: 99999999999999h}")), "trials.max_runtime: "),
    ("grid-points-absurd", study(b"name: h", b"algorithm: {name: grid}", rest=with_parameter(
        b"{name: x, type: double, min: 0, max: 1, grid_points: 2000000000}")),
     "grid_points is over the limit"),
    # --- Big strings
    ("description-10MB", study(b"name: h", b'description: "' + b"A" * (10 * MIB) + b'"'),
     "the study YAML is 10485"),
    ("name-10MB", study(b"name: " + b"a" * (10 * MIB)), "at most 1048576 are read"),
    ("comment-2MB", study(b"name: h", b"# " + b"c" * (2 * MIB)), "at most 1048576 are read"),
    ("description-900KB", study(b"name: h", b"description: " + b"A" * 900_000),
     "description: must be at most 65536 bytes (got 900000)"),
    ("metric-name-300", study(b"name: h", rest=REST.replace(b"metric: loss", b"metric: " + b"m" * 300)),
     "objective.metric: must be at most 256 characters (got 300)"),
    ("name-100", study(b"name: " + b"a" * 100), "name: must be at most 63 characters (got 100)"),
    # --- Bytes that are not UTF-8
    ("latin1-description", study(b"name: h", b'description: "caf\xe9"'),
     "2:18: not UTF-8 (byte 0xe9)"),
    ("latin1-comment", study(b"name: h  # r\xe9sum\xe9"), "1:13: not UTF-8 (byte 0xe9)"),
    ("invalid-utf8-name", study(b"name: h\xff"), "not UTF-8 (byte 0xff)"),
    ("overlong-utf8", study(b"name: h", b'description: "\xc0\xaf"'), "not UTF-8 (byte 0xc0)"),
    ("utf16-with-bom", VALID.decode().encode("utf-16"), "not UTF-8 (byte 0xff)"),
    ("binary-garbage", bytes(range(256)) * 4, "not UTF-8 (byte 0x80)"),
    ("nul-byte", study(b"name: h\x00"), "YAML syntax error"),
    # --- Structure and types
    ("duplicate-key", study(b"name: h", b"name: g"), "name: duplicated key (first at line 1)"),
    ("duplicate-nested-key", study(b"name: h", rest=REST.replace(
        b"max: 2}", b"max: 2, max: 3}")), "trials.max: duplicated key"),
    ("duplicate-parameter", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: 0, max: 1}\n  - {name: x, type: int, min: 0, max: 1}")),
     "parameters[1].name: "),
    ("name-is-list", study(b"name: [a]"), "name: must be a string, not a list"),
    ("parameters-is-mapping", b"name: h\nparameters: {name: x}\n"
     + REST.replace(b"parameters:\n  - {name: x, type: double, min: 0, max: 1}\n", b""),
     "parameters: must be a list"),
    ("trials-max-text", study(b"name: h", rest=REST.replace(b"max: 2}", b"max: many}")),
     "trials.max: must be an integer"),
    ("bound-is-mapping", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: {a: 1}, max: 1}")), "parameters[0].min: "),
    ("unknown-top-field", study(b"name: h", b"run_as_root: true"),
     "run_as_root: unknown key (known keys: name"),
    ("unknown-nested-field", study(b"name: h", rest=with_parameter(
        b"{name: x, type: double, min: 0, max: 1, shell: rm}")),
     "parameters[0].shell: unknown key"),
    ("unknown-type", study(b"name: h", rest=with_parameter(b"{name: x, type: complex, min: 0, max: 1}")),
     "parameters[0].type: "),
    ("empty-file", b"", "the study is empty"),
    ("only-a-comment", b"# nothing\n", "the study is empty"),
    ("two-documents", VALID + b"---\n" + VALID, "only one YAML document"),
    ("scalar-study", b"just text\n", "a study must be a mapping"),
    ("tab-indented", b"name: h\ntrials:\n\tmax: 2\n" + REST.replace(b"trials: {max: 2}\n", b""),
     "tabs"),
    ("reserved-env", study(b"name: h", rest=REST.replace(
        b"worker: {kind: none}", b"worker: {command: [t], env: {VERNIER_TOKEN: stolen}}")),
     "worker.env.VERNIER_TOKEN: names starting with VERNIER_ are set by Vernier itself"),
    ("external-without-endpoint", study(b"name: h", b"algorithm: {name: external}"),
     "algorithm.endpoint: "),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_validate_refuses(tmp_path, case):
    name, text, part = case
    path = tmp_path / "study.yaml"
    path.write_bytes(text)
    result = subprocess.run([VERNIER, "validate", str(path)], capture_output=True, timeout=120)
    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 2, stderr[:2000]
    assert part in stderr, stderr[:2000]
    assert len(stderr) < 64 * 1024  # no 10 MB string echoed back


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_create_study_refuses(hostile, case):
    name, text, part = case
    try:
        text.decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: no proto string can carry it (see test_hostile_grpc.py)")
    request = service_pb2.CreateStudyRequest(yaml=text.decode(), base_dir=hostile.workspace.path)
    before = hostile.fingerprint()
    code, details, _ = hostile.call("StudyService/CreateStudy", request, ADMIN, timeout=120)
    if len(request.SerializeToString()) > 4 << 20:
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    else:
        assert code == grpc.StatusCode.INVALID_ARGUMENT, details
        assert part in details, details[:2000]
    assert hostile.fingerprint() == before


def test_run_writes_no_study_from_a_refused_file(workspace):
    """`vernier run` on a file that is not UTF-8 exits 2 and leaves no study
    in the database (before, such a study was stored and then unreadable)."""
    path = workspace.write_study("x")
    with open(path, "wb") as f:
        f.write(study(b"name: h", b'description: "caf\xe9"').replace(
            b"worker: {kind: none}", b"worker: {command: [/bin/true]}"))
    result = workspace.vernier("run", path, "--db", workspace.db, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "not UTF-8" in result.stderr
    if os.path.exists(workspace.db):
        import sqlite3
        with sqlite3.connect(workspace.db) as db:
            assert db.execute("SELECT COUNT(*) FROM studies").fetchone() == (0,)
