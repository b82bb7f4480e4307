// The environment variables the addon reads, parsed strictly: a variable that is set to a
// malformed value is an Error naming it ("REPMLP_NUM_THREADS: expected ..."), never ignored
// or half read (atoi("3abc") is 3, atoi("abc") is 0). An empty value counts as unset, as a
// shell's `VAR= command` means.
#pragma once
#include <cstdint>

namespace repmlp::env {

// The decimal integer in [lo, hi] that variable `name` holds, or fallback when it is unset.
// what: the expected value in words ("a positive integer"), for the error.
int64_t integer(const char* name, int64_t lo, int64_t hi, int64_t fallback, const char* what);

// A switch: "1" is on, "0" off; fallback when unset.
bool flag(const char* name, bool fallback);

// Reads every variable the addon uses once, so that a bad value fails the addon's load with
// its error instead of surfacing at some later first use.
void check_all();

// The bounds the readers use (also checked by setNumThreads).
constexpr int64_t kMaxThreads = 1024;
constexpr int64_t kMaxCacheMb = int64_t(1) << 24;  // 16 TiB: any real machine, and << 20 fits in 64 bits

}  // namespace repmlp::env
