// The header compiles as C++ (extern "C", enums, typedefs) and a C++ program links and calls
// the library through it: tests/c/run.sh builds this with `c++ -std=c++11 -Wall -Wextra
// -Werror -pedantic` against the installed .so and runs it. Prints "N passed, N failed".
#include <codex_sandbox.h>

#include <cstdio>
#include <cstring>
#include <unistd.h>

static int passed = 0;
static int failed = 0;

static void check(bool ok, const char *what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    std::fprintf(stderr, "FAIL: %s\n", what);
  }
}

int main() {
  check(std::strcmp(codex_sandbox_version(), "") != 0, "codex_sandbox_version() is not empty");

  codex_sandbox_spawn_request req;
  check(codex_sandbox_spawn_request_init(&req, sizeof req) == CODEX_SANDBOX_OK, "request_init");
  char cwd[4096];
  check(getcwd(cwd, sizeof cwd) != nullptr, "getcwd");
  const char *argv[] = {"true", nullptr};
  req.policy = "read-only";
  req.policy_cwd = cwd;
  req.argv = argv;
  char *json = nullptr;
  codex_sandbox_error *err = nullptr;
  check(codex_sandbox_explain(&req, &json, &err) == CODEX_SANDBOX_OK, "explain a read-only request");
  check(json != nullptr && std::strstr(json, "\"pipeline\"") != nullptr, "the plan names its pipeline");
  codex_sandbox_string_free(json);
  codex_sandbox_error_free(err);

  req.policy = "no-such-policy";
  err = nullptr;
  json = nullptr;
  codex_sandbox_result bad = codex_sandbox_explain(&req, &json, &err);
  check(bad == CODEX_SANDBOX_INVALID_POLICY, "an unknown policy name is CODEX_SANDBOX_INVALID_POLICY");
  check(json == nullptr && err != nullptr && codex_sandbox_error_code(err) == bad, "the error object carries the code");
  codex_sandbox_error_free(err);

  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
