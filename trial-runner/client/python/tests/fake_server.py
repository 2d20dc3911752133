"""A real gRPC server with in-memory TrialService and StudyService, for
driving the client in tests. It follows the contract of service.proto for
what the client can observe, and records what it received."""

from __future__ import annotations

import contextlib
import math
import threading
from concurrent import futures
from typing import Dict, Iterable, Iterator, List, Optional, Tuple

import grpc
from google.protobuf import struct_pb2

from vernier.v1 import service_pb2, service_pb2_grpc, study_pb2

_ENDED = (study_pb2.Trial.SUCCEEDED, study_pb2.Trial.FAILED,
          study_pb2.Trial.STOPPED, study_pb2.Trial.INFEASIBLE)


def number(x: float) -> struct_pb2.Value:
    return struct_pb2.Value(number_value=x)


def text(s: str) -> struct_pb2.Value:
    return struct_pb2.Value(string_value=s)


def ask_tell_spec(name: str = "demo", goal=study_pb2.ObjectiveSpec.MINIMIZE,
                  max_trials: int = 4) -> study_pb2.StudySpec:
    spec = study_pb2.StudySpec(name=name)
    spec.objective.metric = "loss"
    spec.objective.goal = goal
    spec.parameters.add(name="x", type=study_pb2.ParameterSpec.DOUBLE,
                        min=0, max=10)
    spec.parameters.add(name="n", type=study_pb2.ParameterSpec.INT, min=1,
                        max=100)
    spec.parameters.add(name="kind",
                        type=study_pb2.ParameterSpec.CATEGORICAL,
                        categories=["a", "b"])
    spec.trials.max = max_trials
    spec.worker.kind = study_pb2.WorkerSpec.NONE
    return spec


class FakeVernier:
    """The state of the fake server; tests read and set its fields directly.

    Every handler runs under `lock`.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # Trial service.
        self.trials: Dict[int, study_pb2.Trial] = {}
        self.tokens: Dict[int, str] = {}
        # Study id -> its parameter specs, for trials of no study in
        # `studies` (add_trial's).
        self.parameter_specs: Dict[int, List[study_pb2.ParameterSpec]] = {}
        self.reports: List[service_pb2.ReportMeasurementRequest] = []
        self.report_attempts: List[service_pb2.ReportMeasurementRequest] = []
        self.stop_from_step: Optional[int] = None
        # Study service.
        self.admin_token: Optional[str] = None
        self.studies: Dict[str, study_pb2.Study] = {}
        self.spec_for_yaml = ask_tell_spec()
        self.create_requests: List[service_pb2.CreateStudyRequest] = []
        self.suggest_requests: List[service_pb2.SuggestTrialsRequest] = []
        self.complete_attempts = 0
        # Method name -> (code, details) answered to the next call only.
        self.fail_once: Dict[str, Tuple[grpc.StatusCode, str]] = {}
        # Method name -> (code, details) answered to every call.
        self.fail_always: Dict[str, Tuple[grpc.StatusCode, str]] = {}
        # Method name -> the metadata of its last call.
        self.metadata: Dict[str, Dict[str, str]] = {}

    def add_trial(self, trial_id: int, token: str, number_: int = 1,
                  specs: Iterable[study_pb2.ParameterSpec] = (),
                  **params: struct_pb2.Value) -> study_pb2.Trial:
        """A RUNNING trial of study 1, whose parameter specs are `specs`."""
        trial = study_pb2.Trial(id=trial_id, study_id=1, number=number_,
                                state=study_pb2.Trial.RUNNING)
        for name, value in params.items():
            trial.parameters[name].CopyFrom(value)
        self.trials[trial_id] = trial
        self.tokens[trial_id] = token
        self.parameter_specs[trial.study_id] = list(specs)
        return trial

    def specs_of(self, trial: study_pb2.Trial
                 ) -> List[study_pb2.ParameterSpec]:
        """The parameter specs of the trial's study."""
        for study in self.studies.values():
            if study.id == trial.study_id:
                return list(study.spec.parameters)
        return self.parameter_specs.get(trial.study_id, [])

    def enter(self, method: str, context: grpc.ServicerContext) -> None:
        """Records the call's metadata and answers an injected failure."""
        self.metadata[method] = {
            k: v for k, v in context.invocation_metadata()
        }
        if method in self.fail_once:
            code, details = self.fail_once.pop(method)
            context.abort(code, details)
        if method in self.fail_always:
            context.abort(*self.fail_always[method])

    def authorization(self, method: str) -> Optional[str]:
        return self.metadata[method].get("authorization")


class _TrialService(service_pb2_grpc.TrialServiceServicer):

    def __init__(self, fake: FakeVernier) -> None:
        self.fake = fake

    def _trial(self, method: str, trial_id: int,
               context: grpc.ServicerContext) -> study_pb2.Trial:
        fake = self.fake
        if trial_id not in fake.trials:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no trial {trial_id}")
        if fake.authorization(method) != f"Bearer {fake.tokens[trial_id]}":
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          f"the token is not trial {trial_id}'s")
        return fake.trials[trial_id]

    def GetTrial(self, request, context):
        fake = self.fake
        with fake.lock:
            fake.enter("GetTrial", context)
            trial = self._trial("GetTrial", request.trial_id, context)
            return service_pb2.GetTrialResponse(trial=trial,
                                                parameters=fake.specs_of(trial))

    def ReportMeasurement(self, request, context):
        fake = self.fake
        with fake.lock:
            fake.report_attempts.append(request)
            fake.enter("ReportMeasurement", context)
            trial = self._trial("ReportMeasurement", request.trial_id, context)
            if trial.state in _ENDED:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"trial {trial.id} has ended")
            fake.reports.append(request)
            step = max(m.step for m in request.measurements)
            return service_pb2.ReportMeasurementResponse(
                should_stop=fake.stop_from_step is not None and
                step >= fake.stop_from_step)

    def FinishTrial(self, request, context):
        fake = self.fake
        with fake.lock:
            fake.enter("FinishTrial", context)
            trial = self._trial("FinishTrial", request.trial_id, context)
            if trial.state in _ENDED:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"trial {trial.id} has ended")
            trial.state = study_pb2.Trial.SUCCEEDED
            trial.final_metrics.update(request.metrics)
            return service_pb2.FinishTrialResponse()


class _StudyService(service_pb2_grpc.StudyServiceServicer):

    def __init__(self, fake: FakeVernier) -> None:
        self.fake = fake
        self.next_trial_id = 100

    def _enter(self, method: str, context: grpc.ServicerContext) -> None:
        fake = self.fake
        fake.enter(method, context)
        if (fake.admin_token is not None and
                fake.authorization(method) != f"Bearer {fake.admin_token}"):
            context.abort(grpc.StatusCode.PERMISSION_DENIED,
                          "this server needs its admin token")

    def _study(self, name: str, context) -> study_pb2.Study:
        if name not in self.fake.studies:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no study {name!r}")
        return self.fake.studies[name]

    def _trials(self, study: study_pb2.Study) -> List[study_pb2.Trial]:
        return sorted(
            (t for t in self.fake.trials.values() if t.study_id == study.id),
            key=lambda t: t.number)

    def CreateStudy(self, request, context):
        fake = self.fake
        with fake.lock:
            self._enter("CreateStudy", context)
            fake.create_requests.append(request)
            if request.WhichOneof("source") == "yaml":
                if "max: -1" in request.yaml:
                    context.abort(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        "study.yaml:9:8: trials.max: must be at least 1")
                spec = fake.spec_for_yaml
            else:
                spec = request.spec
            if spec.name in fake.studies:
                if not request.resume_existing:
                    context.abort(grpc.StatusCode.ALREADY_EXISTS,
                                  f"study {spec.name!r} exists")
                return fake.studies[spec.name]
            study = study_pb2.Study(id=len(fake.studies) + 1, name=spec.name,
                                    spec=spec, state=study_pb2.Study.ACTIVE,
                                    yaml=request.yaml)
            fake.studies[spec.name] = study
            return study

    def GetStudy(self, request, context):
        with self.fake.lock:
            self._enter("GetStudy", context)
            return self._study(request.name, context)

    def ListStudies(self, request, context):
        with self.fake.lock:
            self._enter("ListStudies", context)
            return service_pb2.ListStudiesResponse(
                studies=list(self.fake.studies.values()))

    def StopStudy(self, request, context):
        with self.fake.lock:
            self._enter("StopStudy", context)
            study = self._study(request.name, context)
            if study.state == study_pb2.Study.ACTIVE:
                study.state = study_pb2.Study.STOPPED
                study.end_reason = study_pb2.Study.USER_STOPPED
            return study

    def ListTrials(self, request, context):
        with self.fake.lock:
            self._enter("ListTrials", context)
            study = self._study(request.study, context)
            return service_pb2.ListTrialsResponse(trials=self._trials(study))

    def SuggestTrials(self, request, context):
        fake = self.fake
        with fake.lock:
            self._enter("SuggestTrials", context)
            fake.suggest_requests.append(request)
            study = self._study(request.study, context)
            trials = self._trials(study)
            handed = [
                t for t in trials if t.client_id == request.client_id and
                t.state not in _ENDED
            ][:request.count]
            while (len(handed) < request.count and
                   len(trials) < study.spec.trials.max):
                self.next_trial_id += 1
                k = len(trials) + 1
                trial = study_pb2.Trial(id=self.next_trial_id,
                                        study_id=study.id, number=k,
                                        state=study_pb2.Trial.RUNNING,
                                        client_id=request.client_id)
                trial.parameters["x"].CopyFrom(number(0.5 * k))
                trial.parameters["n"].CopyFrom(number(10 * k))
                trial.parameters["kind"].CopyFrom(text("ab"[k % 2]))
                fake.trials[trial.id] = trial
                trials.append(trial)
                handed.append(trial)
            return service_pb2.SuggestTrialsResponse(trials=handed)

    def CompleteTrial(self, request, context):
        fake = self.fake
        with fake.lock:
            fake.complete_attempts += 1
            self._enter("CompleteTrial", context)
            study = self._study(request.study, context)
            trial = fake.trials.get(request.trial_id)
            if trial is None or trial.study_id != study.id:
                context.abort(grpc.StatusCode.NOT_FOUND,
                              f"no trial {request.trial_id} in {study.name}")
            if trial.state in _ENDED:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"trial {trial.id} has ended")
            if request.infeasible:
                trial.state = study_pb2.Trial.INFEASIBLE
                trial.state_message = request.infeasible_reason
                return trial
            metric = study.spec.objective.metric
            if metric not in request.metrics:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"metrics: must hold the objective {metric!r}")
            trial.final_metrics.update(request.metrics)
            trial.objective = request.metrics[metric]
            trial.state = (study_pb2.Trial.SUCCEEDED
                           if math.isfinite(trial.objective) else
                           study_pb2.Trial.INFEASIBLE)
            return trial


@contextlib.contextmanager
def serve(fake: FakeVernier,
          credentials: Optional[grpc.ServerCredentials] = None
          ) -> Iterator[str]:
    """Serves `fake` on 127.0.0.1 at a free port; yields HOST:PORT."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    service_pb2_grpc.add_TrialServiceServicer_to_server(
        _TrialService(fake), server)
    service_pb2_grpc.add_StudyServiceServicer_to_server(
        _StudyService(fake), server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)
