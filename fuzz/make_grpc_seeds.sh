#!/usr/bin/env bash
# Writes the seed corpus of fuzz_grpc_requests (corpus/grpc_requests) from the
# text-format requests below: each seed is the method byte, the credentials
# byte and the request's wire bytes (see grpc_requests_fuzzer.cc). Run from
# anywhere after changing a request; the seeds are committed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
protos="$here/../protos"
out="$here/corpus/grpc_requests"
mkdir -p "$out"

# seed NAME METHOD_BYTE CREDENTIALS_BYTE MESSAGE TEXT
seed() {
  local name=$1 method=$2 credentials=$3 message=$4 text=$5
  {
    printf "\\x$(printf %02x "$method")\\x$(printf %02x "$credentials")"
    printf '%s' "$text" | protoc --proto_path="$protos" \
      --encode="vernier.v1.$message" vernier/v1/service.proto
  } > "$out/$name.bin"
}

# Credentials: 0 none, 1 admin token, 2 the named trial's token, 3 wrong.
seed create_yaml 0 1 CreateStudyRequest "yaml: \"$(sed 's/"/\\"/g; s/name: digits-svm/name: fuzz-new/' \
  "$here/../examples/quickstart/study.yaml" | awk '{printf "%s\\n", $0}')\" base_dir: \"/tmp\""
seed create_spec 0 1 CreateStudyRequest 'spec {
  name: "fuzz-spec" objective { metric: "loss" goal: MINIMIZE }
  parameters { name: "x" type: DOUBLE min: -1 max: 1 }
  trials { max: 3 } worker { kind: NONE } }'
seed get_study 1 1 GetStudyRequest 'name: "fuzz-local"'
seed list_studies 2 1 ListStudiesRequest ''
seed stop_study 3 1 StopStudyRequest 'name: "no-such-study"'
seed list_trials 4 1 ListTrialsRequest 'study: "fuzz-local" include_measurements: true'
seed suggest 5 1 SuggestTrialsRequest 'study: "fuzz-asktell" count: 2 client_id: "fuzz-client"'
seed complete 6 1 CompleteTrialRequest 'study: "fuzz-asktell" trial_id: 3 metrics { key: "loss" value: 0.5 }'
seed complete_infeasible 6 1 CompleteTrialRequest 'study: "fuzz-asktell" trial_id: 4 infeasible: true infeasible_reason: "diverged"'
seed get_trial 7 2 GetTrialRequest 'trial_id: 1'
seed report 8 2 ReportMeasurementRequest 'trial_id: 1 measurements { step: 3 metrics { key: "loss" value: 0.5 } } measurements { step: 4 metrics { key: "loss" value: nan } }'
seed report_wrong_token 8 3 ReportMeasurementRequest 'trial_id: 2 measurements { step: 1 metrics { key: "loss" value: 1 } }'
seed finish 9 2 FinishTrialRequest 'trial_id: 2 metrics { key: "loss" value: 0.125 }'
