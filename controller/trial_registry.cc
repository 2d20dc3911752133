#include "controller/trial_registry.h"

#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace vernier::controller {
namespace {

// Compares without an early exit, so the time taken says nothing about how
// much of a guessed token was right.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char difference = 0;
  for (size_t i = 0; i < a.size(); ++i) difference |= a[i] ^ b[i];
  return difference == 0;
}

}  // namespace

void TrialRegistry::Add(int64_t trial_id, Entry entry) {
  absl::MutexLock lock(&mutex_);
  entries_[trial_id] = std::move(entry);
}

void TrialRegistry::Remove(int64_t trial_id) {
  absl::MutexLock lock(&mutex_);
  entries_.erase(trial_id);
}

void TrialRegistry::MarkShouldStop(int64_t trial_id) {
  absl::MutexLock lock(&mutex_);
  auto it = entries_.find(trial_id);
  if (it != entries_.end()) it->second.should_stop = true;
}

absl::StatusOr<TrialRegistry::Entry> TrialRegistry::Check(
    int64_t trial_id, absl::string_view token) const {
  absl::MutexLock lock(&mutex_);
  auto it = entries_.find(trial_id);
  if (it == entries_.end()) {
    return absl::NotFoundError(
        absl::StrCat("trial ", trial_id, " is not running here"));
  }
  if (!ConstantTimeEquals(it->second.token, token)) {
    return absl::PermissionDeniedError(
        absl::StrCat("the token is not trial ", trial_id, "'s"));
  }
  return it->second;
}

std::string NewTrialToken() {
  char bytes[32];
  size_t filled = 0;
  while (filled < sizeof bytes) {
    const ssize_t n = getrandom(bytes + filled, sizeof bytes - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    // getrandom cannot fail otherwise on Linux >= 3.17 with a valid buffer.
    if (n < 0) std::abort();
    filled += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(absl::string_view(bytes, sizeof bytes));
}

}  // namespace vernier::controller
