// FakeTransport: an HttpTransport for tests that answers from a script and
// records what it was asked.
#ifndef VERNIER_TRIAL_RUNNER_KUBERNETES_FAKE_TRANSPORT_H_
#define VERNIER_TRIAL_RUNNER_KUBERNETES_FAKE_TRANSPORT_H_

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "trial-runner/kubernetes/http_transport.h"

namespace vernier::kubernetes {

class FakeTransport final : public HttpTransport {
 public:
  // One scripted answer: a transport error, or a response whose body a
  // stream receives in `chunks` (when not empty) instead.
  struct Answer {
    absl::StatusOr<HttpResponse> response;
    std::vector<std::string> chunks;
  };

  void Push(int status, std::string body,
            std::map<std::string, std::string> headers = {}) {
    HttpResponse response{status, std::move(headers), std::move(body)};
    absl::MutexLock lock(&mu_);
    answers_.push_back(Answer{std::move(response), {}});
  }
  void PushError(absl::Status error) {
    absl::MutexLock lock(&mu_);
    answers_.push_back(Answer{std::move(error), {}});
  }
  void PushStream(std::vector<std::string> chunks) {
    absl::MutexLock lock(&mu_);
    answers_.push_back(Answer{HttpResponse{200, {}, ""}, std::move(chunks)});
  }
  std::vector<HttpRequest> requests() {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    return Next(request).response;
  }
  absl::StatusOr<HttpResponse> Stream(const HttpRequest& request,
                                      const StreamSink& sink) override {
    Answer answer = Next(request);
    if (!answer.response.ok() || answer.response->status != 200) {
      return answer.response;
    }
    for (const std::string& chunk : answer.chunks) {
      if (!sink(chunk)) break;
    }
    return answer.response;
  }

 private:
  Answer Next(const HttpRequest& request) {
    absl::MutexLock lock(&mu_);
    requests_.push_back(request);
    if (answers_.empty()) {
      return Answer{absl::InternalError("no scripted answer left"), {}};
    }
    Answer answer = std::move(answers_.front());
    answers_.pop_front();
    return answer;
  }

  absl::Mutex mu_;
  std::deque<Answer> answers_ ABSL_GUARDED_BY(mu_);
  std::vector<HttpRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vernier::kubernetes

#endif  // VERNIER_TRIAL_RUNNER_KUBERNETES_FAKE_TRANSPORT_H_
