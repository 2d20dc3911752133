// Makes Debian's absl::Mutex, absl::CondVar and absl::Notification visible to
// ThreadSanitizer. Linked into every test binary of a -fsanitize=thread build
// (cmake/vernier.cmake), never into anything else.
//
// Why: Debian ships abseil compiled without TSan, so its lock and unlock are
// atomics and futex calls that TSan cannot see; every variable guarded by an
// absl::Mutex would then be reported as racing. This file defines the public
// entry points of those classes in the executable, which the dynamic linker
// prefers over the library's (for our code and for gRPC's alike). Each one
// calls the library's own definition (dlsym RTLD_NEXT) between the mutex
// annotations that an instrumented abseil issues itself
// (absl/synchronization/mutex.cc, ABSL_TSAN_MUTEX_*): the lock is recorded
// after it is taken, the release before it happens, and what the library does
// in between (including evaluating absl::Condition predicates) is ignored.
// Nothing is suppressed: every access in our code is still checked.
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"

namespace {

#define VERNIER_STRINGIFY_INNER(x) #x
#define VERNIER_STRINGIFY(x) VERNIER_STRINGIFY_INNER(x)

// The mangled name of an abseil member: `_ZN` (or `_ZNK` for a const member),
// `4absl`, the inline namespace, then `tail` (class, method and parameters as
// the Itanium ABI spells them).
std::string AbslSymbol(const char* tail, bool is_const = false) {
  std::string ns = VERNIER_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return std::string(is_const ? "_ZNK4absl" : "_ZN4absl") +
         std::to_string(ns.size()) + ns + tail;
}

// The library's definition of `symbol`; aborts if it is missing, since running
// on without it would silently change what the program does.
template <typename Fn>
Fn Real(const std::string& symbol) {
  void* address = dlsym(RTLD_NEXT, symbol.c_str());
  if (address == nullptr) {
    std::fprintf(stderr, "absl_sync_tsan: %s not found in abseil\n",
                 symbol.c_str());
    std::abort();
  }
  return reinterpret_cast<Fn>(address);
}

using Mutex = absl::Mutex;
using Condition = absl::Condition;
constexpr unsigned kRead = __tsan_mutex_read_lock;

// Greater than zero while the library runs inside one of the functions below.
// The library calls its own entry points too (AwaitWithTimeout forwards to
// AwaitWithDeadline, Notify locks its mutex): those inner calls reach the
// functions below again and must pass straight through.
thread_local int library_depth = 0;

template <typename Call>
auto InLibrary(Call call) {
  ++library_depth;
  auto result = call();
  --library_depth;
  return result;
}

// A call that may or may not end holding `mu` (Lock, TryLock, LockWhen...).
template <typename Call>
bool Acquiring(Mutex* mu, unsigned flags, Call call) {
  if (library_depth > 0) return call();
  __tsan_mutex_pre_lock(mu, flags);
  bool held = InLibrary(call);
  __tsan_mutex_post_lock(
      mu, held ? flags : flags | __tsan_mutex_try_lock_failed, 0);
  return held;
}

// A call that releases `mu` (Unlock, ReaderUnlock).
template <typename Call>
void Releasing(Mutex* mu, unsigned flags, Call call) {
  if (library_depth > 0) {
    call();
    return;
  }
  __tsan_mutex_pre_unlock(mu, flags);
  InLibrary(call);
  __tsan_mutex_post_unlock(mu, flags);
}

// A call that releases `mu` and holds it again on return (Await, CondVar::Wait).
template <typename Call>
auto Reacquiring(Mutex* mu, unsigned flags, Call call) {
  if (library_depth > 0) return call();
  __tsan_mutex_pre_unlock(mu, flags);
  auto result = InLibrary(call);
  __tsan_mutex_post_unlock(mu, flags);
  __tsan_mutex_pre_lock(mu, flags);
  __tsan_mutex_post_lock(mu, flags, 0);
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>(AbslSymbol("5Mutex4LockEv"));
  Acquiring(this, 0, [&] { real(this); return true; });
}

void Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>(AbslSymbol("5Mutex10ReaderLockEv"));
  Acquiring(this, kRead, [&] { real(this); return true; });
}

bool Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>(AbslSymbol("5Mutex7TryLockEv"));
  return Acquiring(this, __tsan_mutex_try_lock, [&] { return real(this); });
}

bool Mutex::ReaderTryLock() {
  static auto real =
      Real<bool (*)(Mutex*)>(AbslSymbol("5Mutex13ReaderTryLockEv"));
  return Acquiring(this, __tsan_mutex_try_read_lock,
                   [&] { return real(this); });
}

void Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>(AbslSymbol("5Mutex6UnlockEv"));
  Releasing(this, 0, [&] { real(this); return true; });
}

void Mutex::ReaderUnlock() {
  static auto real =
      Real<void (*)(Mutex*)>(AbslSymbol("5Mutex12ReaderUnlockEv"));
  Releasing(this, kRead, [&] { real(this); return true; });
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      AbslSymbol("5Mutex8LockWhenERKNS0_9ConditionE"));
  Acquiring(this, 0, [&] { real(this, cond); return true; });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      AbslSymbol("5Mutex14ReaderLockWhenERKNS0_9ConditionE"));
  Acquiring(this, kRead, [&] { real(this, cond); return true; });
}

// The timed LockWhen variants hold the mutex on return whatever they return.
bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      AbslSymbol("5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  bool met = false;
  Acquiring(this, 0, [&] { met = real(this, cond, timeout); return true; });
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      AbslSymbol("5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  bool met = false;
  Acquiring(this, 0, [&] { met = real(this, cond, deadline); return true; });
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      AbslSymbol("5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_"
                 "8DurationE"));
  bool met = false;
  Acquiring(this, kRead, [&] { met = real(this, cond, timeout); return true; });
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      AbslSymbol("5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_"
                 "4TimeE"));
  bool met = false;
  Acquiring(this, kRead,
            [&] { met = real(this, cond, deadline); return true; });
  return met;
}

// Await* is called holding the mutex (exclusively; a reader's Await is not
// used here and would only be reported as a bad unlock, not missed).
void Mutex::Await(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      AbslSymbol("5Mutex5AwaitERKNS0_9ConditionE"));
  Reacquiring(this, 0, [&] { real(this, cond); return true; });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      AbslSymbol("5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE"));
  return Reacquiring(this, 0, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      AbslSymbol("5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE"));
  return Reacquiring(this, 0, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>(
      AbslSymbol("7CondVar4WaitEPNS0_5MutexE"));
  Reacquiring(mu, 0, [&] { real(this, mu); return true; });
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      AbslSymbol("7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE"));
  return Reacquiring(mu, 0, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Time)>(
      AbslSymbol("7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE"));
  return Reacquiring(mu, 0, [&] { return real(this, mu, deadline); });
}

// A Notification's waiter may return on its flag alone, without the mutex:
// Notify releases on the object, and a wait that saw the notice acquires it.
void Notification::Notify() {
  static auto real =
      Real<void (*)(Notification*)>(AbslSymbol("12Notification6NotifyEv"));
  __tsan_release(this);
  InLibrary([&] { real(this); return true; });
}

void Notification::WaitForNotification() const {
  static auto real = Real<void (*)(const Notification*)>(
      AbslSymbol("12Notification19WaitForNotificationEv", /*is_const=*/true));
  InLibrary([&] { real(this); return true; });
  __tsan_acquire(const_cast<Notification*>(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  static auto real = Real<bool (*)(const Notification*, Duration)>(AbslSymbol(
      "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE", true));
  bool notified = InLibrary([&] { return real(this, timeout); });
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  static auto real = Real<bool (*)(const Notification*, Time)>(AbslSymbol(
      "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE", true));
  bool notified = InLibrary([&] { return real(this, deadline); });
  if (notified) __tsan_acquire(const_cast<Notification*>(this));
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
