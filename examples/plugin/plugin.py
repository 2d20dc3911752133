"""A Vernier algorithm plug-in: stratified (Latin-hypercube) sampling.

It serves vernier.v1.AlgorithmPlugin (protos/vernier/v1/service.proto); a
study uses it with `algorithm: {name: external, endpoint: 127.0.0.1:7010}`.
Run it from the repository root once the project is built (the build writes
the generated Python stubs under build/python):

    PYTHONPATH=build/python /usr/bin/python3 examples/plugin/plugin.py --port 7010

`--port 0` picks a free port. Either way, once it serves, the plug-in prints
one line `listening on HOST:PORT` on stdout; logs go to stderr. SIGTERM or
Ctrl-C stops it.

The algorithm. Each parameter's range is mapped to [0, 1] as Vernier's
SearchSpace does (log scales on log(value); an int k owns [k - 0.5, k + 0.5);
value i of a list of k owns [i/k, (i+1)/k)), and [0, 1] is cut into `strata`
equal strata (default: the study's trials.max). Every new point takes, in each
dimension, a stratum that no trial of the study occupies yet, in a random
order, with a uniform position inside it; once a dimension's strata are all
used, a new round of all of them begins. So a study of trials.max trials is a
Latin hypercube: each parameter's range is covered evenly, whatever the
others do. Decoding rounds ints and picks list values by their share.

A trial occupies, in a double's dimension, the stratum its value lies in. An
int or a list value stands for every stratum whose middle lies in its share
(or, when its share is narrower than a stratum, the one holding the share's
middle), and each trial with that value occupies the next free one of them:
a value with m strata is taken m times per round, so ints and list values are
spread evenly too.

A point equal to an earlier trial (any state) or to one earlier in the same
batch is redrawn uniformly, up to 100 times; after that, in a finite space of
at most 100000 points, an unused point is chosen among all of them. When none
is left the answer is shorter than asked, which Vernier reads as "nothing new
to suggest". The seed and the history fix the answer: the same request gives
the same assignments.

Settings (algorithm.settings): `strata`, an integer from 1 to 1000000. Any
other key is refused with INVALID_ARGUMENT naming it.
"""

import argparse
import itertools
import logging
import math
import random
import signal
import sys
import threading
from concurrent import futures

import grpc

try:
    from vernier.v1 import service_pb2, service_pb2_grpc, study_pb2
except ImportError as error:
    sys.exit(
        f"plugin.py: cannot import the generated stubs ({error}); build the "
        "project and run with PYTHONPATH=build/python")

LOG = logging.getLogger("vernier-plugin")

KNOWN_SETTINGS = ("strata",)
MAX_STRATA = 1_000_000
# Strata used when neither the setting nor trials.max says.
DEFAULT_STRATA = 100
MAX_COUNT = 10_000
# Uniform redraws of a point that repeats, before enumerating.
MAX_REDRAWS = 100
# Finite spaces up to this many points may be enumerated.
MAX_ENUMERATION = 100_000
# A SuggestRequest carries the whole history: let it be large.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

ParameterSpec = study_pb2.ParameterSpec


class Refusal(Exception):
    """The study cannot be served; the message names the field."""


def _to_scale(p, x):
    return math.log(x) if p.scale == ParameterSpec.LOG else x


def _from_scale(p, y):
    return math.exp(y) if p.scale == ParameterSpec.LOG else y


def _range_in_scale(p):
    """The interval of [0, 1] in scale space; an int k owns [k-0.5, k+0.5)."""
    if p.type == ParameterSpec.INT:
        return _to_scale(p, p.min - 0.5), _to_scale(p, p.max + 0.5)
    return _to_scale(p, p.min), _to_scale(p, p.max)


def _choices(p):
    if p.type == ParameterSpec.DISCRETE:
        return list(p.values)
    return list(p.categories)


def decode(p, u):
    """The value of parameter `p` at `u` in [0, 1]: a float or a str."""
    u = min(max(u, 0.0), 1.0)
    if p.type in (ParameterSpec.DISCRETE, ParameterSpec.CATEGORICAL):
        choices = _choices(p)
        return choices[min(int(u * len(choices)), len(choices) - 1)]
    lo, hi = _range_in_scale(p)
    x = _from_scale(p, lo + u * (hi - lo))
    if p.type == ParameterSpec.INT:
        x = math.floor(x + 0.5)
    return float(min(max(x, p.min), p.max))


def _unit(p, x):
    """Where the number `x` lies in [0, 1] for `p` (INT or DOUBLE)."""
    lo, hi = _range_in_scale(p)
    return min(max((_to_scale(p, x) - lo) / (hi - lo), 0.0), 1.0)


def share(p, value):
    """The part [a, b) of [0, 1] that decodes to `value` of `p` (a = b for a
    DOUBLE), or None when `value` is not one of p's values."""
    if p.type in (ParameterSpec.DISCRETE, ParameterSpec.CATEGORICAL):
        choices = _choices(p)
        if value not in choices:
            return None
        i = choices.index(value)
        return i / len(choices), (i + 1) / len(choices)
    if not isinstance(value, float) or not math.isfinite(value):
        return None
    if p.scale == ParameterSpec.LOG and value <= 0:
        return None
    if p.type == ParameterSpec.INT:
        k = min(max(math.floor(value + 0.5), p.min), p.max)
        return _unit(p, k - 0.5), _unit(p, k + 0.5)
    u = _unit(p, value)
    return u, u


def strata_of_value(p, value, strata):
    """The strata that `value` of `p` stands for, in increasing order: for a
    DOUBLE the one it lies in; for an int or a list value each stratum whose
    middle lies in its share, or the one holding the share's middle when no
    middle does. Empty when `value` is not one of p's values."""
    bounds = share(p, value)
    if bounds is None:
        return []
    a, b = bounds
    if a == b:
        return [min(int(a * strata), strata - 1)]
    # The middle (s + 0.5) / strata lies in [a, b) for s in [first, end).
    first = max(math.ceil(a * strata - 0.5), 0)
    end = min(math.ceil(b * strata - 0.5), strata)
    if first < end:
        return list(range(first, end))
    return [min(int((a + b) / 2 * strata), strata - 1)]


def from_value(value):
    """A google.protobuf.Value as a float, a str or None."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return float(value.number_value)
    if kind == "string_value":
        return value.string_value
    return None


def strata_of(spec):
    """The number of strata per dimension; raises Refusal on bad settings."""
    fields = spec.algorithm.settings.fields
    for key in sorted(fields):
        if key not in KNOWN_SETTINGS:
            raise Refusal(f"settings.{key}: unknown setting (known: "
                          f"{', '.join(KNOWN_SETTINGS)})")
    if "strata" in fields:
        value = from_value(fields["strata"])
        if (not isinstance(value, float) or not value.is_integer()
                or not 1 <= value <= MAX_STRATA):
            raise Refusal(f"settings.strata: must be an integer from 1 to "
                          f"{MAX_STRATA}")
        return int(value)
    return spec.trials.max if spec.trials.max > 0 else DEFAULT_STRATA


def check_spec(spec):
    """Raises Refusal when the plug-in cannot serve `spec`."""
    strata_of(spec)
    if not spec.parameters:
        raise Refusal("parameters: at least one is needed")
    for i, p in enumerate(spec.parameters):
        if p.type in (ParameterSpec.DOUBLE, ParameterSpec.INT):
            if not (math.isfinite(p.min) and math.isfinite(p.max)
                    and p.min < p.max):
                raise Refusal(f"parameters[{i}]: needs finite min < max")
            if p.scale == ParameterSpec.LOG and p.min <= 0:
                raise Refusal(f"parameters[{i}]: a log scale needs min > 0")
        elif p.type in (ParameterSpec.DISCRETE, ParameterSpec.CATEGORICAL):
            if not _choices(p):
                raise Refusal(f"parameters[{i}].values: needs at least one")
        else:
            raise Refusal(f"parameters[{i}].type: not supported")


def _all_values(p):
    """Every value of a finite parameter, or None for a DOUBLE."""
    if p.type == ParameterSpec.DOUBLE:
        return None
    if p.type == ParameterSpec.INT:
        return [float(k) for k in range(int(p.min), int(p.max) + 1)]
    return _choices(p)


def _unused_points(parameters, used):
    """The points of a small finite space not in `used`, or None."""
    lists = [_all_values(p) for p in parameters]
    if any(values is None for values in lists):
        return None
    if math.prod(len(values) for values in lists) > MAX_ENUMERATION:
        return None
    return [point for point in itertools.product(*lists) if point not in used]


def suggest(spec, trials, count, seed):
    """Up to `count` new points, each a tuple of values in parameter order."""
    parameters = list(spec.parameters)
    strata = strata_of(spec)
    largest_number = max((t.number for t in trials), default=0)
    # A str seed is hashed with SHA-512: the same on every run and machine.
    rng = random.Random(f"{seed}/{len(trials)}/{largest_number}")

    used = set()
    occupied = [set() for _ in parameters]
    for trial in trials:
        values = tuple(
            from_value(trial.parameters[p.name]) if p.name in trial.parameters
            else None for p in parameters)
        used.add(values)
        for d, (p, value) in enumerate(zip(parameters, values)):
            for s in strata_of_value(p, value, strata):
                if s not in occupied[d]:
                    occupied[d].add(s)
                    break

    # Per dimension, the strata the batch takes in order: the free ones
    # shuffled, then rounds of all of them.
    columns = []
    for d in range(len(parameters)):
        column = [s for s in range(strata) if s not in occupied[d]]
        rng.shuffle(column)
        while len(column) < count:
            extra = list(range(strata))
            rng.shuffle(extra)
            column.extend(extra)
        columns.append(column[:count])

    unused = None  # enumerated on demand
    points = []
    for i in range(count):
        point = tuple(
            decode(p, (columns[d][i] + rng.random()) / strata)
            for d, p in enumerate(parameters))
        redraws = 0
        while point in used and redraws < MAX_REDRAWS:
            point = tuple(decode(p, rng.random()) for p in parameters)
            redraws += 1
        if point in used:
            if unused is None:
                unused = _unused_points(parameters, used) or []
            unused = [q for q in unused if q not in used]
            if not unused:
                break
            point = rng.choice(unused)
        used.add(point)
        points.append(point)
    return points


def to_assignment(parameters, point):
    assignment = service_pb2.Assignment()
    for p, value in zip(parameters, point):
        if isinstance(value, str):
            assignment.parameters[p.name].string_value = value
        else:
            assignment.parameters[p.name].number_value = value
    return assignment


class StratifiedSampling(service_pb2_grpc.AlgorithmPluginServicer):

    def ValidateStudy(self, request, context):
        try:
            check_spec(request.spec)
        except Refusal as refusal:
            LOG.info("refused study '%s': %s", request.spec.name, refusal)
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(refusal))
        return service_pb2.ValidateStudyResponse()

    def Suggest(self, request, context):
        if not 0 <= request.count <= MAX_COUNT:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"count: must be from 0 to {MAX_COUNT}")
        try:
            check_spec(request.spec)
            points = suggest(request.spec, request.trials, request.count,
                             request.seed)
        except Refusal as refusal:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(refusal))
        LOG.info("study '%s': %d trials so far, %d asked, %d suggested",
                 request.spec.name, len(request.trials), request.count,
                 len(points))
        parameters = list(request.spec.parameters)
        return service_pb2.SuggestResponse(
            assignments=[to_assignment(parameters, p) for p in points])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: loopback)")
    parser.add_argument("--port", type=int, default=7010,
                        help="port to listen on; 0 picks a free one")
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES)])
    service_pb2_grpc.add_AlgorithmPluginServicer_to_server(
        StratifiedSampling(), server)
    address = f"{args.host}:{args.port}"
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as error:
        sys.exit(f"plugin.py: cannot listen on {address}: {error}")
    if port == 0:
        sys.exit(f"plugin.py: cannot listen on {address}")
    server.start()

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"listening on {args.host}:{port}", flush=True)
    stopping.wait()
    server.stop(grace=1).wait()


if __name__ == "__main__":
    main()
