"""The client against a real gRPC server with in-memory services."""

import math
import shutil
import socket
import subprocess

import grpc
import pytest

import vernier
from fake_server import FakeVernier, ask_tell_spec, number, serve, text
from vernier.v1 import study_pb2

FAST = vernier.RetryPolicy(initial_backoff=0.01, max_backoff=0.05,
                           deadline=10.0)
NO_RETRY = vernier.RetryPolicy(deadline=0.0)


@pytest.fixture
def fake():
    return FakeVernier()


@pytest.fixture
def endpoint(fake):
    with serve(fake) as address:
        yield address


@pytest.fixture
def trial_env(fake, endpoint, monkeypatch):
    """The environment a worker of trial 7 gets."""
    Spec = study_pb2.ParameterSpec
    specs = [
        Spec(name="lr", type=Spec.DOUBLE, min=1e-4, max=1, scale=Spec.LOG),
        Spec(name="layers", type=Spec.INT, min=1, max=128),
        Spec(name="batch", type=Spec.DISCRETE, values=[32, 64]),
        Spec(name="kind", type=Spec.CATEGORICAL, categories=["rbf", "poly"]),
    ]
    fake.add_trial(7, "tok-7", number_=3, specs=specs, lr=number(0.01),
                   layers=number(64), batch=number(32), kind=text("rbf"))
    monkeypatch.setenv("VERNIER_ENDPOINT", endpoint)
    monkeypatch.setenv("VERNIER_TRIAL_ID", "7")
    monkeypatch.setenv("VERNIER_TOKEN", "tok-7")
    monkeypatch.delenv("VERNIER_TLS_CA", raising=False)


@pytest.fixture
def trial(trial_env):
    with vernier.current_trial(retry=FAST) as t:
        yield t


@pytest.fixture
def client(endpoint):
    with vernier.connect(endpoint, retry=FAST) as c:
        yield c


# --- current_trial() and the environment ---


@pytest.mark.parametrize(
    "variable", ["VERNIER_ENDPOINT", "VERNIER_TRIAL_ID", "VERNIER_TOKEN"])
def test_missing_variable_is_named(trial_env, monkeypatch, variable):
    monkeypatch.delenv(variable)
    with pytest.raises(vernier.ConfigurationError, match=variable):
        vernier.current_trial()


def test_malformed_trial_id_is_named(trial_env, monkeypatch):
    monkeypatch.setenv("VERNIER_TRIAL_ID", "seven")
    with pytest.raises(vernier.ConfigurationError,
                       match="VERNIER_TRIAL_ID.*'seven'"):
        vernier.current_trial()


def test_unreadable_tls_ca_is_named(trial_env, monkeypatch, tmp_path):
    monkeypatch.setenv("VERNIER_TLS_CA", str(tmp_path / "missing.pem"))
    with pytest.raises(vernier.ConfigurationError,
                       match="VERNIER_TLS_CA.*missing.pem"):
        vernier.current_trial()


def test_current_trial_has_its_id_number_and_params(trial):
    assert trial.id == 7
    assert trial.number == 3
    assert trial.params == {
        "lr": 0.01, "layers": 64, "batch": 32.0, "kind": "rbf"}
    # Typed by the study's spec, which GetTrial sends with the trial.
    assert type(trial.params["layers"]) is int
    assert type(trial.params["batch"]) is float
    assert type(trial.params["lr"]) is float
    assert [s.name for s in trial.parameter_specs] == [
        "lr", "layers", "batch", "kind"]


def test_a_number_no_spec_names_is_a_float(fake, trial_env):
    fake.trials[7].parameters["extra"].CopyFrom(number(3))
    with vernier.current_trial(retry=FAST) as trial:
        assert type(trial.params["extra"]) is float
        assert trial.params["extra"] == 3.0


def test_current_trial_is_one_handle_per_process(trial):
    assert vernier.current_trial() is trial


def test_trial_token_is_sent_as_bearer(fake, trial):
    trial.report(step=1, metrics={"loss": 0.5})
    assert fake.authorization("GetTrial") == "Bearer tok-7"
    assert fake.authorization("ReportMeasurement") == "Bearer tok-7"


def test_wrong_token_is_permission_denied(fake, trial_env, monkeypatch):
    monkeypatch.setenv("VERNIER_TOKEN", "tok-8")
    with pytest.raises(vernier.PermissionDenied) as raised:
        vernier.current_trial()
    assert raised.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert raised.value.message == "the token is not trial 7's"


def test_unknown_trial_is_not_found(trial_env, monkeypatch):
    monkeypatch.setenv("VERNIER_TRIAL_ID", "99")
    with pytest.raises(vernier.NotFound, match="no trial 99"):
        vernier.current_trial()


# --- reporting ---


def test_report_sends_step_and_metrics(fake, trial):
    result = trial.report(step=2, metrics={"loss": 0.25, "accuracy": 1})
    assert result.should_stop is False
    assert len(fake.reports) == 1
    sent = fake.reports[0]
    assert sent.trial_id == 7
    assert sent.measurements[0].step == 2
    assert dict(sent.measurements[0].metrics) == {"loss": 0.25, "accuracy": 1.0}
    assert sent.measurements[0].time.seconds > 0


def test_non_finite_metrics_are_sent_as_reported(fake, trial):
    trial.report(3, {"loss": float("nan"), "grad": float("inf")})
    metrics = fake.reports[0].measurements[0].metrics
    assert math.isnan(metrics["loss"]) and metrics["grad"] == math.inf


def test_should_stop_is_the_last_answer(fake, trial):
    fake.stop_from_step = 2
    assert trial.should_stop() is False
    assert trial.report(1, {"loss": 0.4}).should_stop is False
    assert trial.should_stop() is False
    assert trial.report(2, {"loss": 0.3}).should_stop is True
    assert trial.should_stop() is True


def test_report_is_retried_after_unavailable_with_the_same_step(fake, trial):
    fake.fail_once["ReportMeasurement"] = (grpc.StatusCode.UNAVAILABLE,
                                           "database busy")
    trial.report(step=4, metrics={"loss": 0.1})
    assert [r.measurements[0].step for r in fake.report_attempts] == [4, 4]
    assert fake.report_attempts[0] == fake.report_attempts[1]
    assert len(fake.reports) == 1


def test_report_gives_up_when_unavailable_outlasts_the_deadline(
        fake, trial_env):
    fake.fail_always["ReportMeasurement"] = (grpc.StatusCode.UNAVAILABLE,
                                             "database busy")
    trial = vernier.current_trial(retry=vernier.RetryPolicy(
        initial_backoff=0.01, max_backoff=0.02, deadline=0.2))
    try:
        with pytest.raises(vernier.Unavailable, match="database busy"):
            trial.report(1, {"loss": 0.1})
        assert len(fake.report_attempts) > 1
    finally:
        trial.close()


def test_report_rejects_what_is_not_a_number(fake, trial):
    with pytest.raises(TypeError, match="step"):
        trial.report(1.5, {"loss": 0.1})
    with pytest.raises(TypeError, match="'loss'"):
        trial.report(1, {"loss": "low"})
    assert fake.report_attempts == []


def test_complete_sends_final_metrics(fake, trial):
    trial.report(1, {"accuracy": 0.8})
    trial.complete({"accuracy": 0.9})
    assert fake.trials[7].state == study_pb2.Trial.SUCCEEDED
    assert dict(fake.trials[7].final_metrics) == {"accuracy": 0.9}
    assert fake.authorization("FinishTrial") == "Bearer tok-7"


def test_report_after_complete_is_failed_precondition(trial):
    trial.complete({"accuracy": 0.9})
    with pytest.raises(vernier.FailedPrecondition) as raised:
        trial.report(2, {"accuracy": 0.95})
    assert raised.value.message == "trial 7 has ended"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_current_trial_over_tls(fake, trial_env, monkeypatch, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([
        "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
        "1", "-subj", "/CN=127.0.0.1", "-addext",
        "subjectAltName=IP:127.0.0.1", "-keyout",
        str(key), "-out",
        str(cert)
    ], check=True, capture_output=True)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(),
                                                cert.read_bytes())])
    with serve(fake, credentials) as address:
        monkeypatch.setenv("VERNIER_ENDPOINT", address)
        monkeypatch.setenv("VERNIER_TLS_CA", str(cert))
        with vernier.current_trial(retry=FAST) as trial:
            assert trial.report(1, {"loss": 0.5}).should_stop is False
    assert fake.reports[0].measurements[0].step == 1


# --- ask/tell ---


def test_create_study_sends_yaml_and_resume(fake, client):
    study = client.create_study("name: demo\n", resume=True,
                                base_dir="/srv/studies")
    request = fake.create_requests[0]
    assert request.yaml == "name: demo\n"
    assert request.resume_existing is True
    assert request.base_dir == "/srv/studies"
    assert (study.name, study.state) == ("demo", "ACTIVE")
    assert client.create_study("name: demo\n", resume=True).id == study.id


def test_create_study_without_resume_is_already_exists(client):
    client.create_study("name: demo\n")
    with pytest.raises(vernier.AlreadyExists, match="demo"):
        client.create_study("name: demo\n", resume=False)


def test_create_study_from_a_spec(fake, client):
    study = client.create_study(ask_tell_spec(name="from-spec"))
    assert fake.create_requests[0].spec.name == "from-spec"
    assert study.spec.objective.metric == "loss"


def test_invalid_study_carries_the_servers_message(client):
    with pytest.raises(vernier.InvalidArgument) as raised:
        client.create_study("trials: {max: -1}\n")
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert raised.value.message == (
        "study.yaml:9:8: trials.max: must be at least 1")
    assert str(raised.value) == (
        "INVALID_ARGUMENT: study.yaml:9:8: trials.max: must be at least 1")


def test_suggest_decodes_params_by_the_spec(fake, client):
    study = client.create_study("name: demo\n")
    trials = study.suggest(2, client_id="worker-1")
    assert [t.number for t in trials] == [1, 2]
    assert trials[0].params == {"x": 0.5, "n": 10, "kind": "b"}
    assert isinstance(trials[0].params["n"], int)
    assert isinstance(trials[0].params["x"], float)
    assert fake.suggest_requests[0].client_id == "worker-1"
    assert fake.suggest_requests[0].count == 2


def test_suggest_defaults_to_a_stable_client_id(fake, client):
    study = client.create_study("name: demo\n")
    first = study.suggest(1)
    again = study.suggest(1)
    ids = {r.client_id for r in fake.suggest_requests}
    assert ids == {vernier.default_client_id()}
    assert [t.id for t in again] == [t.id for t in first]


def test_ask_tell_loop_completes_the_study(fake, client):
    study = client.create_study("name: demo\n")
    seen = 0
    while trials := study.suggest(3):
        for t in trials:
            loss = (t.params["x"] - 1.0)**2
            ended = study.complete(t, {"loss": loss, "extra": 2})
            assert ended.state == "SUCCEEDED" and ended.objective == loss
            seen += 1
    assert seen == 4
    assert [t.state for t in study.trials()] == ["SUCCEEDED"] * 4
    best = study.best()
    assert best.number == 2 and best.params["x"] == 1.0
    assert best.metrics == {"loss": 0.0, "extra": 2.0}


def test_best_follows_the_goal_and_skips_unsuccessful_trials(fake, client):
    study = client.create_study(
        ask_tell_spec(goal=study_pb2.ObjectiveSpec.MAXIMIZE))
    assert study.best() is None
    a, b, c = study.suggest(3)
    study.complete(a, {"loss": 1.0})
    study.complete(b, {"loss": 3.0})
    study.infeasible(c, reason="diverged")
    assert study.best().id == b.id


def test_infeasible_sends_the_reason(fake, client):
    study = client.create_study("name: demo\n")
    (t,) = study.suggest(1)
    ended = study.infeasible(t.id, reason="diverged")
    assert ended.state == "INFEASIBLE"
    assert fake.trials[t.id].state_message == "diverged"


def test_completing_twice_is_failed_precondition(client):
    study = client.create_study("name: demo\n")
    (t,) = study.suggest(1)
    study.complete(t, {"loss": 1.0})
    with pytest.raises(vernier.FailedPrecondition, match="has ended"):
        study.complete(t, {"loss": 2.0})


def test_complete_is_not_retried(fake, client):
    study = client.create_study("name: demo\n")
    (t,) = study.suggest(1)
    fake.fail_once["CompleteTrial"] = (grpc.StatusCode.UNAVAILABLE, "down")
    with pytest.raises(vernier.Unavailable, match="down"):
        study.complete(t, {"loss": 1.0})
    assert fake.complete_attempts == 1


def test_suggest_is_retried_after_unavailable(fake, client):
    study = client.create_study("name: demo\n")
    fake.fail_once["SuggestTrials"] = (grpc.StatusCode.UNAVAILABLE, "down")
    assert len(study.suggest(2)) == 2


def test_get_list_and_stop(fake, client):
    client.create_study("name: demo\n")
    study = client.get_study("demo")
    assert [s.name for s in client.list_studies()] == ["demo"]
    assert study.stop().state == "STOPPED"
    assert client.get_study("demo").state == "STOPPED"
    with pytest.raises(vernier.NotFound, match="no study 'other'"):
        client.get_study("other")


def test_admin_token_is_sent_when_given(fake, endpoint):
    fake.admin_token = "adm"
    with vernier.connect(endpoint, admin_token="adm") as client:
        client.create_study("name: demo\n")
    assert fake.authorization("CreateStudy") == "Bearer adm"
    with vernier.connect(endpoint) as client:
        with pytest.raises(vernier.PermissionDenied, match="admin token"):
            client.get_study("demo")
    assert fake.authorization("GetStudy") is None


# --- error mapping ---


@pytest.mark.parametrize("code, error", [
    (grpc.StatusCode.INVALID_ARGUMENT, vernier.InvalidArgument),
    (grpc.StatusCode.NOT_FOUND, vernier.NotFound),
    (grpc.StatusCode.ALREADY_EXISTS, vernier.AlreadyExists),
    (grpc.StatusCode.PERMISSION_DENIED, vernier.PermissionDenied),
    (grpc.StatusCode.UNAUTHENTICATED, vernier.PermissionDenied),
    (grpc.StatusCode.FAILED_PRECONDITION, vernier.FailedPrecondition),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, vernier.ResourceExhausted),
    (grpc.StatusCode.UNAVAILABLE, vernier.Unavailable),
    (grpc.StatusCode.DEADLINE_EXCEEDED, vernier.Unavailable),
    (grpc.StatusCode.INTERNAL, vernier.VernierError),
])
def test_status_codes_map_to_errors(fake, endpoint, code, error):
    fake.fail_always["GetStudy"] = (code, f"server says {code.name}")
    with vernier.connect(endpoint, retry=NO_RETRY) as client:
        with pytest.raises(error) as raised:
            client.get_study("demo")
    assert isinstance(raised.value, vernier.VernierError)
    assert raised.value.code == code
    assert raised.value.message == f"server says {code.name}"


def test_unreachable_server_is_unavailable():
    # A bound port that does not listen refuses connections.
    with socket.socket() as idle:
        idle.bind(("127.0.0.1", 0))
        port = idle.getsockname()[1]
        with vernier.connect(f"127.0.0.1:{port}", retry=NO_RETRY) as client:
            with pytest.raises(vernier.Unavailable):
                client.get_study("demo")
