"""The Vernier client: report a trial's metrics from training code, and drive
ask/tell studies.

In training code that Vernier started (metrics collector `push`)::

    import vernier

    trial = vernier.current_trial()   # VERNIER_ENDPOINT, VERNIER_TRIAL_ID, VERNIER_TOKEN
    lr = trial.params["lr"]
    for epoch in range(trial.params["epochs"]):  # an INT parameter: an int
        loss, acc = train_one_epoch(lr)
        if trial.report(step=epoch, metrics={"loss": loss, "accuracy": acc}).should_stop:
            break
    trial.complete({"accuracy": acc})

Ask/tell, for a study whose worker.kind is none::

    client = vernier.connect("127.0.0.1:7007")
    study = client.create_study(open("study.yaml").read())
    while trials := study.suggest(4):
        for t in trials:
            study.complete(t, {"loss": f(**t.params)})
    print(study.best())

Every failed call raises a VernierError subclass that carries the gRPC status
code and the server's message. Calls that are safe to repeat (all but
create_study, Study.complete and Study.infeasible) are retried with backoff
after UNAVAILABLE or DEADLINE_EXCEEDED; see RetryPolicy.
"""

from vernier._errors import (
    AlreadyExists,
    ConfigurationError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    Unavailable,
    VernierError,
)
from vernier._rpc import RetryPolicy
from vernier._study import Client, Study, connect, default_client_id
from vernier._trial import CurrentTrial, ReportResult, current_trial
from vernier._types import Trial

__all__ = [
    "AlreadyExists",
    "Client",
    "ConfigurationError",
    "CurrentTrial",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ReportResult",
    "ResourceExhausted",
    "RetryPolicy",
    "Study",
    "Trial",
    "Unavailable",
    "VernierError",
    "connect",
    "current_trial",
    "default_client_id",
]
