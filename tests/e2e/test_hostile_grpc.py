"""Hostile gRPC calls against `vernier serve`: wrong and unknown ids, other
trials' tokens, missing tokens, oversized, truncated and garbage messages,
absurd steps, too many measurements, reports after the end. Each gets its
documented status and a message naming the field, and the database is
unchanged (hostile_util.fingerprint before and after)."""
import math
import sqlite3

import grpc
import pytest

from vernier.v1 import service_pb2, study_pb2

from hostile_util import ADMIN, ADMIN_TOKEN, bearer, hostile  # noqa: F401 (fixture)

C = grpc.StatusCode
MAX_MESSAGE = 4 << 20  # the server's default max receive size


def report(trial_id, *steps, metrics=None):
    return service_pb2.ReportMeasurementRequest(trial_id=trial_id, measurements=[
        study_pb2.Measurement(step=step, metrics=metrics or {"score": 1.0}) for step in steps])


def varint(value):
    out = bytearray()
    value &= (1 << 64) - 1
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number, wire_type, payload):
    """One protobuf field: key, then for wire type 2 the length and bytes."""
    key = varint(number << 3 | wire_type)
    if wire_type == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def raw_report(trial_id, step):
    """A ReportMeasurementRequest whose step is any 64-bit pattern."""
    measurement = field(1, 0, varint(step)) + field(
        2, 2, field(1, 2, b"score") + field(2, 1, b"\0" * 8))
    return field(1, 0, varint(trial_id)) + field(2, 2, measurement)


# (id, method, request(h) -> message or bytes, metadata(h), code, message part)
# A message part of None: the call is refused by gRPC itself, whose message
# the server does not write. gRPC C++ answers a request it cannot parse
# (garbage, truncated, a string field that is not UTF-8) with UNIMPLEMENTED
# and no message, before any Vernier code runs (README, "The server").
CASES = [
    # --- TrialService: ids and tokens
    ("get-unknown-trial", "TrialService/GetTrial",
     lambda h: service_pb2.GetTrialRequest(trial_id=987654321), lambda h: bearer(h.a["token"]),
     C.NOT_FOUND, "987654321"),
    ("get-trial-id-zero", "TrialService/GetTrial",
     lambda h: service_pb2.GetTrialRequest(trial_id=0), lambda h: bearer(h.a["token"]),
     C.INVALID_ARGUMENT, "trial_id: must be positive"),
    ("get-trial-id-negative", "TrialService/GetTrial",
     lambda h: service_pb2.GetTrialRequest(trial_id=-5), lambda h: bearer(h.a["token"]),
     C.INVALID_ARGUMENT, "trial_id: must be positive, got -5"),
    ("get-without-token", "TrialService/GetTrial",
     lambda h: service_pb2.GetTrialRequest(trial_id=h.a["id"]), lambda h: (),
     C.PERMISSION_DENIED, "missing trial token"),
    ("get-with-other-trials-token", "TrialService/GetTrial",
     lambda h: service_pb2.GetTrialRequest(trial_id=h.a["id"]), lambda h: bearer(h.b["token"]),
     C.PERMISSION_DENIED, "the token is not trial"),
    ("get-with-admin-token", "TrialService/GetTrial",
     lambda h: service_pb2.GetTrialRequest(trial_id=h.a["id"]), lambda h: ADMIN,
     C.PERMISSION_DENIED, "the token is not trial"),
    ("get-with-basic-scheme", "TrialService/GetTrial",
     lambda h: service_pb2.GetTrialRequest(trial_id=h.a["id"]),
     lambda h: (("authorization", "Basic " + h.a["token"]),),
     C.PERMISSION_DENIED, "missing trial token"),
    ("report-with-other-trials-token", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1), lambda h: bearer(h.b["token"]),
     C.PERMISSION_DENIED, "the token is not trial"),
    ("report-with-token-prefix", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1), lambda h: bearer(h.a["token"][:-1]),
     C.PERMISSION_DENIED, "the token is not trial"),
    ("report-with-token-padded", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1), lambda h: bearer(h.a["token"] + "0"),
     C.PERMISSION_DENIED, "the token is not trial"),
    ("report-without-token", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1), lambda h: (),
     C.PERMISSION_DENIED, "missing trial token"),
    ("report-with-empty-bearer", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1), lambda h: (("authorization", "Bearer "),),
     C.PERMISSION_DENIED, "missing trial token"),
    ("report-with-admin-token", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1), lambda h: ADMIN,
     C.PERMISSION_DENIED, "the token is not trial"),
    ("report-to-finished-trial", "TrialService/ReportMeasurement",
     lambda h: report(h.done["id"], 9), lambda h: bearer(h.done["token"]),
     C.FAILED_PRECONDITION, "is not running (SUCCEEDED)"),
    ("report-to-ask-tell-trial", "TrialService/ReportMeasurement",
     lambda h: report(h.open_id, 1), lambda h: bearer(h.a["token"]),
     C.FAILED_PRECONDITION, "is not running under a worker"),
    ("report-to-unknown-trial", "TrialService/ReportMeasurement",
     lambda h: report(2 ** 62, 1), lambda h: bearer(h.a["token"]),
     C.NOT_FOUND, str(2 ** 62)),
    ("finish-with-other-trials-token", "TrialService/FinishTrial",
     lambda h: service_pb2.FinishTrialRequest(trial_id=h.a["id"], metrics={"score": 9.0}),
     lambda h: bearer(h.b["token"]), C.PERMISSION_DENIED, "the token is not trial"),
    ("finish-finished-trial", "TrialService/FinishTrial",
     lambda h: service_pb2.FinishTrialRequest(trial_id=h.done["id"], metrics={"score": 9.0}),
     lambda h: bearer(h.done["token"]), C.FAILED_PRECONDITION, "is not running (SUCCEEDED)"),
    ("finish-empty-metric-name", "TrialService/FinishTrial",
     lambda h: service_pb2.FinishTrialRequest(trial_id=h.a["id"], metrics={"": 1.0}),
     lambda h: bearer(h.a["token"]), C.INVALID_ARGUMENT, "metrics: a metric name must not be"),
    # --- TrialService: absurd measurements
    ("report-negative-step", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], -1), lambda h: bearer(h.a["token"]),
     C.INVALID_ARGUMENT, "measurements[0].step: must be at least 0, got -1"),
    ("report-step-2^63-on-the-wire", "TrialService/ReportMeasurement",
     lambda h: raw_report(h.a["id"], 2 ** 63), lambda h: bearer(h.a["token"]),
     C.INVALID_ARGUMENT, "measurements[0].step: must be at least 0"),
    ("report-no-measurements", "TrialService/ReportMeasurement",
     lambda h: service_pb2.ReportMeasurementRequest(trial_id=h.a["id"]),
     lambda h: bearer(h.a["token"]), C.INVALID_ARGUMENT, "measurements: must hold at least one"),
    ("report-too-many-measurements", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], *range(1001)), lambda h: bearer(h.a["token"]),
     C.INVALID_ARGUMENT, "measurements: at most 1000 per call, got 1001"),
    ("report-measurement-without-metrics", "TrialService/ReportMeasurement",
     lambda h: service_pb2.ReportMeasurementRequest(
         trial_id=h.a["id"], measurements=[study_pb2.Measurement(step=1)]),
     lambda h: bearer(h.a["token"]), C.INVALID_ARGUMENT,
     "measurements[0].metrics: must hold at least one metric"),
    ("report-empty-metric-name", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1, metrics={"": 1.0}), lambda h: bearer(h.a["token"]),
     C.INVALID_ARGUMENT, "measurements[0].metrics: a metric name must not be empty"),
    ("report-huge-metric-name", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1, metrics={"m" * 100_000: 1.0}), lambda h: bearer(h.a["token"]),
     C.INVALID_ARGUMENT, "measurements[0].metrics: a metric name may have at most 256"),
    # --- Wire-level garbage
    ("report-oversized", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1, metrics={"score": 1.0, "x" * (MAX_MESSAGE + 10): 1.0}),
     lambda h: bearer(h.a["token"]), C.RESOURCE_EXHAUSTED, None),
    ("create-oversized", "StudyService/CreateStudy",
     lambda h: service_pb2.CreateStudyRequest(yaml="#" * (MAX_MESSAGE + 1)), lambda h: ADMIN,
     C.RESOURCE_EXHAUSTED, None),
    ("report-truncated", "TrialService/ReportMeasurement",
     lambda h: report(h.a["id"], 1).SerializeToString()[:-3], lambda h: bearer(h.a["token"]),
     C.UNIMPLEMENTED, None),
    ("report-garbage", "TrialService/ReportMeasurement",
     lambda h: bytes(range(256)), lambda h: bearer(h.a["token"]), C.UNIMPLEMENTED, None),
    ("finish-garbage", "TrialService/FinishTrial",
     lambda h: b"\xff" * 64, lambda h: bearer(h.a["token"]), C.UNIMPLEMENTED, None),
    ("create-yaml-invalid-utf8-on-the-wire", "StudyService/CreateStudy",
     lambda h: field(2, 2, b"name: caf\xe9\n"), lambda h: ADMIN, C.UNIMPLEMENTED, None),
    ("unknown-method", "TrialService/DeleteEverything",
     lambda h: b"", lambda h: ADMIN, C.UNIMPLEMENTED, None),
    ("unknown-service", "AdminService/Shutdown",
     lambda h: b"", lambda h: ADMIN, C.UNIMPLEMENTED, None),
    # --- StudyService: admin token
    ("list-without-admin-token", "StudyService/ListStudies",
     lambda h: service_pb2.ListStudiesRequest(), lambda h: (),
     C.PERMISSION_DENIED, "missing admin token"),
    ("stop-with-wrong-admin-token", "StudyService/StopStudy",
     lambda h: service_pb2.StopStudyRequest(name="held"), lambda h: bearer(ADMIN_TOKEN + "x"),
     C.PERMISSION_DENIED, "wrong admin token"),
    ("stop-with-trial-token", "StudyService/StopStudy",
     lambda h: service_pb2.StopStudyRequest(name="held"), lambda h: bearer(h.a["token"]),
     C.PERMISSION_DENIED, "wrong admin token"),
    ("complete-with-trial-token", "StudyService/CompleteTrial",
     lambda h: service_pb2.CompleteTrialRequest(study="asktell", trial_id=h.open_id,
                                                metrics={"loss": 0.0}),
     lambda h: bearer(h.a["token"]), C.PERMISSION_DENIED, "wrong admin token"),
    ("create-without-admin-token", "StudyService/CreateStudy",
     lambda h: service_pb2.CreateStudyRequest(yaml="name: x"), lambda h: (),
     C.PERMISSION_DENIED, "missing admin token"),
    # --- StudyService: names and ids
    ("get-study-unknown", "StudyService/GetStudy",
     lambda h: service_pb2.GetStudyRequest(name="no-such-study"), lambda h: ADMIN,
     C.NOT_FOUND, "no-such-study"),
    ("get-study-empty-name", "StudyService/GetStudy",
     lambda h: service_pb2.GetStudyRequest(name=""), lambda h: ADMIN,
     C.INVALID_ARGUMENT, "name: must not be empty"),
    ("get-study-huge-name", "StudyService/GetStudy",
     lambda h: service_pb2.GetStudyRequest(name="a" * 1_000_000), lambda h: ADMIN,
     C.INVALID_ARGUMENT, "name: must be at most 256 characters, got 1000000"),
    ("stop-study-huge-name", "StudyService/StopStudy",
     lambda h: service_pb2.StopStudyRequest(name="held" * 100_000), lambda h: ADMIN,
     C.INVALID_ARGUMENT, "name: must be at most 256 characters"),
    ("suggest-huge-client-id", "StudyService/SuggestTrials",
     lambda h: service_pb2.SuggestTrialsRequest(study="asktell", count=1, client_id="c" * 300),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "client_id: must be at most 256 characters, got 300"),
    ("complete-huge-infeasible-reason", "StudyService/CompleteTrial",
     lambda h: service_pb2.CompleteTrialRequest(study="asktell", trial_id=h.open_id,
                                                infeasible=True, infeasible_reason="r" * 3_000_000),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "infeasible_reason: must be at most 4096 characters"),
    ("get-study-sql-quote", "StudyService/GetStudy",
     lambda h: service_pb2.GetStudyRequest(name="held' OR '1'='1"), lambda h: ADMIN,
     C.NOT_FOUND, "held' OR"),
    ("stop-unknown-study", "StudyService/StopStudy",
     lambda h: service_pb2.StopStudyRequest(name="no-such-study"), lambda h: ADMIN,
     C.NOT_FOUND, "no-such-study"),
    ("list-trials-unknown-study", "StudyService/ListTrials",
     lambda h: service_pb2.ListTrialsRequest(study="no-such-study"), lambda h: ADMIN,
     C.NOT_FOUND, "no-such-study"),
    ("suggest-count-zero", "StudyService/SuggestTrials",
     lambda h: service_pb2.SuggestTrialsRequest(study="asktell", count=0, client_id="c9"),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "count: must be between 1 and 1000, got 0"),
    ("suggest-count-negative", "StudyService/SuggestTrials",
     lambda h: service_pb2.SuggestTrialsRequest(study="asktell", count=-2 ** 31, client_id="c9"),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "count: must be between 1 and 1000"),
    ("suggest-count-huge", "StudyService/SuggestTrials",
     lambda h: service_pb2.SuggestTrialsRequest(study="asktell", count=2 ** 31 - 1,
                                                client_id="c9"),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "count: must be between 1 and 1000"),
    ("suggest-without-client-id", "StudyService/SuggestTrials",
     lambda h: service_pb2.SuggestTrialsRequest(study="asktell", count=1),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "client_id: must not be empty"),
    ("suggest-unknown-study", "StudyService/SuggestTrials",
     lambda h: service_pb2.SuggestTrialsRequest(study="no-such-study", count=1, client_id="c9"),
     lambda h: ADMIN, C.NOT_FOUND, "no-such-study"),
    ("suggest-for-worker-study", "StudyService/SuggestTrials",
     lambda h: service_pb2.SuggestTrialsRequest(study="held", count=1, client_id="c9"),
     lambda h: ADMIN, C.FAILED_PRECONDITION, "held"),
    ("complete-other-studys-trial", "StudyService/CompleteTrial",
     lambda h: service_pb2.CompleteTrialRequest(study="asktell", trial_id=h.a["id"],
                                                metrics={"loss": 0.0}),
     lambda h: ADMIN, C.NOT_FOUND, "study asktell has no trial with id"),
    ("complete-completed-trial", "StudyService/CompleteTrial",
     lambda h: service_pb2.CompleteTrialRequest(study="asktell", trial_id=h.completed_id,
                                                metrics={"loss": 0.0}),
     lambda h: ADMIN, C.FAILED_PRECONDITION, "SUCCEEDED"),
    ("complete-without-objective", "StudyService/CompleteTrial",
     lambda h: service_pb2.CompleteTrialRequest(study="asktell", trial_id=h.open_id),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "metrics: must hold the objective"),
    ("complete-trial-id-zero", "StudyService/CompleteTrial",
     lambda h: service_pb2.CompleteTrialRequest(study="asktell", trial_id=0,
                                                metrics={"loss": 0.0}),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "trial_id: must be positive"),
    ("complete-unknown-trial", "StudyService/CompleteTrial",
     lambda h: service_pb2.CompleteTrialRequest(study="asktell", trial_id=2 ** 40,
                                                metrics={"loss": 0.0}),
     lambda h: ADMIN, C.NOT_FOUND, str(2 ** 40)),
    ("create-without-source", "StudyService/CreateStudy",
     lambda h: service_pb2.CreateStudyRequest(), lambda h: ADMIN,
     C.INVALID_ARGUMENT, "source: give spec or yaml"),
    ("create-relative-base-dir", "StudyService/CreateStudy",
     lambda h: service_pb2.CreateStudyRequest(yaml="name: x", base_dir="../.."),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "base_dir: must be an absolute path"),
    ("create-spec-nan-bounds", "StudyService/CreateStudy",
     lambda h: service_pb2.CreateStudyRequest(spec=study_pb2.StudySpec(
         name="nan-bounds",
         objective=study_pb2.ObjectiveSpec(metric="loss", goal=study_pb2.ObjectiveSpec.MINIMIZE),
         parameters=[study_pb2.ParameterSpec(name="x", type=study_pb2.ParameterSpec.DOUBLE,
                                             min=math.nan, max=math.inf)])),
     lambda h: ADMIN, C.INVALID_ARGUMENT, "spec.parameters[0].min: must be a finite number"),
    ("create-existing-name-other-spec", "StudyService/CreateStudy",
     lambda h: service_pb2.CreateStudyRequest(yaml="""name: held
objective: {metric: score, goal: minimize}
parameters: [{name: x, type: double, min: 0, max: 1}]
trials: {max: 1}
worker: {kind: none}
"""), lambda h: ADMIN, C.ALREADY_EXISTS, "held"),
]


@pytest.mark.parametrize("case", CASES, ids=[case[0] for case in CASES])
def test_refused_and_nothing_written(hostile, case):
    _, method, request, metadata, code, message = case
    before = hostile.fingerprint()
    got, details, _ = hostile.call(method, request(hostile), metadata(hostile))
    assert got == code, details
    if message is not None:
        assert message in details
    assert hostile.fingerprint() == before
    assert hostile.server.process.poll() is None


def stream(hostile, messages, metadata):
    """(code, details, acknowledged counts) of a StreamMeasurements call that
    sends `messages` (protos or raw bytes), then half-closes."""
    call = hostile.channel.stream_stream("/vernier.v1.TrialService/StreamMeasurements",
                                         request_serializer=lambda b: b,
                                         response_deserializer=lambda b: b)
    raw = [m if isinstance(m, bytes) else m.SerializeToString() for m in messages]
    acknowledged = []
    try:
        for answer in call(iter(raw), metadata=metadata, timeout=30):
            acknowledged.append(
                service_pb2.StreamMeasurementsResponse.FromString(answer).acknowledged)
        return C.OK, "", acknowledged
    except grpc.RpcError as error:
        return error.code(), error.details(), acknowledged


STREAM_CASES = [
    ("stream-without-token", lambda h: [report(h.a["id"], 1)], lambda h: (),
     C.PERMISSION_DENIED, "missing trial token"),
    ("stream-with-other-trials-token", lambda h: [report(h.a["id"], 1)],
     lambda h: bearer(h.b["token"]), C.PERMISSION_DENIED, "the token is not trial"),
    ("stream-to-finished-trial", lambda h: [report(h.done["id"], 1)],
     lambda h: bearer(h.done["token"]), C.FAILED_PRECONDITION, None),
    ("stream-negative-step", lambda h: [report(h.a["id"], -3)],
     lambda h: bearer(h.a["token"]), C.INVALID_ARGUMENT, "measurements[0].step"),
    ("stream-too-many-measurements", lambda h: [report(h.a["id"], *range(1001))],
     lambda h: bearer(h.a["token"]), C.INVALID_ARGUMENT, "at most 1000"),
    ("stream-oversized-message",
     lambda h: [report(h.a["id"], 1, metrics={"score": 1.0, "x" * (MAX_MESSAGE + 10): 1.0})],
     lambda h: bearer(h.a["token"]), C.RESOURCE_EXHAUSTED, None),
    # gRPC C++ fails the server's read of a message it cannot parse exactly as
    # it ends reads at the client's half-close, so the stream ends OK; what
    # counts is that nothing was acknowledged or written (service.proto).
    ("stream-garbage-message", lambda h: [b"\xff\xff\xff\xff"],
     lambda h: bearer(h.a["token"]), C.OK, None),
]


@pytest.mark.parametrize("case", STREAM_CASES, ids=[case[0] for case in STREAM_CASES])
def test_stream_refused_and_nothing_written(hostile, case):
    _, messages, metadata, code, message = case
    before = hostile.fingerprint()
    got, details, acknowledged = stream(hostile, messages(hostile), metadata(hostile))
    assert got == code, details
    if message is not None:
        assert message in details
    assert acknowledged == []
    assert hostile.fingerprint() == before
    assert hostile.server.process.poll() is None


def test_stream_stores_what_it_acknowledged_before_a_bad_request(hostile):
    """Requests before a refused one are stored and acknowledged; the refused
    one and everything after it are not."""
    code, details, acknowledged = stream(hostile, [
        report(hostile.b["id"], 11), report(hostile.b["id"], 12, 13),
        report(hostile.b["id"], 14, metrics={"": 1.0}), report(hostile.b["id"], 15)],
        bearer(hostile.b["token"]))
    assert code == C.INVALID_ARGUMENT and "measurements[0].metrics" in details, details
    assert acknowledged and acknowledged[-1] == 2
    with sqlite3.connect(hostile.workspace.db) as db:
        steps = sorted({step for (step,) in db.execute(
            "SELECT step FROM measurements WHERE trial_id = ? AND step BETWEEN 11 AND 15",
            (hostile.b["id"],))})
    assert steps == [11, 12, 13]


def test_extreme_but_valid_reports_are_kept_as_reported(hostile):
    """NaN and infinities are values (README: 'Values may be nan or inf') and
    any step from 0 to 2^63-1 is a step: stored as reported, and only the
    report itself is written."""
    before = hostile.fingerprint()
    top = 2 ** 63 - 1
    code, details, _ = hostile.call(
        "TrialService/ReportMeasurement",
        report(hostile.a["id"], 7, top, metrics={"score": math.nan, "extra": -math.inf}),
        bearer(hostile.a["token"]))
    assert code == C.OK, details
    with sqlite3.connect(hostile.workspace.db) as db:
        rows = db.execute("SELECT step, metric, value FROM measurements WHERE trial_id = ?",
                          (hostile.a["id"],)).fetchall()
    assert sorted((step, metric) for step, metric, _ in rows) == [
        (7, "extra"), (7, "score"), (top, "extra"), (top, "score")]
    for _, metric, value in rows:  # storage keeps NaN as NULL
        assert value is None if metric == "score" else value == -math.inf
    after = hostile.fingerprint()
    changed = {table for table in after if after[table] != before[table]}
    assert changed == {"measurements"}, changed
