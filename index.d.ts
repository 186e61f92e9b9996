// Type definitions for @codex/linux-sandbox (hand-written; keep in step with node/lib/*.js).

/// <reference types="node" />

import type * as cp from 'node:child_process';
import type { Readable, Stream, Writable } from 'node:stream';

/**
 * Codex's sandbox policy: an object in Codex's JSON shape, the same as JSON text, or one of the
 * plain names. Unknown fields are refused (`ERR_SANDBOX_INVALID_POLICY`).
 */
export type SandboxPolicy =
  | 'read-only'
  | 'workspace-write'
  | 'danger-full-access'
  | string
  | { type: 'danger-full-access' }
  | { type: 'read-only'; access?: ReadAccess; network_access?: boolean }
  | { type: 'external-sandbox'; network_access?: 'restricted' | 'enabled' }
  | {
      type: 'workspace-write';
      writable_roots?: string[];
      read_only_access?: ReadAccess;
      network_access?: boolean;
      exclude_tmpdir_env_var?: boolean;
      exclude_slash_tmp?: boolean;
    }
  | PermissionProfile;

/**
 * Codex's `PermissionProfile` (what today's Codex passes its helper): a profile `type`
 * (`managed`, `disabled`, `external`), `file_system` (`{ type: 'restricted', entries: [...] }`
 * with path, special or glob entries and `read` / `write` / `none` access, or
 * `{ type: 'unrestricted' }`), `network`. The README's policy section has the full shape.
 */
export interface PermissionProfile {
  type: 'managed' | 'disabled' | 'external';
  file_system?: { type: 'restricted' | 'unrestricted'; entries?: object[]; glob_scan_max_depth?: number };
  network?: string | { type: string; [key: string]: unknown };
  [key: string]: unknown;
}

/** Codex's managed network: proxy-only networking to these loopback ports. */
export interface ManagedNetwork {
  loopbackPorts: number[];
  allowLocalBinding?: boolean;
  allowUnixSockets?: string[];
  dangerouslyAllowAllUnixSockets?: boolean;
}

export type ReadAccess =
  | { type: 'full-access' }
  | { type: 'restricted'; include_platform_defaults?: boolean; readable_roots?: string[] };

/** One stdio entry: Node's forms ('ipc' anywhere, in 'json' or 'advanced' serialization). */
export type StdioEntry = cp.IOType | 'ipc' | number | Stream | { fd: number } | null | undefined;
/** `stdio` as the sandbox accepts it: Node's forms. */
export type SandboxStdio = cp.IOType | StdioEntry[];

export type SignalName = NodeJS.Signals;

/** The `code`s of the sandbox's own errors (thrown or emitted). */
export type SandboxErrorCode =
  | 'ERR_SANDBOX_INVALID_ARGUMENT'
  | 'ERR_SANDBOX_INVALID_POLICY'
  | 'ERR_SANDBOX_UNSUPPORTED'
  | 'ERR_SANDBOX_SPAWN_FAILED'
  | 'ERR_SANDBOX_PERMISSION_DENIED'
  | 'ERR_SANDBOX_INTERNAL'
  | 'ERR_SANDBOX_ADDON_LOAD'
  /**
   * The command created a protected name (`sub/.git`, a name from `protect`) in a writable
   * root: removed once the run was over, and the run failed (emitted as 'error' before 'exit',
   * whose code is then 123; `spawnSync`'s `error` with `status` 123; `run()` rejects).
   */
  | 'ERR_SANDBOX_PROTECTED_NAME_CREATED';

/** The `code`s of the errors child_process also reports, which this package reports the same way. */
export type NodeErrorCode =
  | 'ENOENT'
  | 'EACCES'
  | 'ENOTDIR'
  | 'EPERM'
  | 'EAGAIN'
  | 'EMFILE'
  | 'ENFILE'
  | 'ETIMEDOUT'
  | 'ENOBUFS'
  | 'ABORT_ERR'
  | 'ERR_INVALID_ARG_TYPE'
  | 'ERR_INVALID_ARG_VALUE'
  | 'ERR_OUT_OF_RANGE'
  | 'ERR_UNKNOWN_SIGNAL'
  | 'ERR_INVALID_SYNC_FORK_INPUT'
  | 'ERR_IPC_SYNC_FORK'
  | 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER';

/**
 * An error of this package. Failures child_process also has carry Node's contract: ENOENT and
 * EACCES with a negative `errno`, `syscall: 'spawn <file>'`, `path` and `spawnargs`.
 */
export interface SandboxError extends NodeJS.ErrnoException {
  code?: SandboxErrorCode | NodeErrorCode;
  /** The name of `errno` for a sandbox setup failure (ERR_SANDBOX_*), e.g. `'EACCES'`. */
  errnoCode?: string;
  /**
   * For `ERR_SANDBOX_UNSUPPORTED` caused by the host: the check that failed (e.g.
   * `'write /proc/self/uid_map'`), whether it failed in the probe, in planning or in the
   * sandbox's first process.
   */
  check?: string;
  spawnargs?: string[];
  /** For `ERR_SANDBOX_PROTECTED_NAME_CREATED`: the command's own exit code, or null. */
  commandExitCode?: number | null;
  /** For `ERR_SANDBOX_PROTECTED_NAME_CREATED`: the signal that ended the command, or null. */
  commandSignal?: SignalName | null;
}

/** Options that decide the sandbox, accepted by every function next to Node's own options. */
export interface SandboxOptions {
  /** Default: `'read-only'`. */
  policy?: SandboxPolicy;
  /**
   * The directory the policy's cwd-relative parts (the cwd writable root, `.codex`) refer to.
   * Default: `process.cwd()` — not `cwd`, so that choosing where a command runs does not choose
   * what is writable.
   */
  policyCwd?: string | URL;
  /** Default `'auto'`: the namespace pipeline when this host allows it, else Landlock. */
  pipeline?: 'auto' | 'bwrap' | 'landlock';
  /**
   * Overrides the policy's `network_access`: `'restricted'` sets it off (refused with
   * danger-full-access), `'full'` sets it on, `'proxy'` allows only the loopback proxies named
   * in `env` (Codex's `--allow-network-for-proxy`; fails closed when none is usable).
   * `{ managed }`: Codex's managed network, only its loopback ports. Default: the policy
   * decides.
   */
  network?: 'restricted' | 'full' | 'proxy' | { managed: ManagedNetwork };
  /** Do not mount a fresh `/proc` (namespace pipeline). */
  noProc?: boolean;
  /** Run a namespace plan with this installed `bwrap` instead of the embedded launcher. */
  bwrapPath?: string;
  /**
   * Processes and threads the sandbox may have at once (default 4096), counted in its own user
   * namespace, or (the host's root, an installed bwrap) in a pids cgroup of the run's own where
   * one can be made; otherwise none (see `explain().warnings`; an explicit value is refused).
   */
  maxProcesses?: number;
  /**
   * Which unix sockets the command may reach, whatever `network` says. `'none'` (default):
   * `socket(AF_UNIX)` fails with EPERM, so no host unix socket (pathname or abstract) is
   * reachable; stream and seqpacket socketpairs (Node's own IPC and stdio pipes) keep working.
   * `'all'`: every unix socket in the sandbox's view. A list of absolute paths grants those
   * sockets only, through the connect broker (the sandbox's init performs every connect itself
   * after finding the socket by device and inode; anything else fails with EACCES): each must
   * be a socket that exists when the sandbox starts. Where the broker cannot run (an installed
   * bwrap, a kernel before 5.6) they are not granted — the command runs as under `'none'` and
   * `explain().unix_sockets.not_granted` and `warnings` say so. A managed network's `allowUnixSockets` / `dangerouslyAllowAllUnixSockets`
   * mean the same and must agree with this option.
   */
  unixSockets?: 'none' | 'all' | string[];
  /**
   * Names protected in every writable root besides the defaults `.git`, `.agents`, `.codex`
   * and `.aws` (e.g. `['.envrc', '.vscode']`): plain file names, kept read-only where present,
   * kept from being created where missing, and removed after the run wherever deeper in a
   * writable root the command created one (`ERR_SANDBOX_PROTECTED_NAME_CREATED`).
   */
  protect?: string[];
  /** Default protected names to leave unprotected (`['.git']` for a `git init` workflow). */
  unprotect?: string[];
  /**
   * Address space of each process of the sandbox (`RLIMIT_AS`), in bytes (at least 1 MiB):
   * `mmap`/`brk` beyond fail with ENOMEM. Default: no limit.
   */
  maxMemoryBytes?: number;
  /** CPU time of each process (`RLIMIT_CPU`): SIGXCPU at this many seconds, SIGKILL one later. */
  maxCpuSeconds?: number;
  /** The largest file a process may write (`RLIMIT_FSIZE`): SIGXFSZ, or EFBIG where ignored. */
  maxFileSizeBytes?: number;
  /** Open descriptors of each process (`RLIMIT_NOFILE`, 3 to 1048576): EMFILE beyond. */
  maxOpenFiles?: number;
  /**
   * Wall-clock limit of the whole run, in milliseconds: when it expires the sandbox's init kills
   * the command (`'exit'` with signal `'SIGKILL'`) and every other process of the run, and the
   * child's `wallTimeExceeded` is `true` (also on `run()`'s result, `spawnSync`'s result and
   * `exec`'s error). Unlike Node's `timeout`, which signals only the command with `killSignal`.
   * Refused for danger-full-access (no init of the sandbox's own).
   */
  maxWallTimeMs?: number;
  /**
   * Keep the caller's session, process group and controlling terminal instead of a new session
   * (as child_process does without `detached`). TIOCSTI and TIOCLINUX stay refused by the
   * seccomp filter; refused where there is none (danger-full-access) and with `detached`.
   */
  controllingTerminal?: boolean;
  /**
   * Add Codex's environment marker, `CODEX_SANDBOX_NETWORK_DISABLED=1`, when the policy has no
   * full network access (what Codex's own spawner and this package's CLI do). Off by default:
   * the command gets exactly the environment given, as with child_process.
   */
  codexMarkers?: boolean;
}

/**
 * child_process's spawn options plus the sandbox's. `uid`/`gid` switch the command's ids as
 * child_process does (root only, else EPERM; not with `bwrapPath`); `detached` children
 * outlive the spawning thread (the command always gets a new session unless
 * `controllingTerminal`).
 */
export interface SpawnOptions extends Omit<cp.SpawnOptions, 'stdio'>, SandboxOptions {
  stdio?: SandboxStdio | undefined;
}
export interface SpawnOptionsWithoutStdio extends Omit<cp.SpawnOptionsWithoutStdio, 'stdio'>, SandboxOptions {
  stdio?: cp.StdioPipeNamed | [cp.StdioPipe?, cp.StdioPipe?, cp.StdioPipe?] | undefined;
}
export interface SpawnOptionsWithStdioTuple<
  Stdin extends cp.StdioNull | cp.StdioPipe,
  Stdout extends cp.StdioNull | cp.StdioPipe,
  Stderr extends cp.StdioNull | cp.StdioPipe,
> extends cp.SpawnOptionsWithStdioTuple<Stdin, Stdout, Stderr>, SandboxOptions {}

/** The stream a tuple entry gives: the pipe's end for 'pipe', else null. */
type PipeEnd<T, S> = T extends cp.StdioPipe ? S : null;

export interface RunOptions extends SpawnOptions {
  /** Bytes of stdout + stderr kept; beyond it the command is killed and run() rejects. Default 1 MiB. */
  maxBuffer?: number;
  /** Default `'utf8'`; `'buffer'` (or `null`) resolves with Buffers. */
  encoding?: BufferEncoding | 'buffer' | null;
  /** Written to the command's stdin, which is then closed. Without it stdin is /dev/null. */
  input?: string | NodeJS.ArrayBufferView;
}

export interface RunResult<T extends string | Buffer = string> {
  /** The exit code, or null when the command died of a signal. */
  code: number | null;
  /** The signal that ended the command, or null. */
  signal: SignalName | null;
  stdout: T;
  stderr: T;
  /** The `timeout` option fired. */
  timedOut: boolean;
  /** The sandbox's wall-clock limit (`maxWallTimeMs`) ended the run (signal `'SIGKILL'`). */
  wallTimeExceeded: boolean;
}

/**
 * A sandboxed command: a real `child_process.ChildProcess` (instanceof holds), with Node's
 * events, fields and methods. `pid` is the command's own (not the sandbox's init).
 */
export declare class SandboxedChild extends cp.ChildProcess {
  private constructor();
  /** `true` once the sandbox's wall-clock limit (`maxWallTimeMs`) has ended the run; absent otherwise. */
  wallTimeExceeded?: true;
}

/** child_process.ChildProcess itself (for `instanceof`). */
export declare const ChildProcess: typeof cp.ChildProcess;
export type ChildProcess = cp.ChildProcess;

/**
 * child_process.spawn in the sandbox. Invalid input throws synchronously (Node's TypeError /
 * RangeError, or ERR_SANDBOX_* for the sandbox's options) and nothing is started; a command that
 * cannot be started (ENOENT, EACCES, sandbox setup failed) is reported through `'error'`.
 */
export declare function spawn(command: string, options?: SpawnOptionsWithoutStdio): cp.ChildProcessWithoutNullStreams;
export declare function spawn<I extends cp.StdioNull | cp.StdioPipe, O extends cp.StdioNull | cp.StdioPipe, E extends cp.StdioNull | cp.StdioPipe>(
  command: string,
  options: SpawnOptionsWithStdioTuple<I, O, E>,
): cp.ChildProcessByStdio<PipeEnd<I, Writable>, PipeEnd<O, Readable>, PipeEnd<E, Readable>>;
export declare function spawn(command: string, options: SpawnOptions): cp.ChildProcess;
export declare function spawn(command: string, args?: readonly string[], options?: SpawnOptionsWithoutStdio): cp.ChildProcessWithoutNullStreams;
export declare function spawn<I extends cp.StdioNull | cp.StdioPipe, O extends cp.StdioNull | cp.StdioPipe, E extends cp.StdioNull | cp.StdioPipe>(
  command: string,
  args: readonly string[],
  options: SpawnOptionsWithStdioTuple<I, O, E>,
): cp.ChildProcessByStdio<PipeEnd<I, Writable>, PipeEnd<O, Readable>, PipeEnd<E, Readable>>;
export declare function spawn(command: string, args: readonly string[], options: SpawnOptions): cp.ChildProcess;

export type SpawnSyncOptions = Omit<cp.SpawnSyncOptions, 'stdio'> & SandboxOptions & { stdio?: SandboxStdio };
/** child_process.spawnSync in the sandbox (blocks the thread, as Node's does). */
export declare function spawnSync(command: string): cp.SpawnSyncReturns<Buffer>;
export declare function spawnSync(command: string, options: SpawnSyncOptions & { encoding: BufferEncoding }): cp.SpawnSyncReturns<string>;
export declare function spawnSync(command: string, options: SpawnSyncOptions & { encoding?: 'buffer' | null }): cp.SpawnSyncReturns<Buffer>;
export declare function spawnSync(command: string, options?: SpawnSyncOptions): cp.SpawnSyncReturns<string | Buffer>;
export declare function spawnSync(command: string, args: readonly string[]): cp.SpawnSyncReturns<Buffer>;
export declare function spawnSync(command: string, args: readonly string[], options: SpawnSyncOptions & { encoding: BufferEncoding }): cp.SpawnSyncReturns<string>;
export declare function spawnSync(command: string, args: readonly string[], options: SpawnSyncOptions & { encoding?: 'buffer' | null }): cp.SpawnSyncReturns<Buffer>;
export declare function spawnSync(command: string, args?: readonly string[], options?: SpawnSyncOptions): cp.SpawnSyncReturns<string | Buffer>;

export type ExecSyncOptions = Omit<cp.ExecSyncOptions, 'stdio'> & SandboxOptions & { stdio?: SandboxStdio };
/** child_process.execSync in the sandbox: throws when the command fails. */
export declare function execSync(command: string): Buffer;
export declare function execSync(command: string, options: ExecSyncOptions & { encoding: BufferEncoding }): string;
export declare function execSync(command: string, options: ExecSyncOptions & { encoding?: 'buffer' | null }): Buffer;
export declare function execSync(command: string, options?: ExecSyncOptions): string | Buffer;

export type ExecFileSyncOptions = Omit<cp.ExecFileSyncOptions, 'stdio'> & SandboxOptions & { stdio?: SandboxStdio };
/** child_process.execFileSync in the sandbox: throws when the command fails. */
export declare function execFileSync(file: string): Buffer;
export declare function execFileSync(file: string, options: ExecFileSyncOptions & { encoding: BufferEncoding }): string;
export declare function execFileSync(file: string, options: ExecFileSyncOptions & { encoding?: 'buffer' | null }): Buffer;
export declare function execFileSync(file: string, options?: ExecFileSyncOptions): string | Buffer;
export declare function execFileSync(file: string, args: readonly string[]): Buffer;
export declare function execFileSync(file: string, args: readonly string[], options: ExecFileSyncOptions & { encoding: BufferEncoding }): string;
export declare function execFileSync(file: string, args: readonly string[], options: ExecFileSyncOptions & { encoding?: 'buffer' | null }): Buffer;
export declare function execFileSync(file: string, args?: readonly string[], options?: ExecFileSyncOptions): string | Buffer;

export type ExecOptions = cp.ExecOptions & SandboxOptions;
type ExecCallback<T> = (error: cp.ExecException | null, stdout: T, stderr: T) => void;
/** child_process.exec in the sandbox (a `/bin/sh -c` command line). util.promisify gives `{ stdout, stderr }`. */
export declare function exec(command: string, callback?: ExecCallback<string>): cp.ChildProcess;
export declare function exec(command: string, options: ExecOptions & { encoding: 'buffer' | null }, callback?: ExecCallback<Buffer>): cp.ChildProcess;
export declare function exec(command: string, options: ExecOptions & { encoding: BufferEncoding }, callback?: ExecCallback<string>): cp.ChildProcess;
export declare function exec(command: string, options: ExecOptions | undefined | null, callback?: ExecCallback<string | Buffer>): cp.ChildProcess;
export declare namespace exec {
  function __promisify__(command: string): cp.PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(command: string, options: ExecOptions & { encoding: 'buffer' | null }): cp.PromiseWithChild<{ stdout: Buffer; stderr: Buffer }>;
  function __promisify__(command: string, options: ExecOptions & { encoding: BufferEncoding }): cp.PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(command: string, options?: ExecOptions | null): cp.PromiseWithChild<{ stdout: string | Buffer; stderr: string | Buffer }>;
}

export type ExecFileOptions = cp.ExecFileOptions & SandboxOptions;
/** child_process.execFile in the sandbox. util.promisify gives `{ stdout, stderr }`. */
export declare function execFile(file: string, callback?: ExecCallback<string>): cp.ChildProcess;
export declare function execFile(file: string, args: readonly string[] | undefined | null, callback?: ExecCallback<string>): cp.ChildProcess;
export declare function execFile(file: string, options: ExecFileOptions & { encoding: 'buffer' | null }, callback?: ExecCallback<Buffer>): cp.ChildProcess;
export declare function execFile(file: string, args: readonly string[] | undefined | null, options: ExecFileOptions & { encoding: 'buffer' | null }, callback?: ExecCallback<Buffer>): cp.ChildProcess;
export declare function execFile(file: string, options: ExecFileOptions & { encoding?: BufferEncoding }, callback?: ExecCallback<string>): cp.ChildProcess;
export declare function execFile(file: string, args: readonly string[] | undefined | null, options: ExecFileOptions & { encoding?: BufferEncoding }, callback?: ExecCallback<string>): cp.ChildProcess;
export declare function execFile(file: string, args: readonly string[] | undefined | null, options: ExecFileOptions | undefined | null, callback?: ExecCallback<string | Buffer>): cp.ChildProcess;
export declare namespace execFile {
  function __promisify__(file: string, args?: readonly string[] | null): cp.PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(file: string, options: ExecFileOptions & { encoding: 'buffer' | null }): cp.PromiseWithChild<{ stdout: Buffer; stderr: Buffer }>;
  function __promisify__(file: string, args: readonly string[] | null | undefined, options: ExecFileOptions & { encoding: 'buffer' | null }): cp.PromiseWithChild<{ stdout: Buffer; stderr: Buffer }>;
  function __promisify__(file: string, options: ExecFileOptions & { encoding?: BufferEncoding }): cp.PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(file: string, args: readonly string[] | null | undefined, options: ExecFileOptions & { encoding?: BufferEncoding }): cp.PromiseWithChild<{ stdout: string; stderr: string }>;
  function __promisify__(file: string, args: readonly string[] | null | undefined, options: ExecFileOptions | null | undefined): cp.PromiseWithChild<{ stdout: string | Buffer; stderr: string | Buffer }>;
}

/**
 * child_process.fork in the sandbox: a Node child with an IPC channel (`process.send`,
 * `'message'`) in Node's 'json' or 'advanced' serialization, and handles (servers, sockets)
 * sent both ways: the parent's end is Node's own channel.
 */
export declare function fork(modulePath: string | URL, options?: cp.ForkOptions & SandboxOptions): cp.ChildProcess;
export declare function fork(modulePath: string | URL, args?: readonly string[], options?: cp.ForkOptions & SandboxOptions): cp.ChildProcess;

/**
 * Runs `command` to completion and resolves with its status and output, whatever the exit
 * status. Rejects on invalid input, failure to start, abort or maxBuffer.
 */
export declare function run(command: string, args?: readonly string[], options?: RunOptions & { encoding?: BufferEncoding }): Promise<RunResult<string>>;
export declare function run(command: string, args: readonly string[], options: RunOptions & { encoding: 'buffer' | null }): Promise<RunResult<Buffer>>;
export declare function run(command: string, options?: RunOptions & { encoding?: BufferEncoding }): Promise<RunResult<string>>;

/** The plan spawn() would carry out for the same arguments (JSON data), without running anything. */
export declare function explain(command: string, args?: readonly string[], options?: SpawnOptions): SandboxPlan;
export declare function explain(command: string, options?: SpawnOptions): SandboxPlan;

/** The core's plan. Keys are the core's (snake_case); see `codex-linux-sandbox --explain`. */
export interface SandboxPlan {
  pipeline: 'unsandboxed' | 'seccomp-only' | 'landlock' | 'bwrap';
  pipeline_reason: string;
  policy: object;
  filesystem: object;
  network: string;
  /**
   * The unix-socket capability: what was asked for, what is enforced (`none`, `all`, or
   * `paths`: `granted_paths`, enforced by `enforced_by`, the connect broker), and the paths not
   * granted.
   */
  unix_sockets: {
    requested: { mode: 'none' | 'all' } | { mode: 'paths'; paths: string[] };
    granted: 'none' | 'all' | 'paths';
    granted_paths?: string[];
    enforced_by?: string;
    meaning: string;
    not_granted?: string[];
  };
  process: { argv: string[]; cwd: string; exec_candidates: string[]; [key: string]: unknown };
  env_added: [string, string][];
  warnings: string[];
  [key: string]: unknown;
}

/** What this host can enforce. */
export declare function probe(): HostProbe;

export interface HostProbe {
  kernel: string;
  uid: number;
  landlock: { available: boolean; detail: string };
  namespaces: { available: boolean; detail: string };
  system_bwrap: string | null;
  auto_pipeline: 'bwrap' | 'landlock';
}

export interface SeatbeltOptions extends SandboxOptions {
  cwd?: string | URL;
  env?: NodeJS.ProcessEnv;
  /** Let the command listen on local ports and reach any loopback port. */
  allowLocalBinding?: boolean;
  /** Unix sockets (or directories of them) the command may use, `'all'` or `'none'` (default). */
  unixSockets?: 'none' | 'all' | string[];
  /** Absolute glob patterns of files the command must not read. */
  denyReadGlobs?: string[];
}

/**
 * The macOS `sandbox-exec` invocation for the same policy, generated on any host (this
 * package itself runs on Linux only). `network: 'proxy'` limits the profile to the proxies
 * named in `env`.
 */
export declare function seatbeltPolicy(command: string, args?: readonly string[], options?: SeatbeltOptions): SeatbeltCommand;
export declare function seatbeltPolicy(command: string, options?: SeatbeltOptions): SeatbeltCommand;

export interface SeatbeltCommand {
  /** Always `/usr/bin/sandbox-exec`. */
  program: string;
  /** `-p PROFILE -DNAME=value... -- COMMAND...` */
  args: string[];
  /** Variables to set on top of the command's environment. */
  env: Record<string, string>;
  warnings?: string[];
}

/** The loopback proxies an environment (default `process.env`) names, and the values it could not use. */
export declare function proxyEndpoints(env?: NodeJS.ProcessEnv | Record<string, string | undefined>): ProxyEndpoints;

export interface ProxyEndpoints {
  config_present: boolean;
  endpoints: { variable: string; addr: string }[];
  diagnostics: { variable: string; value: string; problem: { kind: string; [key: string]: unknown } }[];
}

export interface ProxyEnvEndpoints {
  /** The HTTP (CONNECT) proxy as `ip:port`, e.g. `'127.0.0.1:3128'` or `'[::1]:3128'`. */
  http: string;
  /** An optional SOCKS5 proxy, same form (ALL_PROXY and FTP_PROXY get it). */
  socks?: string;
  /** Loopback and private ranges bypass the proxy (NO_PROXY). */
  allowLocalBinding?: boolean;
  /** Overrides the NO_PROXY list. */
  noProxy?: string;
}

/**
 * A copy of `env` that points every common tool (curl, npm, yarn, pip, cargo, the JVM build
 * tools, Node's fetch) at the given proxies, with stale proxy variables removed. Pass the result
 * as `env` together with `network: 'proxy'`.
 */
export declare function proxyEnv(env: NodeJS.ProcessEnv | Record<string, string | undefined>, endpoints: ProxyEnvEndpoints): Record<string, string>;

/** The package (and addon) version. */
export declare const version: string;
