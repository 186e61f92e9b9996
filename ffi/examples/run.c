/*
 * run: runs a command in a codex-sandbox sandbox and exits with its status.
 *
 *   cc -std=c11 -o run ffi/examples/run.c $(pkg-config --cflags --libs codex_sandbox)
 *   ./run [--explain] POLICY COMMAND [ARG...]
 *
 * POLICY is a Codex policy JSON or read-only / workspace-write / danger-full-access; the
 * current directory is the workspace. Exit status: the command's, 128+N when it died of
 * signal N, 125 when the sandbox could not be set up (the reason on stderr).
 */
#define _POSIX_C_SOURCE 200809L
#include <codex_sandbox.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int explain = argc > 1 && strcmp(argv[1], "--explain") == 0;
  if (argc < 3 + explain) {
    fprintf(stderr, "usage: %s [--explain] POLICY COMMAND [ARG...]\n", argv[0]);
    return 125;
  }
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof cwd) == NULL) {
    perror("getcwd");
    return 125;
  }

  codex_sandbox_spawn_request req;
  codex_sandbox_spawn_request_init(&req, sizeof req); /* zeroed, stdio inherited */
  req.policy = argv[1 + explain];
  req.policy_cwd = cwd;
  req.argv = (const char *const *)&argv[2 + explain]; /* argv is NULL-terminated */
  req.pipeline = CODEX_SANDBOX_PIPELINE_AUTO;        /* envp NULL: our environment */

  codex_sandbox_error *err = NULL;
  if (explain) {
    char *json = NULL;
    if (codex_sandbox_explain(&req, &json, &err) != CODEX_SANDBOX_OK) goto fail;
    puts(json);
    codex_sandbox_string_free(json);
    return 0;
  }

  codex_sandbox_child *child = NULL;
  if (codex_sandbox_spawn(&req, &child, &err) != CODEX_SANDBOX_OK) goto fail;
  int code = 0, sig = 0;
  codex_sandbox_result rc = codex_sandbox_wait(child, &code, &sig, &err);
  codex_sandbox_child_free(child);
  if (rc != CODEX_SANDBOX_OK) goto fail;
  return sig != 0 ? 128 + sig : code;

fail:
  fprintf(stderr, "run: %s (%s)\n", codex_sandbox_error_message(err),
          codex_sandbox_result_name(codex_sandbox_error_code(err)));
  codex_sandbox_error_free(err);
  return 125;
}
