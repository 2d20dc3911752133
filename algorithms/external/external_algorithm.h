// The `external` algorithm: an adapter that makes a separate process serving
// vernier.v1.AlgorithmPlugin (protos/vernier/v1/service.proto) look like any
// other Algorithm, as Katib's Suggestion services do.
//
// The study names the plug-in with `algorithm: {name: external, endpoint:
// HOST:PORT}`; the adapter reads the endpoint and forwards the whole spec
// from AlgorithmContext::spec. It talks to the plug-in over a plaintext
// (insecure) gRPC channel, so the plug-in belongs on loopback or a trusted
// network.
//
// Building the adapter never contacts the plug-in, so that a study can be
// validated (`vernier validate`, CreateStudy) while the plug-in is down. The
// first Suggest calls AlgorithmPlugin.ValidateStudy once; after it succeeds,
// each Suggest is one AlgorithmPlugin.Suggest with
// SuggestRequest{spec, trials: the history, count, seed: the study's seed}.
// The trials are sent without log_path and log_tail, which no algorithm
// needs and which can be large.
//
// What Suggest returns:
// - OK with at most `count` assignments, each checked with
//   SearchSpace::ToUnit, naming no parameter outside the space, and new: not
//   in the history (any state) nor twice in the batch. count 0 asks nothing.
// - INVALID_ARGUMENT "algorithm plug-in at ADDR refused the study: MESSAGE"
//   when ValidateStudy (or Suggest) answers INVALID_ARGUMENT; and
//   INVALID_ARGUMENT "algorithm plug-in at ADDR returned an invalid
//   assignment: parameter 'x': ..." (or "... a duplicate assignment ...",
//   "... N assignments for a count of M") when the plug-in breaks the
//   protocol. Both are permanent: the study cannot go on with this plug-in.
// - UNAVAILABLE "algorithm plug-in at ADDR is unreachable: ..." when it
//   cannot be reached, DEADLINE_EXCEEDED when it does not answer within the
//   deadline: both transient, so a later call may succeed (and ValidateStudy
//   is retried until it has once succeeded).
// - Any other gRPC status keeps its code, with the message "algorithm
//   plug-in at ADDR: RPC failed: MESSAGE".
//
// Determinism is the plug-in's part of the contract: it receives the seed.
// Like every Algorithm, not thread-safe: the caller serialises calls.
#ifndef VERNIER_ALGORITHMS_EXTERNAL_EXTERNAL_ALGORITHM_H_
#define VERNIER_ALGORITHMS_EXTERNAL_EXTERNAL_ALGORITHM_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "algorithms/algorithm.h"

namespace vernier::algorithms {

// The name the adapter is registered under.
inline constexpr char kExternalAlgorithmName[] = "external";

struct ExternalAlgorithmOptions {
  // How long one RPC to the plug-in may take before DEADLINE_EXCEEDED.
  absl::Duration deadline = absl::Seconds(30);
};

// The adapter for the plug-in at context.spec.algorithm.endpoint.
// INVALID_ARGUMENT "algorithm.endpoint: required ..." when the endpoint is
// empty; settings are left for the plug-in to judge on the first Suggest.
absl::StatusOr<std::unique_ptr<Algorithm>> CreateExternalAlgorithm(
    const AlgorithmContext& context,
    const ExternalAlgorithmOptions& options = {});

// Registers CreateExternalAlgorithm with `options` as "external" (see
// RegisterAlgorithm). Binaries call it once at start-up; a later call changes
// nothing and logs a warning, as does a call after another factory has
// taken the name. Thread-safe.
void RegisterExternalAlgorithm(const ExternalAlgorithmOptions& options = {});

}  // namespace vernier::algorithms

#endif  // VERNIER_ALGORITHMS_EXTERNAL_EXTERNAL_ALGORITHM_H_
