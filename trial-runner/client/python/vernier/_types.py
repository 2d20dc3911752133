"""Plain Python views of the vernier.v1 messages, and the conversions between
Python values and the messages' fields."""

from __future__ import annotations

import dataclasses
import math
import operator
from typing import Any, Dict, Iterable, Mapping, Optional, Union

from vernier.v1 import study_pb2

Param = Union[float, int, str, bool, None]


def decode_params(
    parameters: Mapping[str, Any],
    specs: Iterable[study_pb2.ParameterSpec] = (),
) -> Dict[str, Param]:
    """A Trial's `parameters` map (name -> google.protobuf.Value) as a dict,
    typed by the study's parameter specs: an int for INT, a float for DOUBLE
    and DISCRETE, a str for CATEGORICAL. A parameter that no spec names is a
    float when it is a number and a str when it is a string.
    """
    types = {p.name: p.type for p in specs}
    params: Dict[str, Param] = {}
    for name, value in parameters.items():
        kind = value.WhichOneof("kind")
        if kind == "number_value":
            number = value.number_value
            if (types.get(name) == study_pb2.ParameterSpec.INT
                    and math.isfinite(number)):
                params[name] = int(round(number))
            else:
                params[name] = number
        elif kind == "string_value":
            params[name] = value.string_value
        elif kind == "bool_value":
            params[name] = value.bool_value
        else:
            params[name] = None
    return params


def encode_metrics(metrics: Optional[Mapping[str, Any]]) -> Dict[str, float]:
    """Metric name -> float. Any real number converts (int, numpy scalars, a
    0-d tensor with __float__); non-finite values are kept.

    Raises:
        TypeError: a name is not a str or a value is not a real number; the
            message names the metric.
    """
    encoded: Dict[str, float] = {}
    for name, value in (metrics or {}).items():
        if not isinstance(name, str):
            raise TypeError(f"metric names must be str, not {name!r}")
        if isinstance(value, (str, bytes, bool)) or value is None:
            raise TypeError(
                f"metric {name!r} must be a real number, not {value!r}")
        try:
            encoded[name] = float(value)
        except (TypeError, ValueError):
            raise TypeError(
                f"metric {name!r} must be a real number, not {value!r}"
            ) from None
    return encoded


def encode_step(step: Any) -> int:
    """A step as an int: any integral value (int, numpy integer) converts.

    Raises:
        TypeError: step is not an integer (a float such as 1.0 included).
    """
    if isinstance(step, bool):
        raise TypeError(f"step must be an int, not {step!r}")
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(f"step must be an int, not {step!r}") from None


@dataclasses.dataclass(frozen=True)
class Trial:
    """One trial of a study, as the server last described it.

    Attributes:
        id: unique in the server's database.
        number: 1, 2, 3... within its study.
        params: parameter name -> value, typed by the study's spec: an int
            for INT, a float for DOUBLE and DISCRETE, a str for CATEGORICAL.
        state: "PENDING", "RUNNING", "SUCCEEDED", "FAILED", "STOPPED" or
            "INFEASIBLE".
        objective: the final objective value, when the trial has one.
        metrics: the final value of every metric the study records.
        client_id: for ask/tell, the client the trial was handed to.
        proto: the vernier.v1.Trial message itself, for every other field.
    """

    id: int
    number: int
    params: Dict[str, Param]
    state: str
    objective: Optional[float]
    metrics: Dict[str, float]
    client_id: str
    proto: study_pb2.Trial = dataclasses.field(repr=False, compare=False)

    @classmethod
    def from_proto(
        cls,
        trial: study_pb2.Trial,
        specs: Iterable[study_pb2.ParameterSpec] = ()) -> "Trial":
        """`specs`: the study's parameter specs, which type the params."""
        return cls(
            id=trial.id,
            number=trial.number,
            params=decode_params(trial.parameters, specs),
            state=study_pb2.Trial.State.Name(trial.state),
            objective=trial.objective if trial.HasField("objective") else None,
            metrics=dict(trial.final_metrics),
            client_id=trial.client_id,
            proto=trial,
        )
