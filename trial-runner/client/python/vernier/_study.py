"""Managing studies, and ask/tell: a client that evaluates the trials itself
(a study whose worker.kind is none)."""

from __future__ import annotations

import math
import os
import socket
from typing import Any, List, Mapping, Optional, Union

from vernier._rpc import Connection, RetryPolicy
from vernier._types import Trial, encode_metrics
from vernier.v1 import service_pb2, service_pb2_grpc, study_pb2

TrialRef = Union[Trial, int]


def default_client_id() -> str:
    """HOST-PID: the same for every call of this process, and a new one for a
    restarted process (which does not get the old one's trials back; pass an
    explicit client_id for that)."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _trial_id(trial: TrialRef) -> int:
    return trial.id if isinstance(trial, Trial) else int(trial)


class Study:
    """A study on the server, as last fetched; the methods call the server.

    Thread-safe for calls; `proto` is replaced, never mutated, by refresh()
    and stop().
    """

    def __init__(self, connection: Connection,
                 stub: service_pb2_grpc.StudyServiceStub,
                 study: study_pb2.Study):
        self._connection = connection
        self._stub = stub
        self.proto = study

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def id(self) -> int:
        return self.proto.id

    @property
    def state(self) -> str:
        """"ACTIVE", "DONE", "FAILED" or "STOPPED", as last fetched."""
        return study_pb2.Study.State.Name(self.proto.state)

    @property
    def spec(self) -> study_pb2.StudySpec:
        return self.proto.spec

    def refresh(self) -> "Study":
        """Fetches the study again; returns self."""
        self.proto = self._connection.call(
            self._stub.GetStudy,
            service_pb2.GetStudyRequest(name=self.name),
            retry=True)
        return self

    def suggest(self,
                count: int = 1,
                client_id: Optional[str] = None) -> List[Trial]:
        """Up to `count` trials to evaluate. Trials already handed to the same
        client_id and not completed come first; fewer than `count` (possibly
        none) when the study has no more to give.

        Args:
            client_id: who asks; default default_client_id().

        Raises:
            FailedPrecondition: the study is not an ask/tell study, or ended.
        """
        response = self._connection.call(
            self._stub.SuggestTrials,
            service_pb2.SuggestTrialsRequest(
                study=self.name,
                count=count,
                client_id=client_id or default_client_id()),
            retry=True)
        specs = self.spec.parameters
        return [Trial.from_proto(t, specs) for t in response.trials]

    def complete(self, trial: TrialRef, metrics: Mapping[str, Any]) -> Trial:
        """Gives the final metrics of a suggested trial; they must hold the
        study's objective. Returns the trial as it ended.

        Raises:
            TypeError: a metric is not a number.
            InvalidArgument: the objective is missing.
            FailedPrecondition: the trial has already ended.
        """
        ended = self._connection.call(
            self._stub.CompleteTrial,
            service_pb2.CompleteTrialRequest(study=self.name,
                                             trial_id=_trial_id(trial),
                                             metrics=encode_metrics(metrics)),
            retry=False)
        return Trial.from_proto(ended, self.spec.parameters)

    def infeasible(self, trial: TrialRef, reason: str = "") -> Trial:
        """Marks a suggested trial INFEASIBLE (it could not be evaluated at
        these parameters), with a reason for people. Returns the trial.

        Raises:
            FailedPrecondition: the trial has already ended.
        """
        ended = self._connection.call(
            self._stub.CompleteTrial,
            service_pb2.CompleteTrialRequest(study=self.name,
                                             trial_id=_trial_id(trial),
                                             infeasible=True,
                                             infeasible_reason=reason),
            retry=False)
        return Trial.from_proto(ended, self.spec.parameters)

    def trials(self, include_measurements: bool = False) -> List[Trial]:
        """Every trial of the study, in creation order. With
        include_measurements, each trial's proto.measurements is filled."""
        response = self._connection.call(
            self._stub.ListTrials,
            service_pb2.ListTrialsRequest(
                study=self.name, include_measurements=include_measurements),
            retry=True)
        specs = self.spec.parameters
        return [Trial.from_proto(t, specs) for t in response.trials]

    def best(self) -> Optional[Trial]:
        """The SUCCEEDED trial with the best finite objective (the first one
        on a tie), as `vernier best` chooses it; None when there is none."""
        minimize = (self.spec.objective.goal ==
                    study_pb2.ObjectiveSpec.MINIMIZE)
        best: Optional[Trial] = None
        for trial in self.trials():
            if (trial.state != "SUCCEEDED" or trial.objective is None
                    or not math.isfinite(trial.objective)):
                continue
            if best is None or (trial.objective < best.objective
                                if minimize else
                                trial.objective > best.objective):
                best = trial
        return best

    def stop(self) -> "Study":
        """Stops the study (a no-op when it has ended); returns self."""
        self.proto = self._connection.call(
            self._stub.StopStudy,
            service_pb2.StopStudyRequest(name=self.name),
            retry=True)
        return self

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, state={self.state})"


class Client:
    """A connection to a Vernier server's StudyService. Obtain it with
    vernier.connect(). Thread-safe."""

    def __init__(self, connection: Connection):
        self._connection = connection
        self._stub = service_pb2_grpc.StudyServiceStub(connection.channel)

    def create_study(self,
                     study: Union[str, study_pb2.StudySpec],
                     resume: bool = True,
                     base_dir: Optional[Union[str, os.PathLike]] = None
                     ) -> Study:
        """Creates and starts a study from YAML text (as `vernier run` reads
        it) or a StudySpec.

        Args:
            resume: when a study of the same name and spec exists, return it
                (and resume it) rather than fail with AlreadyExists.
            base_dir: the folder, on the server, a relative worker.working_dir
                is resolved against.

        Raises:
            InvalidArgument: the study is invalid; the message names the
                field (and the YAML line).
            AlreadyExists: the name is taken (without resume, or by a study
                with another spec).
        """
        request = service_pb2.CreateStudyRequest(
            resume_existing=resume,
            base_dir=os.fspath(base_dir) if base_dir is not None else "")
        if isinstance(study, study_pb2.StudySpec):
            request.spec.CopyFrom(study)
        elif isinstance(study, str):
            request.yaml = study
        else:
            raise TypeError(
                f"study must be YAML text or a StudySpec, not {type(study)}")
        created = self._connection.call(self._stub.CreateStudy,
                                        request,
                                        retry=False)
        return Study(self._connection, self._stub, created)

    def get_study(self, name: str) -> Study:
        """Raises NotFound for an unknown name."""
        study = self._connection.call(
            self._stub.GetStudy,
            service_pb2.GetStudyRequest(name=name),
            retry=True)
        return Study(self._connection, self._stub, study)

    def list_studies(self) -> List[Study]:
        response = self._connection.call(self._stub.ListStudies,
                                         service_pb2.ListStudiesRequest(),
                                         retry=True)
        return [
            Study(self._connection, self._stub, s) for s in response.studies
        ]

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def connect(endpoint: str,
            admin_token: Optional[str] = None,
            tls_ca: Optional[str] = None,
            *,
            timeout: float = 30.0,
            retry: RetryPolicy = RetryPolicy()) -> Client:
    """A client of the server at `endpoint` (HOST:PORT).

    Connecting is lazy: an unreachable server fails the first call, with
    Unavailable once retries are spent.

    Args:
        admin_token: the server's admin token, sent as `authorization: Bearer
            TOKEN`; needed when the server has one.
        tls_ca: path of the PEM CA certificate of a server that uses TLS.
        timeout: the deadline of each call, in seconds.
        retry: how calls that are safe to repeat (all but create_study,
            complete and infeasible) are retried after UNAVAILABLE or
            DEADLINE_EXCEEDED.

    Raises:
        ConfigurationError: the CA file cannot be read.
    """
    return Client(
        Connection(endpoint, admin_token, tls_ca, timeout=timeout,
                   retry=retry))
