// Type definitions for @codex/linux-sandbox (hand-written; keep in step with node/lib/*.js).

/// <reference types="node" />

import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';

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
    };

export type ReadAccess =
  | { type: 'full-access' }
  | { type: 'restricted'; include_platform_defaults?: boolean; readable_roots?: string[] };

/** Where one standard stream goes: a pipe, the parent's own stream, /dev/null, or a descriptor. */
export type StdioEntry = 'pipe' | 'overlapped' | 'inherit' | 'ignore' | number | { fd: number } | null | undefined;

export type SignalName = NodeJS.Signals;

/** The stable `code`s of errors thrown or emitted by this package. */
export type SandboxErrorCode =
  | 'ERR_SANDBOX_INVALID_ARGUMENT'
  | 'ERR_SANDBOX_INVALID_POLICY'
  | 'ERR_SANDBOX_UNSUPPORTED'
  | 'ERR_SANDBOX_SPAWN_FAILED'
  | 'ERR_SANDBOX_COMMAND_NOT_FOUND'
  | 'ERR_SANDBOX_COMMAND_NOT_EXECUTABLE'
  | 'ERR_SANDBOX_PERMISSION_DENIED'
  | 'ERR_SANDBOX_INTERNAL'
  | 'ERR_SANDBOX_ADDON_LOAD'
  | 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER'
  | 'ABORT_ERR';

export interface SandboxError extends Error {
  code: SandboxErrorCode;
  /** The OS error number behind a setup failure, when there is one (positive, as in errno.h). */
  errno?: number;
  /** Its name, e.g. `'EACCES'`. */
  errnoCode?: string;
  /** For failures to start a command: the command and its argv. */
  path?: string;
  spawnargs?: string[];
}

/** Options that decide the sandbox. Shared by spawn(), run(), explain() and seatbeltPolicy(). */
export interface SandboxOptions {
  /** Where the command runs. Default: `process.cwd()`. Relative paths are resolved. */
  cwd?: string | URL;
  /** The command's whole environment. Default: `process.env`. `undefined` values are skipped. */
  env?: NodeJS.ProcessEnv | Record<string, string | number | boolean | undefined>;
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
   * Default: the policy decides.
   */
  network?: 'restricted' | 'full' | 'proxy';
  /** Do not mount a fresh `/proc` (namespace pipeline). */
  noProc?: boolean;
  /** Run a namespace plan with this installed `bwrap` instead of the embedded launcher. */
  bwrapPath?: string;
}

export interface SpawnOptions extends SandboxOptions {
  /** Default `'pipe'` for all three. At most three entries: no extra descriptors. */
  stdio?: 'pipe' | 'inherit' | 'ignore' | 'overlapped' | StdioEntry[];
  /** Aborting kills the command with `killSignal` and emits an `AbortError` ('error' event). */
  signal?: AbortSignal;
  /** Milliseconds after which the command is sent `killSignal`. 0 or absent: no limit. */
  timeout?: number;
  /** Default `'SIGTERM'`. */
  killSignal?: SignalName | number;
}

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
}

/**
 * A sandboxed command, shaped like `child_process.ChildProcess`.
 *
 * Events: `'spawn'` (started), `'exit'` (code, signal), `'close'` (code, signal: after exit
 * and the end of stdout and stderr), `'error'` (could not start; aborted; could not be reaped).
 */
export declare class SandboxedChild extends EventEmitter {
  private constructor();
  /** Under the namespace pipeline, the sandbox's init (which forwards signals to the command). Undefined when it failed to start. */
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: [Writable | null, Readable | null, Readable | null];
  readonly exitCode: number | null;
  readonly signalCode: SignalName | null;
  /** A kill() was delivered. */
  readonly killed: boolean;
  /** The `timeout` option fired. */
  readonly timedOut?: boolean;
  readonly spawnfile: string;
  readonly spawnargs: string[];
  /**
   * Sends a signal (default `'SIGTERM'`) through the child's pidfd. Returns false when the
   * command has already ended. Throws `ERR_SANDBOX_INVALID_ARGUMENT` for an unknown signal.
   */
  kill(signal?: SignalName | number): boolean;
  /** Lets the event loop exit while this child runs (unref its streams too). */
  unref(): this;
  ref(): this;

  on(event: 'spawn', listener: () => void): this;
  on(event: 'exit' | 'close', listener: (code: number | null, signal: SignalName | null) => void): this;
  on(event: 'error', listener: (error: SandboxError) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'spawn', listener: () => void): this;
  once(event: 'exit' | 'close', listener: (code: number | null, signal: SignalName | null) => void): this;
  once(event: 'error', listener: (error: SandboxError) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

/**
 * Starts `command` (looked up in the child's `PATH` when it has no slash) in the sandbox.
 * Invalid input (options, policy, an unsupported request) throws synchronously and nothing is
 * started; a command that cannot be started (not found, not executable, sandbox setup failed)
 * is reported through the `'error'` event, as child_process reports ENOENT.
 */
export declare function spawn(command: string, args?: readonly string[], options?: SpawnOptions): SandboxedChild;
export declare function spawn(command: string, options?: SpawnOptions): SandboxedChild;

/**
 * Runs `command` to completion and resolves with its status and output, whatever the exit
 * status. Rejects (with a coded error) on invalid input, failure to start, abort or maxBuffer.
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
  /** Let the command listen on local ports and reach any loopback port. */
  allowLocalBinding?: boolean;
  /** Unix sockets (or directories of them) the command may use, or `'all'`. */
  unixSockets?: 'all' | string[];
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
