/*
 * C tests of libcodex_sandbox, compiled against the installed header and linked once against
 * the shared and once against the static library (tests/c/run.sh). They spawn real sandboxes
 * and check what the kernel did: exit statuses, the errno of a refused write, the host file
 * left untouched, pipes, descriptor counts.
 *
 * Usage: sandbox_test [--errors-only] [--no-stress]
 *   --errors-only  only the tests that spawn nothing (error paths, explain, probe, seatbelt);
 *                  used for the valgrind pass.
 *   --no-stress    skip the 16-thread test.
 * CODEX_SANDBOX_TEST_PIPELINES=landlock,bwrap (default: both) chooses the pipelines of the
 * spawning tests. Prints "N passed, N failed" last; exits 0 only when nothing failed.
 */
#define _GNU_SOURCE
#include <codex_sandbox.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int passed;
static atomic_int failed;

#define CHECK(cond, ...)                                                                  \
  do {                                                                                    \
    if (cond) {                                                                           \
      atomic_fetch_add(&passed, 1);                                                       \
    } else {                                                                              \
      atomic_fetch_add(&failed, 1);                                                       \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                      \
      fprintf(stderr, __VA_ARGS__);                                                       \
      fputc('\n', stderr);                                                                \
    }                                                                                     \
  } while (0)

static char scratch[64];    /* /tmp/codex-ffi-test.XXXXXX */
static char workspace[128]; /* scratch/work: the only writable root */
static char outside[128];   /* scratch/outside.txt: must stay untouched */
static char policy[512];

static const char *pipeline_name(uint32_t pipeline) {
  return pipeline == CODEX_SANDBOX_PIPELINE_BWRAP      ? "bwrap"
         : pipeline == CODEX_SANDBOX_PIPELINE_LANDLOCK ? "landlock"
                                                       : "auto";
}

static codex_sandbox_spawn_request request(uint32_t pipeline, const char *const *argv) {
  codex_sandbox_spawn_request req;
  codex_sandbox_result rc = codex_sandbox_spawn_request_init(&req, sizeof req);
  if (rc != CODEX_SANDBOX_OK) {
    fprintf(stderr, "codex_sandbox_spawn_request_init failed: %d\n", (int)rc);
    exit(2);
  }
  req.pipeline = pipeline;
  req.policy = policy;
  req.policy_cwd = workspace;
  req.argv = argv;
  return req;
}

static int count_fds(void) {
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL) return -1;
  int n = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] != '.') n++;
  }
  closedir(dir);
  return n;
}

/* 1 when this process has no child left (nothing was spawned and left behind). */
static int no_children(void) {
  int status;
  return waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD;
}

static char *read_all(int fd) {
  size_t cap = 256, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (len + 1 == cap) buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    len += (size_t)n;
  }
  buf[len] = '\0';
  return buf;
}

static char *read_file(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *text = read_all(fd);
  close(fd);
  return text;
}

/* Spawns, waits, reports the status; returns the result code of spawn. */
static codex_sandbox_result run(const codex_sandbox_spawn_request *req, int *code, int *sig) {
  codex_sandbox_child *child = NULL;
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(req, &child, &err);
  if (rc != CODEX_SANDBOX_OK) {
    fprintf(stderr, "  spawn: %s: %s\n", codex_sandbox_result_name(rc),
            codex_sandbox_error_message(err));
    codex_sandbox_error_free(err);
    return rc;
  }
  rc = codex_sandbox_wait(child, code, sig, &err);
  if (rc != CODEX_SANDBOX_OK) {
    fprintf(stderr, "  wait: %s\n", codex_sandbox_error_message(err));
    codex_sandbox_error_free(err);
  }
  codex_sandbox_child_free(child);
  return rc;
}

/* A minimal structural JSON check: an object, strings closed, brackets balanced. */
static int looks_like_json_object(const char *s) {
  if (s == NULL) return 0;
  while (*s == ' ' || *s == '\n') s++;
  if (*s != '{') return 0;
  int depth = 0, in_string = 0;
  for (; *s; s++) {
    if (in_string) {
      if (*s == '\\' && s[1]) s++;
      else if (*s == '"') in_string = 0;
      continue;
    }
    if (*s == '"') in_string = 1;
    else if (*s == '{' || *s == '[') depth++;
    else if (*s == '}' || *s == ']') {
      if (--depth < 0) return 0;
      if (depth == 0) {
        s++;
        while (*s == ' ' || *s == '\n') s++;
        return *s == '\0';
      }
    }
  }
  return 0;
}

/* What this host (as this process sees it: valgrind, for one, has no Landlock system calls
 * and no namespace clone) can enforce, from codex_sandbox_probe(). */
static int landlock_available = -1, namespaces_available = -1;

static void probe_host(void) {
  char *json = NULL;
  if (codex_sandbox_probe(&json, NULL) != CODEX_SANDBOX_OK || json == NULL) return;
  const char *l = strstr(json, "\"landlock\": {");
  const char *n = strstr(json, "\"namespaces\": {");
  if (l != NULL) landlock_available = strncmp(strstr(l, "\"available\": ") + 13, "true", 4) == 0;
  if (n != NULL) namespaces_available = strncmp(strstr(n, "\"available\": ") + 13, "true", 4) == 0;
  codex_sandbox_string_free(json);
}

/* ---------------------------------------------------------------- spawning tests */

static void test_true_and_statuses(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  int code = -100, sig = -100;

  const char *true_argv[] = {"true", NULL};
  codex_sandbox_spawn_request req = request(pipeline, true_argv);
  CHECK(run(&req, &code, &sig) == CODEX_SANDBOX_OK && code == 0 && sig == 0,
        "[%s] true: code %d sig %d", p, code, sig);

  const char *exit_argv[] = {"/bin/sh", "-c", "exit 42", NULL};
  req = request(pipeline, exit_argv);
  CHECK(run(&req, &code, &sig) == CODEX_SANDBOX_OK && code == 42 && sig == 0,
        "[%s] exit 42: code %d sig %d", p, code, sig);

  const char *sig_argv[] = {"/bin/sh", "-c", "kill -TERM $$; sleep 5", NULL};
  req = request(pipeline, sig_argv);
  CHECK(run(&req, &code, &sig) == CODEX_SANDBOX_OK && code == -1 && sig == SIGTERM,
        "[%s] killed by SIGTERM: code %d sig %d", p, code, sig);

  /* A missing command is reported by spawn, and the failed child is reaped. */
  const char *missing_argv[] = {"/nonexistent/definitely-not-a-command", NULL};
  req = request(pipeline, missing_argv);
  codex_sandbox_child *missing = NULL;
  codex_sandbox_error *missing_err = NULL;
  codex_sandbox_result missing_rc = codex_sandbox_spawn(&req, &missing, &missing_err);
  CHECK(missing_rc == CODEX_SANDBOX_COMMAND_NOT_FOUND && missing == NULL && no_children() &&
            strstr(codex_sandbox_error_message(missing_err), "definitely-not-a-command"),
        "[%s] missing command: %s: %s", p, codex_sandbox_result_name(missing_rc),
        codex_sandbox_error_message(missing_err));
  codex_sandbox_error_free(missing_err);

  /* kill() through the API, while the command sleeps; then kill after wait is ESRCH. */
  const char *sleep_argv[] = {"sleep", "30", NULL};
  req = request(pipeline, sleep_argv);
  codex_sandbox_child *child = NULL;
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(&req, &child, &err);
  CHECK(rc == CODEX_SANDBOX_OK && child != NULL && err == NULL, "[%s] spawn sleep: %s", p,
        codex_sandbox_error_message(err));
  if (child != NULL) {
    CHECK(codex_sandbox_child_pid(child) > 0, "[%s] pid", p);
    CHECK(codex_sandbox_child_pidfd(child) >= 0, "[%s] pidfd", p);
    int exited = -1;
    rc = codex_sandbox_try_wait(child, &exited, &code, &sig, NULL);
    CHECK(rc == CODEX_SANDBOX_OK && exited == 0, "[%s] try_wait while running: %d", p,
          exited);
    CHECK(codex_sandbox_kill(child, SIGKILL, NULL) == CODEX_SANDBOX_OK, "[%s] kill", p);
    rc = codex_sandbox_wait(child, &code, &sig, NULL);
    CHECK(rc == CODEX_SANDBOX_OK && code == -1 && sig == SIGKILL,
          "[%s] after kill: code %d sig %d", p, code, sig);
    rc = codex_sandbox_try_wait(child, &exited, &code, &sig, NULL);
    CHECK(rc == CODEX_SANDBOX_OK && exited == 1 && sig == SIGKILL, "[%s] try_wait after", p);
    rc = codex_sandbox_kill(child, SIGTERM, &err);
    CHECK(rc == CODEX_SANDBOX_IO && codex_sandbox_error_errno(err) == ESRCH,
          "[%s] kill after wait: %s errno %d", p, codex_sandbox_result_name(rc),
          codex_sandbox_error_errno(err));
    codex_sandbox_error_free(err);
    codex_sandbox_child_free(child);
  }
  CHECK(no_children(), "[%s] every child reaped", p);
}

static void test_write_outside_fails(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  /* The command reports the errno name of each attempt on stdout. */
  static const char script[] =
      "import errno, os, sys\n"
      "for path in sys.argv[1:]:\n"
      "    try:\n"
      "        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)\n"
      "        os.write(fd, b'pwned\\n'); os.close(fd); print('OK')\n"
      "    except OSError as e:\n"
      "        print(errno.errorcode.get(e.errno, str(e.errno)))\n";
  char inside[192];
  snprintf(inside, sizeof inside, "%s/inside.txt", workspace);
  unlink(inside);
  const char *argv[] = {"/usr/bin/python3", "-c", script, outside, inside, NULL};
  codex_sandbox_spawn_request req = request(pipeline, argv);
  req.stdout_fd = CODEX_SANDBOX_STDIO_PIPE;
  codex_sandbox_child *child = NULL;
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(&req, &child, &err);
  CHECK(rc == CODEX_SANDBOX_OK, "[%s] spawn python3: %s", p, codex_sandbox_error_message(err));
  codex_sandbox_error_free(err);
  if (child == NULL) return;
  char *out = read_all(codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDOUT));
  int code = -100, sig = -100;
  rc = codex_sandbox_wait(child, &code, &sig, NULL);
  CHECK(rc == CODEX_SANDBOX_OK && code == 0, "[%s] python3 exit %d", p, code);
  codex_sandbox_child_free(child);

  char first[32] = "", second[32] = "";
  sscanf(out, "%31s %31s", first, second);
  /* A read-only view refuses the open first (EROFS): the namespace pipeline's, and the landlock
   * pipeline's where user namespaces are available; without them Landlock refuses it (EACCES). */
  const char *expected =
      pipeline == CODEX_SANDBOX_PIPELINE_LANDLOCK && namespaces_available != 1 ? "EACCES" : "EROFS";
  CHECK(strcmp(first, expected) == 0, "[%s] write outside the writable root: got `%s`, expected %s",
        p, first, expected);
  CHECK(strcmp(second, "OK") == 0, "[%s] write inside the workspace: got `%s`", p, second);
  char *host = read_file(outside);
  CHECK(host != NULL && strcmp(host, "original\n") == 0, "[%s] host file untouched: `%s`", p,
        host ? host : "(unreadable)");
  char *written = read_file(inside);
  CHECK(written != NULL && strcmp(written, "pwned\n") == 0,
        "[%s] file written inside reached the host", p);
  free(host);
  free(written);
  free(out);
}

/* A host unix listener in the scratch directory: without CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS
 * the command's socket(AF_UNIX) fails with EPERM and the listener accepts nothing; with it the
 * listener is reached. */
static void test_unix_sockets(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  struct sockaddr_un address = {.sun_family = AF_UNIX};
  snprintf(address.sun_path, sizeof address.sun_path, "%s/host.sock", scratch);
  const char *path = address.sun_path;
  int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  unlink(path);
  if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
      listen(listener, 4) != 0 || chmod(path, 0777) != 0) {
    CHECK(0, "[%s] host unix listener at %s: %s", p, path, strerror(errno));
    if (listener >= 0) close(listener);
    return;
  }
  const char *script =
      "import errno, socket, sys\n"
      "try:\n"
      "  s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(sys.argv[1]); print('OK')\n"
      "except OSError as e: print(errno.errorcode[e.errno])\n";
  const char *argv[] = {"/usr/bin/python3", "-c", script, path, NULL};
  for (int all = 0; all <= 1; all++) {
    codex_sandbox_spawn_request req = request(pipeline, argv);
    req.stdout_fd = CODEX_SANDBOX_STDIO_PIPE;
    req.flags = all ? CODEX_SANDBOX_FLAG_ALL_UNIX_SOCKETS : 0;
    codex_sandbox_child *child = NULL;
    codex_sandbox_result rc = codex_sandbox_spawn(&req, &child, NULL);
    CHECK(rc == CODEX_SANDBOX_OK, "[%s] spawn python3: %s", p, codex_sandbox_result_name(rc));
    if (child == NULL) continue;
    char *out = read_all(codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDOUT));
    int code = -100;
    codex_sandbox_wait(child, &code, NULL, NULL);
    codex_sandbox_child_free(child);
    int accepted = 0;
    for (int fd; (fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC)) >= 0; accepted++) close(fd);
    const char *expected = all ? "OK\n" : "EPERM\n";
    CHECK(code == 0 && strcmp(out, expected) == 0, "[%s] unix connect%s: got `%s`", p,
          all ? " with ALL_UNIX_SOCKETS" : "", out);
    CHECK(accepted == all, "[%s] the host listener accepted %d connection(s)%s", p, accepted,
          all ? " with ALL_UNIX_SOCKETS" : "");
    free(out);
  }
  close(listener);
  unlink(path);
}

static void test_pipes(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  int before = count_fds();

  const char *echo_argv[] = {"/bin/sh", "-c", "echo hello; echo oops >&2", NULL};
  codex_sandbox_spawn_request req = request(pipeline, echo_argv);
  req.stdout_fd = CODEX_SANDBOX_STDIO_PIPE;
  req.stderr_fd = CODEX_SANDBOX_STDIO_PIPE;
  req.stdin_fd = CODEX_SANDBOX_STDIO_NULL;
  codex_sandbox_child *child = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(&req, &child, NULL);
  CHECK(rc == CODEX_SANDBOX_OK, "[%s] spawn echo: %s", p, codex_sandbox_result_name(rc));
  if (child != NULL) {
    CHECK(codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDIN) == -1, "[%s] no stdin pipe",
          p);
    char *out = read_all(codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDOUT));
    char *errs = read_all(codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDERR));
    int code = -100;
    CHECK(codex_sandbox_wait(child, &code, NULL, NULL) == CODEX_SANDBOX_OK && code == 0,
          "[%s] echo exit %d", p, code);
    CHECK(strcmp(out, "hello\n") == 0, "[%s] stdout `%s`", p, out);
    CHECK(strcmp(errs, "oops\n") == 0, "[%s] stderr `%s`", p, errs);
    free(out);
    free(errs);
    codex_sandbox_child_free(child);
  }

  /* stdin pipe: cat echoes what we write; closing our end (taken) gives it end of file. */
  const char *cat_argv[] = {"cat", NULL};
  req = request(pipeline, cat_argv);
  req.stdin_fd = CODEX_SANDBOX_STDIO_PIPE;
  req.stdout_fd = CODEX_SANDBOX_STDIO_PIPE;
  child = NULL;
  rc = codex_sandbox_spawn(&req, &child, NULL);
  CHECK(rc == CODEX_SANDBOX_OK, "[%s] spawn cat: %s", p, codex_sandbox_result_name(rc));
  if (child != NULL) {
    int in = codex_sandbox_child_take_stdio_fd(child, CODEX_SANDBOX_STDIN);
    CHECK(in >= 0 && codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDIN) == -1,
          "[%s] take stdin", p);
    CHECK(write(in, "round trip\n", 11) == 11, "[%s] write stdin", p);
    close(in);
    char *out = read_all(codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDOUT));
    int code = -100;
    CHECK(codex_sandbox_wait(child, &code, NULL, NULL) == CODEX_SANDBOX_OK && code == 0,
          "[%s] cat exit %d", p, code);
    CHECK(strcmp(out, "round trip\n") == 0, "[%s] cat echoed `%s`", p, out);
    free(out);
    codex_sandbox_child_free(child);
  }

  /* A caller's descriptor as stdout: it is duplicated, the caller's stays open. */
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) == 0) {
    const char *argv[] = {"echo", "via caller fd", NULL};
    req = request(pipeline, argv);
    req.stdout_fd = fds[1];
    int code = -100;
    CHECK(run(&req, &code, NULL) == CODEX_SANDBOX_OK && code == 0, "[%s] echo to fd", p);
    CHECK(fcntl(fds[1], F_GETFD) >= 0, "[%s] caller's fd still open", p);
    close(fds[1]);
    char *out = read_all(fds[0]);
    close(fds[0]);
    CHECK(strcmp(out, "via caller fd\n") == 0, "[%s] read `%s`", p, out);
    free(out);
  }

  /* extra_fds: descriptor passed at the same number. */
  int extra = open(outside, O_RDONLY | O_CLOEXEC);
  if (extra >= 0) {
    char script[64];
    snprintf(script, sizeof script, "cat <&%d", extra);
    const char *argv[] = {"/bin/sh", "-c", script, NULL};
    req = request(pipeline, argv);
    req.stdout_fd = CODEX_SANDBOX_STDIO_PIPE;
    req.extra_fds = &extra;
    req.extra_fds_len = 1;
    child = NULL;
    rc = codex_sandbox_spawn(&req, &child, NULL);
    CHECK(rc == CODEX_SANDBOX_OK, "[%s] spawn with extra fd: %s", p,
          codex_sandbox_result_name(rc));
    if (child != NULL) {
      char *out = read_all(codex_sandbox_child_stdio_fd(child, CODEX_SANDBOX_STDOUT));
      int code = -100;
      codex_sandbox_wait(child, &code, NULL, NULL);
      CHECK(code == 0 && strcmp(out, "original\n") == 0, "[%s] extra fd read `%s` (exit %d)", p,
            out, code);
      free(out);
      codex_sandbox_child_free(child);
    }
    close(extra);
  }

  CHECK(count_fds() == before, "[%s] descriptors: %d before, %d after", p, before, count_fds());
  CHECK(no_children(), "[%s] every child reaped", p);
}

/* A request larger than this library knows: accepted when the tail is zero only. */
static void test_larger_struct(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  struct {
    codex_sandbox_spawn_request req;
    uint64_t future_fields[4];
  } big;
  const char *argv[] = {"true", NULL};
  memset(&big, 0, sizeof big);
  big.req = request(pipeline, argv);
  big.req.struct_size = (uint32_t)sizeof big;
  int code = -100;
  CHECK(run(&big.req, &code, NULL) == CODEX_SANDBOX_OK && code == 0,
        "[%s] larger struct with a zero tail", p);
}

/* Protected names: `protect` adds `.envrc`; a missing one directly in the workspace cannot be
 * created, and one the command creates deeper down (like a `sub/.git`) is removed once the run
 * is over, codex_sandbox_wait() returning CODEX_SANDBOX_PROTECTED_NAME_CREATED with the status
 * stored and the paths named. A bad name is refused before anything runs; a request of the
 * first version's size (88 bytes, before `protect` existed) still runs. */
static void test_protected_names(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  if (pipeline == CODEX_SANDBOX_PIPELINE_LANDLOCK && namespaces_available != 1) {
    printf("[%s] protected names: skipped (workspace-write needs user namespaces here)\n", p);
    return;
  }
  static const char script[] =
      "mkdir -p sub && echo x > sub/.envrc && mkdir sub/.git && "
      "{ echo x > .envrc 2>/dev/null && touch escaped; true; }; exit 4";
  const char *argv[] = {"/bin/sh", "-c", script, NULL};
  const char *protect[] = {".envrc", NULL};
  codex_sandbox_spawn_request req = request(pipeline, argv);
  req.command_cwd = workspace;
  req.protect = protect;
  codex_sandbox_child *child = NULL;
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(&req, &child, &err);
  CHECK(rc == CODEX_SANDBOX_OK, "[%s] spawn with protect: %s", p, codex_sandbox_error_message(err));
  codex_sandbox_error_free(err);
  err = NULL;
  if (child == NULL) return;
  int code = -100, sig = -100;
  rc = codex_sandbox_wait(child, &code, &sig, &err);
  const char *message = err ? codex_sandbox_error_message(err) : "";
  CHECK(rc == CODEX_SANDBOX_PROTECTED_NAME_CREATED && code == 4 && sig == 0,
        "[%s] wait: %s, exit %d: %s", p, codex_sandbox_result_name(rc), code, message);
  CHECK(strstr(message, "/work/sub/.envrc`") != NULL && strstr(message, "/work/sub/.git`") != NULL,
        "[%s] the error names each path: %s", p, message);
  codex_sandbox_error_free(err);
  codex_sandbox_child_free(child);
  char path[256];
  struct stat st;
  const char *gone[] = {"sub/.envrc", "sub/.git", ".envrc", "escaped"};
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", workspace, gone[i]);
    CHECK(lstat(path, &st) != 0 && errno == ENOENT, "[%s] %s is not on the host", p, gone[i]);
  }

  const char *bad[] = {"a/b", NULL};
  const char *true_argv[] = {"true", NULL};
  req = request(pipeline, true_argv);
  req.protect = bad;
  err = NULL;
  rc = codex_sandbox_spawn(&req, &child, &err);
  CHECK(rc == CODEX_SANDBOX_INVALID_ARGUMENT && strstr(codex_sandbox_error_message(err), "`protect[0]`") != NULL,
        "[%s] a name with a slash: %s: %s", p, codex_sandbox_result_name(rc), err ? codex_sandbox_error_message(err) : "");
  codex_sandbox_error_free(err);

  req = request(pipeline, true_argv);
  req.struct_size = 88; /* the first version of the struct */
  code = -100;
  CHECK(run(&req, &code, NULL) == CODEX_SANDBOX_OK && code == 0, "[%s] a version-1 request", p);
}


/* ---------------------------------------------------------------- resource limits */

/* Runs `argv` under `req`'s limits; returns the status and whether the wall clock ended it. */
static codex_sandbox_result run_limited(codex_sandbox_spawn_request *req, int *code, int *sig,
                                        int *wall) {
  codex_sandbox_child *child = NULL;
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(req, &child, &err);
  if (rc != CODEX_SANDBOX_OK) {
    fprintf(stderr, "  spawn: %s\n", codex_sandbox_error_message(err));
    codex_sandbox_error_free(err);
    return rc;
  }
  CHECK(codex_sandbox_child_wall_time_exceeded(child) == 0, "not known before the wait");
  rc = codex_sandbox_wait(child, code, sig, NULL);
  *wall = codex_sandbox_child_wall_time_exceeded(child);
  codex_sandbox_child_free(child);
  return rc;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_limits(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  int code = -100, sig = -100, wall = -100;

  /* Open files: EMFILE below the limit (exit 0 says so). Memory: a map larger than the
   * address space fails with ENOMEM. */
  const char *nofile_argv[] = {
      "/usr/bin/python3", "-c",
      "import errno, mmap, sys\n"
      "fs = []\n"
      "try:\n"
      "    for _ in range(100): fs.append(open('/dev/null'))\n"
      "    sys.exit(3)\n"
      "except OSError as e:\n"
      "    if e.errno != errno.EMFILE or len(fs) >= 16: sys.exit(4)\n"
      "try:\n"
      "    mmap.mmap(-1, 512 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)\n"
      "    sys.exit(5)\n"
      "except OSError as e:\n"
      "    sys.exit(0 if e.errno == errno.ENOMEM else 6)\n",
      NULL};
  codex_sandbox_spawn_request req = request(pipeline, nofile_argv);
  req.max_open_files = 16;
  req.max_memory_bytes = 256u << 20;
  CHECK(run_limited(&req, &code, &sig, &wall) == CODEX_SANDBOX_OK && code == 0 && wall == 0,
        "[%s] EMFILE and ENOMEM inside: exit %d signal %d", p, code, sig);

  /* File size: SIGXFSZ, and the file stops at the limit on the host. */
  char big[192];
  snprintf(big, sizeof big, "%s/big", workspace);
  const char *fsize_argv[] = {"/bin/sh", "-c", "exec head -c 1000000 /dev/zero > big", NULL};
  req = request(pipeline, fsize_argv);
  req.command_cwd = workspace;
  req.max_file_size_bytes = 4096;
  CHECK(run_limited(&req, &code, &sig, &wall) == CODEX_SANDBOX_OK && sig == SIGXFSZ,
        "[%s] SIGXFSZ: exit %d signal %d", p, code, sig);
  struct stat st;
  CHECK(stat(big, &st) == 0 && st.st_size == 4096, "[%s] the file stopped at 4096 bytes", p);
  unlink(big);

  /* CPU time: SIGXCPU at the soft limit. */
  const char *cpu_argv[] = {"/usr/bin/python3", "-c", "while True: pass", NULL};
  req = request(pipeline, cpu_argv);
  req.max_cpu_seconds = 1;
  CHECK(run_limited(&req, &code, &sig, &wall) == CODEX_SANDBOX_OK && sig == SIGXCPU,
        "[%s] SIGXCPU: exit %d signal %d", p, code, sig);

  /* Wall clock: the whole tree ends (SIGKILL) and the handle says why. */
  const char *sleep_argv[] = {"/bin/sh", "-c", "sleep 30 & setsid sleep 30 & sleep 30", NULL};
  req = request(pipeline, sleep_argv);
  req.max_wall_time_ms = 500;
  double started = now_seconds();
  CHECK(run_limited(&req, &code, &sig, &wall) == CODEX_SANDBOX_OK && sig == SIGKILL && wall == 1,
        "[%s] wall clock: exit %d signal %d exceeded %d", p, code, sig, wall);
  double took = now_seconds() - started;
  CHECK(took >= 0.5 && took < 10, "[%s] wall clock took %.2f s", p, took);
  const char *quick_argv[] = {"/bin/sh", "-c", "exit 7", NULL};
  req = request(pipeline, quick_argv);
  req.max_wall_time_ms = 30000;
  CHECK(run_limited(&req, &code, &sig, &wall) == CODEX_SANDBOX_OK && code == 7 && wall == 0,
        "[%s] within the wall clock: exit %d exceeded %d", p, code, wall);

  /* An explicit budget runs (as root: in a pids cgroup of the run's own, where the plan names
   * one; test_limit_errors checks the refusal otherwise). */
  const char *fork_argv[] = {"/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1 & done; wait", NULL};
  req = request(pipeline, fork_argv);
  req.max_processes = 8;
  char *json = NULL;
  int budgeted = codex_sandbox_explain(&req, &json, NULL) == CODEX_SANDBOX_OK;
  codex_sandbox_string_free(json);
  if (budgeted) {
    /* Under a budget of 8 (init, sh, and at most 6 sleeps) sh meets "Cannot fork". */
    CHECK(run(&req, &code, NULL) == CODEX_SANDBOX_OK && code != 0,
          "[%s] 10 background sleeps under max_processes 8: exit %d", p, code);
  }

  /* A first-version request (88 bytes, no limit fields) still runs. */
  const char *true_argv[] = {"true", NULL};
  req = request(pipeline, true_argv);
  req.struct_size = 88;
  CHECK(run(&req, &code, NULL) == CODEX_SANDBOX_OK && code == 0, "[%s] a version-1 request", p);
}


/* ---------------------------------------------------------------- error paths */

static void expect_error(const char *what, const codex_sandbox_spawn_request *req,
                         codex_sandbox_result expected, const char *needle) {
  int fds_before = count_fds();
  codex_sandbox_child *child = (codex_sandbox_child *)(uintptr_t)1; /* must be reset */
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(req, &child, &err);
  const char *message = codex_sandbox_error_message(err);
  CHECK(rc == expected && codex_sandbox_error_code(err) == expected,
        "%s: got %s (%d), expected %s: %s", what, codex_sandbox_result_name(rc), (int)rc,
        codex_sandbox_result_name(expected), message);
  CHECK(err != NULL && message[0] != '\0', "%s: a message", what);
  CHECK(needle == NULL || strstr(message, needle) != NULL, "%s: message `%s` lacks `%s`", what,
        message, needle ? needle : "");
  CHECK(child == NULL, "%s: *out is NULL", what);
  CHECK(no_children(), "%s: nothing spawned", what);
  CHECK(count_fds() == fds_before, "%s: no descriptor leaked", what);
  codex_sandbox_error_free(err);

  /* Same result without an error object, and from explain. */
  child = NULL;
  CHECK(codex_sandbox_spawn(req, &child, NULL) == expected && child == NULL,
        "%s: err NULL", what);
  char *json = (char *)(uintptr_t)1;
  CHECK(codex_sandbox_explain(req, &json, NULL) == expected && json == NULL,
        "%s: explain", what);
}

static void test_limit_errors(void) {
  const char *true_argv[] = {"true", NULL};
  codex_sandbox_spawn_request req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.max_open_files = 2;
  expect_error("max_open_files 2", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "`max_open_files`: 2");
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.max_memory_bytes = 1000;
  expect_error("max_memory_bytes 1000", &req, CODEX_SANDBOX_INVALID_ARGUMENT,
               "`max_memory_bytes`: 1000 bytes");
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.max_wall_time_ms = UINT64_MAX;
  expect_error("max_wall_time_ms huge", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "`max_wall_time_ms`");
  if (getuid() == 0) {
    /* The kernel exempts the host's root from RLIMIT_NPROC: its budget is a pids cgroup of the
     * run's own where one can be made (the plan names it), and otherwise an explicit budget is
     * refused. */
    req = request(CODEX_SANDBOX_PIPELINE_BWRAP, true_argv);
    char *json = NULL;
    int cgroup = codex_sandbox_explain(&req, &json, NULL) == CODEX_SANDBOX_OK && json != NULL &&
                 strstr(json, "\"pids_cgroup\"") != NULL;
    codex_sandbox_string_free(json);
    req.max_processes = 100;
    /* (With a cgroup, test_limits runs it.) */
    if (!cgroup) expect_error("max_processes as root", &req, CODEX_SANDBOX_UNSUPPORTED, "a process budget of 100");
  }
}

static void test_errors(void) {
  const char *true_argv[] = {"true", NULL};
  codex_sandbox_spawn_request req;

  expect_error("NULL request", NULL, CODEX_SANDBOX_NULL_POINTER, "`req`");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.policy = "{\"type\": \"workspace-write\", oops}";
  expect_error("bad JSON", &req, CODEX_SANDBOX_INVALID_POLICY, "JSON");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.policy = "{\"type\": \"no-such-type\"}";
  expect_error("unknown policy type", &req, CODEX_SANDBOX_INVALID_POLICY, "no-such-type");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.policy = "read-write-everything";
  expect_error("unknown policy name", &req, CODEX_SANDBOX_INVALID_POLICY, NULL);

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.policy = NULL;
  expect_error("NULL policy", &req, CODEX_SANDBOX_NULL_POINTER, "`policy`");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.policy_cwd = "relative/dir";
  expect_error("relative policy_cwd", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "relative");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.command_cwd = "also/relative";
  expect_error("relative command_cwd", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "relative");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.struct_size = 0;
  expect_error("struct_size 0", &req, CODEX_SANDBOX_BAD_STRUCT_SIZE, "struct_size");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.struct_size = 8;
  expect_error("struct_size too small", &req, CODEX_SANDBOX_BAD_STRUCT_SIZE, "struct_size");

  struct {
    codex_sandbox_spawn_request req;
    uint64_t future_fields[2];
  } big;
  memset(&big, 0, sizeof big);
  big.req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  big.req.struct_size = (uint32_t)sizeof big;
  big.future_fields[1] = 7;
  expect_error("larger struct, non-zero tail", &big.req, CODEX_SANDBOX_BAD_STRUCT_SIZE,
               "not zero");

  req = request(99, true_argv);
  expect_error("unknown pipeline", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "pipeline");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.flags = 1u << 30;
  expect_error("unknown flag", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "flags");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, NULL);
  expect_error("NULL argv", &req, CODEX_SANDBOX_NULL_POINTER, "`argv`");

  const char *empty_argv[] = {NULL};
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, empty_argv);
  expect_error("empty argv", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "command");

  const char *bad_env[] = {"PATH=/usr/bin:/bin", "NO_EQUALS_SIGN", NULL};
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.envp = bad_env;
  expect_error("bad envp entry", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "envp[1]");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.stdout_fd = 987654;
  expect_error("bad stdout descriptor", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "stdout_fd");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.stderr_fd = -17;
  expect_error("bad stdio sentinel", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "stderr_fd");

  int low = 1;
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.extra_fds = &low;
  req.extra_fds_len = 1;
  expect_error("extra fd 1", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "extra_fds[0]");

  int closed_fd = 987655;
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.extra_fds = &closed_fd;
  req.extra_fds_len = 1;
  expect_error("closed extra fd", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "extra_fds[0]");

  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.extra_fds_len = 2;
  expect_error("NULL extra_fds", &req, CODEX_SANDBOX_NULL_POINTER, "extra_fds");

  /* Proxy mode needs a loopback proxy in the environment, and refuses anything else. */
  static const char *const no_proxy_env[] = {"PATH=/usr/bin:/bin", NULL};
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.flags = CODEX_SANDBOX_FLAG_PROXY_NETWORK;
  req.envp = no_proxy_env;
  expect_error("proxy network without a proxy", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "loopback proxy URL");
  static const char *const remote_proxy_env[] = {"HTTPS_PROXY=http://example.com:3128", NULL};
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  req.flags = CODEX_SANDBOX_FLAG_PROXY_NETWORK;
  req.envp = remote_proxy_env;
  expect_error("proxy network with a remote proxy", &req, CODEX_SANDBOX_INVALID_ARGUMENT, "HTTPS_PROXY");

  /* NULL out pointers and handles. */
  req = request(CODEX_SANDBOX_PIPELINE_AUTO, true_argv);
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(&req, NULL, &err);
  CHECK(rc == CODEX_SANDBOX_NULL_POINTER && strstr(codex_sandbox_error_message(err), "`out`"),
        "NULL out: %s", codex_sandbox_error_message(err));
  CHECK(no_children(), "NULL out: nothing spawned");
  codex_sandbox_error_free(err);
  CHECK(codex_sandbox_explain(&req, NULL, NULL) == CODEX_SANDBOX_NULL_POINTER,
        "explain NULL json_out");
  CHECK(codex_sandbox_probe(NULL, NULL) == CODEX_SANDBOX_NULL_POINTER, "probe NULL json_out");
  int code = 0;
  CHECK(codex_sandbox_wait(NULL, &code, NULL, NULL) == CODEX_SANDBOX_NULL_POINTER, "wait NULL");
  int exited = 0;
  CHECK(codex_sandbox_try_wait(NULL, &exited, NULL, NULL, NULL) == CODEX_SANDBOX_NULL_POINTER,
        "try_wait NULL");
  CHECK(codex_sandbox_kill(NULL, SIGTERM, NULL) == CODEX_SANDBOX_NULL_POINTER, "kill NULL");
  CHECK(codex_sandbox_child_pid(NULL) == -1 && codex_sandbox_child_pidfd(NULL) == -1 &&
            codex_sandbox_child_stdio_fd(NULL, 1) == -1 &&
            codex_sandbox_child_take_stdio_fd(NULL, 1) == -1,
        "child accessors on NULL");
  codex_sandbox_child_free(NULL);
  codex_sandbox_error_free(NULL);
  codex_sandbox_string_free(NULL);
  CHECK(codex_sandbox_error_code(NULL) == CODEX_SANDBOX_OK, "error_code(NULL)");
  CHECK(strcmp(codex_sandbox_error_message(NULL), "") == 0, "error_message(NULL)");
  CHECK(codex_sandbox_spawn_request_init(NULL, sizeof req) == CODEX_SANDBOX_NULL_POINTER,
        "request_init NULL");
  CHECK(codex_sandbox_spawn_request_init(&req, 4) == CODEX_SANDBOX_BAD_STRUCT_SIZE,
        "request_init too small");
  CHECK(strcmp(codex_sandbox_result_name(CODEX_SANDBOX_INVALID_POLICY),
               "CODEX_SANDBOX_INVALID_POLICY") == 0 &&
            strcmp(codex_sandbox_result_name(12345), "unknown") == 0,
        "result names");
  CHECK(codex_sandbox_abi_version() == CODEX_SANDBOX_ABI_VERSION, "ABI version");
  CHECK(codex_sandbox_version() != NULL && codex_sandbox_version()[0] != '\0', "version");
  CHECK(no_children(), "error paths: nothing spawned");
}

static void test_json(void) {
  const char *argv[] = {"true", NULL};
  codex_sandbox_spawn_request req = request(CODEX_SANDBOX_PIPELINE_LANDLOCK, argv);
  char *json = NULL;
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_explain(&req, &json, &err);
  if (landlock_available) {
    CHECK(rc == CODEX_SANDBOX_OK && err == NULL, "explain: %s", codex_sandbox_error_message(err));
    CHECK(looks_like_json_object(json), "explain JSON: %.200s", json ? json : "(null)");
    CHECK(json && strstr(json, "\"pipeline\": \"landlock\"") && strstr(json, "\"process\""),
          "explain keys: %.300s", json ? json : "(null)");
    CHECK(json && strstr(json, workspace), "explain names the workspace");
  } else {
    /* A pipeline the host cannot enforce is an error, never a run without it. */
    CHECK(rc == CODEX_SANDBOX_UNSUPPORTED && json == NULL &&
              strstr(codex_sandbox_error_message(err), "Landlock"),
          "explain without Landlock: %s: %s", codex_sandbox_result_name(rc),
          codex_sandbox_error_message(err));
  }
  codex_sandbox_string_free(json);
  codex_sandbox_error_free(err);

  /* A policy that needs no pipeline explains on any host. */
  codex_sandbox_spawn_request full = request(CODEX_SANDBOX_PIPELINE_AUTO, argv);
  full.policy = "danger-full-access";
  json = NULL;
  rc = codex_sandbox_explain(&full, &json, NULL);
  CHECK(rc == CODEX_SANDBOX_OK && looks_like_json_object(json) &&
            strstr(json, "\"pipeline\": \"unsandboxed\""),
        "explain danger-full-access: %.300s", json ? json : "(null)");
  codex_sandbox_string_free(json);

  json = NULL;
  rc = codex_sandbox_probe(&json, NULL);
  CHECK(rc == CODEX_SANDBOX_OK && looks_like_json_object(json) &&
            strstr(json, "\"auto_pipeline\""),
        "probe JSON: %.300s", json ? json : "(null)");
  codex_sandbox_string_free(json);

  json = NULL;
  rc = codex_sandbox_seatbelt(&req, &json, &err);
  CHECK(rc == CODEX_SANDBOX_OK && looks_like_json_object(json) &&
            strstr(json, "/usr/bin/sandbox-exec") && strstr(json, "(deny default)"),
        "seatbelt JSON: %s %.300s", codex_sandbox_error_message(err), json ? json : "(null)");
  codex_sandbox_string_free(json);
  codex_sandbox_error_free(err);

  /* Proxy mode with no proxy variable: the profile must allow no network at all, even for a
     policy with network access (spawn refuses the same request). */
  static const char *const no_proxy_env[] = {"PATH=/usr/bin:/bin", NULL};
  codex_sandbox_spawn_request proxy_req = request(CODEX_SANDBOX_PIPELINE_AUTO, argv);
  proxy_req.policy = "{\"type\":\"read-only\",\"network_access\":true}";
  proxy_req.flags = CODEX_SANDBOX_FLAG_PROXY_NETWORK;
  proxy_req.envp = no_proxy_env;
  json = NULL;
  err = NULL;
  rc = codex_sandbox_seatbelt(&proxy_req, &json, &err);
  CHECK(rc == CODEX_SANDBOX_OK && json && !strstr(json, "(allow network-outbound)\\n") &&
            !strstr(json, "(allow network-outbound)\""),
        "seatbelt proxy mode without a proxy is closed: %.400s", json ? json : "(null)");
  codex_sandbox_string_free(json);
  codex_sandbox_error_free(err);
  CHECK(no_children(), "explain/probe/seatbelt: no child left");
}

/* ---------------------------------------------------------------- threads */

#define SPAWN_THREADS 16
#define SPAWNS_PER_THREAD 25
#define ALLOC_THREADS 4

static atomic_int stop_allocating;
static atomic_int spawn_ok;
static atomic_int spawn_bad;
static uint32_t stress_pipeline;

static void *allocate_loop(void *arg) {
  (void)arg;
  unsigned seed = 1;
  void *slots[64] = {0};
  while (!atomic_load(&stop_allocating)) {
    seed = seed * 1103515245u + 12345u;
    unsigned i = (seed >> 8) % 64;
    free(slots[i]);
    slots[i] = malloc(16 + (seed >> 16) % 4096);
    if (slots[i]) memset(slots[i], 0xa5, 16);
  }
  for (int i = 0; i < 64; i++) free(slots[i]);
  return NULL;
}

static void *spawn_loop(void *arg) {
  const char *cwd = arg; /* this thread's workspace */
  const char *argv[] = {"true", NULL};
  for (int i = 0; i < SPAWNS_PER_THREAD; i++) {
    codex_sandbox_spawn_request req = request(stress_pipeline, argv);
    req.policy_cwd = cwd;
    int code = -100, sig = -100;
    if (run(&req, &code, &sig) == CODEX_SANDBOX_OK && code == 0 && sig == 0) {
      atomic_fetch_add(&spawn_ok, 1);
    } else {
      atomic_fetch_add(&spawn_bad, 1);
    }
  }
  return NULL;
}

static void test_threads(uint32_t pipeline) {
  stress_pipeline = pipeline;
  int before = count_fds();
  /* Each thread has its own workspace (with the workspace-write policy, so each spawn also
   * creates and removes a `.codex` placeholder there). CODEX_SANDBOX_TEST_SHARED_CWD=1 makes
   * all threads share one workspace instead, which exercises the core's placeholder sharing
   * between concurrent sandboxes. */
  const char *shared = getenv("CODEX_SANDBOX_TEST_SHARED_CWD");
  int share = shared != NULL && strcmp(shared, "1") == 0;
  static char dirs[SPAWN_THREADS][160];
  for (int i = 0; i < SPAWN_THREADS; i++) {
    if (share) {
      snprintf(dirs[i], sizeof dirs[i], "%s", workspace);
    } else {
      snprintf(dirs[i], sizeof dirs[i], "%s/thread-%d", scratch, i);
      mkdir(dirs[i], 0755);
    }
  }
  pthread_t spawners[SPAWN_THREADS], allocators[ALLOC_THREADS];
  for (int i = 0; i < ALLOC_THREADS; i++) pthread_create(&allocators[i], NULL, allocate_loop, NULL);
  for (int i = 0; i < SPAWN_THREADS; i++) pthread_create(&spawners[i], NULL, spawn_loop, dirs[i]);
  for (int i = 0; i < SPAWN_THREADS; i++) pthread_join(spawners[i], NULL);
  if (!share) {
    for (int i = 0; i < SPAWN_THREADS; i++) {
      char codex[192];
      snprintf(codex, sizeof codex, "%s/thread-%d/.codex", scratch, i);
      CHECK(access(codex, F_OK) != 0, "[%s] threads: placeholder %s removed",
            pipeline_name(pipeline), codex);
      rmdir(dirs[i]);
    }
  }
  atomic_store(&stop_allocating, 1);
  for (int i = 0; i < ALLOC_THREADS; i++) pthread_join(allocators[i], NULL);
  CHECK(atomic_load(&spawn_ok) == SPAWN_THREADS * SPAWNS_PER_THREAD && atomic_load(&spawn_bad) == 0,
        "[%s] threads: %d ok, %d failed of %d", pipeline_name(pipeline), atomic_load(&spawn_ok),
        atomic_load(&spawn_bad), SPAWN_THREADS * SPAWNS_PER_THREAD);
  CHECK(count_fds() == before, "[%s] threads: descriptors %d before, %d after",
        pipeline_name(pipeline), before, count_fds());
  CHECK(no_children(), "[%s] threads: every child reaped", pipeline_name(pipeline));
}

/* A host with fds 0 and 2 closed: the stderr target it opens lands on fd 0. A missing command
 * must still be reported as not found, and nothing (no failure record) may reach the target. */
static void test_closed_stdio(uint32_t pipeline) {
  const char *p = pipeline_name(pipeline);
  char path[192];
  snprintf(path, sizeof path, "%s/stderr-target", scratch);
  pid_t pid = fork();
  if (pid == 0) {
    close(0);
    close(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *argv[] = {"no-such-command-codex-c-test", NULL};
    /* A PATH every user may search (an unsearchable entry would make it EACCES, as execvp). */
    const char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    codex_sandbox_spawn_request req = request(pipeline, argv);
    req.envp = envp;
    req.stderr_fd = fd;
    codex_sandbox_child *child = NULL;
    codex_sandbox_error *err = NULL;
    codex_sandbox_result rc = codex_sandbox_spawn(&req, &child, &err);
    int ok = fd == 0 && rc == CODEX_SANDBOX_COMMAND_NOT_FOUND && child == NULL;
    if (!ok) dprintf(1, "closed-stdio host: fd %d, %s: %s\n", fd, codex_sandbox_result_name(rc), codex_sandbox_error_message(err));
    if (child != NULL) {
      int code, sig;
      codex_sandbox_wait(child, &code, &sig, NULL);
      codex_sandbox_child_free(child);
    }
    codex_sandbox_error_free(err);
    close(fd);
    struct stat st;
    ok = ok && stat(path, &st) == 0 && st.st_size == 0;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "[%s] host with fds 0 and 2 closed: status %#x", p, status);
  unlink(path);
}

/* A failure inside the sandbox's setup keeps its errno and names what it was acting on: the
 * command's directory does not exist in a restricted-read view (namespace pipeline). */
static void test_setup_errno(void) {
  char other[192];
  snprintf(other, sizeof other, "%s/other", scratch);
  mkdir(other, 0755);
  const char *argv[] = {"true", NULL};
  codex_sandbox_spawn_request req = request(CODEX_SANDBOX_PIPELINE_BWRAP, argv);
  req.policy = "{\"type\": \"read-only\", \"access\": {\"type\": \"restricted\", "
               "\"include_platform_defaults\": true, \"readable_roots\": []}}";
  req.command_cwd = other;
  codex_sandbox_child *child = NULL;
  codex_sandbox_error *err = NULL;
  codex_sandbox_result rc = codex_sandbox_spawn(&req, &child, &err);
  const char *message = codex_sandbox_error_message(err);
  CHECK(rc == CODEX_SANDBOX_SPAWN_FAILED && child == NULL, "setup failure: %s: %s",
        codex_sandbox_result_name(rc), message);
  CHECK(codex_sandbox_error_errno(err) == ENOENT, "setup failure errno %d, expected ENOENT (%s)",
        codex_sandbox_error_errno(err), message);
  CHECK(message != NULL && strstr(message, other) != NULL, "setup failure names %s: %s", other,
        message);
  codex_sandbox_error_free(err);
  rmdir(other);
}

/* ---------------------------------------------------------------- main */

static void setup(void) {
  strcpy(scratch, "/tmp/codex-ffi-test.XXXXXX");
  if (mkdtemp(scratch) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
  snprintf(workspace, sizeof workspace, "%s/work", scratch);
  snprintf(outside, sizeof outside, "%s/outside.txt", scratch);
  if (mkdir(workspace, 0755) != 0) {
    perror("mkdir");
    exit(2);
  }
  FILE *f = fopen(outside, "w");
  if (f == NULL || fputs("original\n", f) < 0 || fclose(f) != 0) {
    perror(outside);
    exit(2);
  }
  /* Only the workspace is writable: /tmp and $TMPDIR are excluded, so outside.txt is not. */
  snprintf(policy, sizeof policy,
           "{\"type\": \"workspace-write\", \"exclude_slash_tmp\": true, "
           "\"exclude_tmpdir_env_var\": true}");
}

static void cleanup(void) {
  char path[256];
  const char *names[] = {"work/inside.txt", "work/.codex", "work/sub", "work", "outside.txt"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", scratch, names[i]);
    if (unlink(path) != 0) rmdir(path);
  }
  rmdir(scratch);
}

int main(int argc, char **argv) {
  int errors_only = 0, stress = 1;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--errors-only") == 0) errors_only = 1;
    else if (strcmp(argv[i], "--no-stress") == 0) stress = 0;
    else {
      fprintf(stderr, "usage: %s [--errors-only] [--no-stress]\n", argv[0]);
      return 2;
    }
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  alarm(300); /* a deadlock fails the run instead of hanging it */
  setup();
  printf("libcodex_sandbox %s (ABI %u), uid %d\n", codex_sandbox_version(),
         codex_sandbox_abi_version(), (int)getuid());

  probe_host();
  printf("host: landlock %s, namespaces %s\n", landlock_available ? "available" : "unavailable",
         namespaces_available ? "available" : "unavailable");
  test_errors();
  test_limit_errors();
  test_json();
  if (!errors_only) {
    const char *wanted = getenv("CODEX_SANDBOX_TEST_PIPELINES");
    if (wanted == NULL || *wanted == '\0') wanted = "landlock,bwrap";
    uint32_t pipelines[] = {CODEX_SANDBOX_PIPELINE_LANDLOCK, CODEX_SANDBOX_PIPELINE_BWRAP};
    for (size_t i = 0; i < 2; i++) {
      if (strstr(wanted, pipeline_name(pipelines[i])) == NULL) continue;
      int failed_before = atomic_load(&failed);
      test_true_and_statuses(pipelines[i]);
      test_write_outside_fails(pipelines[i]);
      test_pipes(pipelines[i]);
      test_unix_sockets(pipelines[i]);
      test_larger_struct(pipelines[i]);
      test_closed_stdio(pipelines[i]);
      test_protected_names(pipelines[i]);
      test_limits(pipelines[i]);
      printf("pipeline %s: %s\n", pipeline_name(pipelines[i]),
             atomic_load(&failed) == failed_before ? "ok" : "FAILED");
    }
    if (strstr(wanted, "bwrap") != NULL) test_setup_errno();
    if (stress) test_threads(CODEX_SANDBOX_PIPELINE_AUTO);
  }
  cleanup();
  int p = atomic_load(&passed), f = atomic_load(&failed);
  printf("%d passed, %d failed\n", p, f);
  return f == 0 ? 0 : 1;
}
