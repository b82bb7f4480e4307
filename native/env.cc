#include "env.h"

#include <cstdlib>
#include <string>

#include "common.h"
#include "cpu_isa.h"

namespace repmlp::env {
namespace {

const char* value_of(const char* name) {
  const char* v = std::getenv(name);
  return v && v[0] ? v : nullptr;
}

[[noreturn]] void fail(const char* name, const std::string& expected, const char* v) {
  throw Error(std::string(name) + ": expected " + expected + " but received '" + v + "'");
}

}  // namespace

int64_t integer(const char* name, int64_t lo, int64_t hi, int64_t fallback, const char* what) {
  const char* v = value_of(name);
  if (!v) return fallback;
  const std::string expected = std::string(what) + " in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  // Digits only: no sign, spaces, fraction or suffix. More than 18 of them is out of range anyway.
  int64_t n = 0;
  size_t len = 0;
  for (const char* p = v; *p; ++p, ++len) {
    if (*p < '0' || *p > '9' || len >= 18) fail(name, expected, v);
    n = n * 10 + (*p - '0');
  }
  if (n < lo || n > hi) fail(name, expected, v);
  return n;
}

bool flag(const char* name, bool fallback) {
  const char* v = value_of(name);
  if (!v) return fallback;
  if (std::string(v) == "1") return true;
  if (std::string(v) == "0") return false;
  fail(name, "0 or 1", v);
}

void check_all() {
  integer("REPMLP_NUM_THREADS", 1, kMaxThreads, 1, "a positive integer");
  integer("REPMLP_CPU_CACHE_MB", 0, kMaxCacheMb, 0, "a number of megabytes");
  flag("REPMLP_POISON", false);
  flag("REPMLP_TF32", false);
  cpu_isa::check_env();
}

}  // namespace repmlp::env
