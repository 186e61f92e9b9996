'use strict';
// The public API of @codex/linux-sandbox, built on the native addon handed in by index.js:
// child_process's functions (spawn, exec, execFile, spawnSync, execSync, execFileSync) with
// Node's semantics and the sandbox's options on top, plus the sandbox's own helpers.

const fs = require('node:fs');
const os = require('node:os');
const errors = require('./errors.js');
const opts = require('./options.js');
const childModule = require('./child.js');
const createExec = require('./exec.js');
const { channelSupported } = require('./channel.js');

const { SandboxedChild, kReferenced } = childModule;
const { fromNative, isInputError, sandboxError, invalidArgument, errnoException, abortError } = errors;
const { ENOENT, ENOEXEC, EACCES, EAGAIN, EMFILE, ENFILE, EPERM } = os.constants.errno;

/** The errors libuv reports through 'error' (Node throws every other spawn errno). */
const REPORTED_ERRNOS = new Set([EACCES, EAGAIN, EMFILE, ENFILE, ENOENT]);

module.exports = function createSandbox(binding) {
  /** Running children by reaper id; each holds the loop open unless unref()ed. */
  const pending = new Map();
  let referenced = 0;

  // One reaper per module instance (i.e. per JS environment): a native thread waiting on the
  // children's pidfds with epoll. Exits arrive here on the JS thread; events are emitted on
  // the next tick so that a throwing listener surfaces as an ordinary uncaught exception.
  const reaper = new binding.Reaper((id, code, signal, error, violation, wallTimeExceeded) => {
    process.nextTick(onExit, id, code, signal, error, violation, wallTimeExceeded);
  });

  function onExit(id, code, signal, error, violation, wallTimeExceeded) {
    const child = pending.get(id);
    if (!child) return;
    host.setReferenced(child, false);
    pending.delete(id);
    // Set before 'exit' (and only then, so a child looks like child_process's otherwise): the
    // sandbox's wall-clock limit (maxWallTimeMs) ended the run.
    if (wallTimeExceeded) child.wallTimeExceeded = true;
    childModule.exited(child, code, signal, error, violation);
  }

  const host = {
    register(child, id) {
      child._reaperId = id;
      pending.set(id, child);
      host.setReferenced(child, true);
    },
    setReferenced(child, value) {
      if (!pending.has(child._reaperId) || child[kReferenced] === value) return;
      child[kReferenced] = value;
      referenced += value ? 1 : -1;
      reaper.setRef(referenced > 0);
    },
  };

  /**
   * Starts the command, retrying through /bin/sh when the kernel says it is not an executable
   * format (a script without `#!`), as execvp and therefore libuv do. Returns a NativeChild or
   * a NativeError.
   */
  function startNative(normalized, spec, codes, start) {
    const result = start(spec, codes);
    if (result?.kind !== 'command-not-executable' || result.errno !== ENOEXEC) return result;
    const program = opts.resolveProgram(normalized.file, normalized.env, normalized.cwd);
    if (!program) return result;
    // execvp's fallback runs the script as `/bin/sh <path> args...` (argv0 is not kept).
    return start({ ...spec, argv: ['/bin/sh', program, ...normalized.args], argv0: undefined }, codes);
  }

  /** execve's ENOTDIR (a path through a file), which the core reports as not found. */
  function notFoundErrno(file) {
    if (!file.includes('/')) return ENOENT;
    try {
      fs.statSync(file);
    } catch (error) {
      if (error.code === 'ENOTDIR') return os.constants.errno.ENOTDIR;
    }
    return ENOENT;
  }

  /**
   * How a native failure is reported: `{ throw }` for input errors and errnos Node throws,
   * `{ emit, exitCode }` for those Node reports through 'error'. `syscall` is 'spawn' or
   * 'spawnSync'.
   */
  function classify(native, normalized, syscall) {
    let errno = native.errno;
    if (native.kind === 'command-not-found') errno = notFoundErrno(normalized.file);
    // The working directory vanished between our check and the core's: what libuv reports.
    if (native.kind === 'invalid-argument' && native.field === 'command-cwd') errno ??= ENOENT;
    // Out of descriptors or processes while setting up: what libuv reports for the same
    // exhaustion (nothing about the sandbox is wrong).
    // (The host probe failing for want of a descriptor is the same exhaustion.)
    const exhausted = (native.kind === 'spawn-failed' && [EMFILE, ENFILE, EAGAIN].includes(errno)) || (native.kind === 'unsupported' && [EMFILE, ENFILE].includes(errno));
    const nodeContract = exhausted || native.kind === 'command-not-found' || native.kind === 'command-not-executable' || native.field === 'command-cwd';
    if (nodeContract && errno) {
      if (!REPORTED_ERRNOS.has(errno) && syscall === 'spawn') return { throw: errnoException(errno, 'spawn') };
      const error = errnoException(errno, `${syscall} ${normalized.file}`);
      error.path = normalized.file;
      error.spawnargs = normalized.spawnargs.slice(1);
      return { emit: error, exitCode: -errno };
    }
    const error = fromNative(native, { path: normalized.file, spawnargs: normalized.spawnargs.slice(1) });
    if (isInputError(native)) return { throw: error };
    return { emit: error, exitCode: -(native.errno ?? 1) };
  }

  /** Everything spawn() and spawnSync() check before anything runs. */
  function prepare(normalized, sync) {
    const { options } = normalized;
    opts.validateTimeout(options.timeout);
    if (sync) opts.validateMaxBuffer(options.maxBuffer);
    else opts.validateAbortSignal(options.signal);
    const killSignal = opts.killSignal(options.killSignal);
    const { entries, ipc } = opts.stdioEntries(options.stdio, sync, normalized.channel);
    const { refused: idsRefused, ...ids } = opts.checkIds(options);
    if (idsRefused && !sync) throw errnoException(EPERM, 'spawn');
    if (ipc >= 0 && !channelSupported()) {
      throw sandboxError('ERR_SANDBOX_UNSUPPORTED', `an 'ipc' channel: Node ${process.version} does not attach its channel as this package expects`);
    }
    if (ipc >= 0) {
      // What Node's child reads to open its end of the channel (process.send, 'message').
      const mode = options.serialization === 'advanced' ? 'advanced' : 'json';
      const env = { keys: [...normalized.env.keys, 'NODE_CHANNEL_FD', 'NODE_CHANNEL_SERIALIZATION_MODE'], values: [...normalized.env.values, String(ipc), mode] };
      normalized = { ...normalized, env };
    }
    const spec = { ...opts.nativeSpec(normalized), ...ids };
    return { killSignal, entries, ipc, spec, codes: entries.map(opts.stdioCode), idsRefused };
  }

  function spawnNormalized(normalized) {
    const { options } = normalized;
    const { killSignal = os.constants.signals.SIGTERM, entries, ipc, spec, codes } = prepare(normalized, false);
    const child = new SandboxedChild(host);
    child.spawnfile = normalized.file;
    child.spawnargs = normalized.spawnargs;

    const cwdErrno = opts.cwdErrno(normalized.cwd);
    const result = cwdErrno ? { kind: 'invalid-argument', field: 'command-cwd', errno: cwdErrno } : startNative(normalized, spec, codes, (s, c) => reaper.spawn(s, c));
    if (result instanceof binding.NativeChild) {
      childModule.started(child, result, entries, ipc, options.serialization);
    } else {
      const outcome = classify(result, normalized, 'spawn');
      if (outcome.throw) throw outcome.throw;
      childModule.failed(child, entries, outcome.emit, outcome.exitCode);
    }

    if (options.timeout > 0) {
      let timer = setTimeout(() => {
        timer = null;
        try {
          child.kill(killSignal);
        } catch (error) {
          child.emit('error', error);
        }
      }, options.timeout);
      child.once('exit', () => {
        if (timer) clearTimeout(timer);
        timer = null;
      });
    }
    const { signal } = options;
    if (signal) {
      const onAbort = () => {
        try {
          if (child.kill(killSignal)) child.emit('error', abortError(signal.reason));
        } catch (error) {
          child.emit('error', error);
        }
      };
      if (signal.aborted) {
        process.nextTick(onAbort);
      } else {
        signal.addEventListener('abort', onAbort, { once: true });
        child.once('exit', () => signal.removeEventListener('abort', onAbort));
      }
    }
    return child;
  }

  /**
   * child_process.spawn, sandboxed. Invalid input throws; a command that cannot be started
   * (not found, not executable, sandbox setup failed) is reported through the 'error' event.
   */
  function spawn(file, args, options) {
    return spawnNormalized(opts.normalizeSpawn(file, args, options, 'spawn'));
  }

  /** child_process.spawnSync, sandboxed: blocks this thread until the command has ended. */
  function spawnSyncNormalized(normalized) {
    const { options } = normalized;
    const { killSignal = os.constants.signals.SIGTERM, entries, spec, codes, idsRefused } = prepare(normalized, true);
    if (idsRefused) {
      // What child_process.spawnSync returns for libuv's EPERM: nothing ran.
      const error = errnoException(EPERM, `spawnSync ${normalized.file}`);
      error.path = normalized.file;
      error.spawnargs = normalized.spawnargs.slice(1);
      return { error, status: null, signal: null, output: null, pid: 0, stdout: null, stderr: null };
    }
    let { input } = options;
    if (!input && entries[0].type === 'input') input = entries[0].input;
    if (input != null) {
      if (!(typeof input === 'string' || ArrayBuffer.isView(input))) {
        throw errors.invalidArgType('options.stdio[0]', ['Buffer', 'TypedArray', 'DataView', 'string'], input);
      }
      input = typeof input === 'string' ? Buffer.from(input, options.encoding === 'buffer' ? 'utf8' : options.encoding || 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    }
    const maxBuffer = options.maxBuffer ?? 1024 * 1024;
    const cwdErrno = opts.cwdErrno(normalized.cwd);
    const syncOptions = { input: input ?? undefined, timeout: options.timeout || 0, killSignal, maxBuffer };
    const result = cwdErrno
      ? { kind: 'invalid-argument', field: 'command-cwd', errno: cwdErrno }
      : startNative(normalized, spec, codes, (s, c) => binding.spawnSync(s, c, syncOptions));
    if (result.kind !== undefined) {
      const outcome = classify(result, normalized, 'spawnSync');
      if (outcome.throw) throw outcome.throw;
      return { error: outcome.emit, status: null, signal: null, output: null, pid: 0, stdout: null, stderr: null };
    }
    const decode = (buffer) => (buffer && options.encoding && options.encoding !== 'buffer' ? buffer.toString(options.encoding) : buffer);
    const output = [null, decode(result.stdout ?? null), decode(result.stderr ?? null), ...(result.extra ?? []).map((buffer) => decode(buffer ?? null))];
    const value = {};
    if (result.error) {
      const error = errnoException(os.constants.errno[result.error], `spawnSync ${normalized.file}`);
      error.path = normalized.file;
      error.spawnargs = normalized.spawnargs.slice(1);
      value.error = error;
    }
    const violated = result.protectedNameViolation != null;
    if (violated) {
      value.error = errors.protectedNameCreated(result.protectedNameViolation, result.status ?? null,
        result.signal != null ? opts.signalName(result.signal) : null);
    }
    Object.assign(value, {
      status: violated ? errors.PROTECTED_NAME_CREATED_STATUS : result.status ?? null,
      signal: violated ? null : result.signal != null ? opts.signalName(result.signal) : null,
      output,
      pid: result.pid,
      stdout: output[1],
      stderr: output[2],
    });
    if (result.wallTimeExceeded) value.wallTimeExceeded = true;
    return value;
  }

  function spawnSync(file, args, options) {
    return spawnSyncNormalized(opts.normalizeSpawn(file, args, options, 'spawnSync'));
  }

  const exec = createExec({ spawn, spawnSync });

  /** Runs `command` to completion; resolves with its status and output, whatever the status. */
  function run(command, args, options) {
    return new Promise((resolve, reject) => {
      let child;
      let maxBuffer;
      let encoding;
      let input;
      let runOptions = {};
      try {
        const normalized = opts.normalizeSpawn(command, args, options, 'run');
        runOptions = normalized.options;
        ({ maxBuffer = 1024 * 1024, encoding = 'utf8', input } = runOptions);
        if (!(typeof maxBuffer === 'number' && maxBuffer >= 0)) {
          throw invalidArgument(`maxBuffer must be a non-negative number, got ${opts.describe(maxBuffer)}`);
        }
        if (encoding !== 'buffer' && encoding !== null && !Buffer.isEncoding(encoding)) {
          throw invalidArgument(`encoding must be a Buffer encoding or 'buffer', got ${opts.describe(encoding)}`);
        }
        if (input !== undefined && typeof input !== 'string' && !ArrayBuffer.isView(input)) {
          throw invalidArgument(`input must be a string, Buffer or TypedArray, got ${opts.describe(input)}`);
        }
        const { maxBuffer: _m, encoding: _e, input: _i, ...spawnOptions } = normalized.options;
        if (spawnOptions.stdio === undefined) spawnOptions.stdio = [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'];
        child = spawnNormalized({ ...normalized, options: spawnOptions });
      } catch (error) {
        reject(error);
        return;
      }
      const output = { stdout: [], stderr: [] };
      let size = 0;
      let settled = false;
      const fail = (error) => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      const text = (chunks) => {
        const buffer = Buffer.concat(chunks);
        return encoding === 'buffer' || encoding === null ? buffer : buffer.toString(encoding);
      };
      for (const name of ['stdout', 'stderr']) {
        child[name]?.on('data', (chunk) => {
          if (settled) return;
          size += chunk.length;
          if (size > maxBuffer) {
            const error = errors.maxBufferExceeded(name);
            Object.assign(error, { stdout: text(output.stdout), stderr: text(output.stderr) });
            child.kill(runOptions.killSignal ?? 'SIGTERM');
            fail(error);
            return;
          }
          output[name].push(chunk);
        });
      }
      if (child.stdin) {
        child.stdin.on('error', () => {}); // EPIPE: the command did not read all of `input`.
        child.stdin.end(input);
      }
      let timedOut = false;
      if (runOptions.timeout > 0) {
        const timer = setTimeout(() => {
          timedOut = true;
        }, runOptions.timeout);
        child.once('exit', () => clearTimeout(timer));
      }
      child.on('error', fail);
      child.on('close', (code, signal) => {
        if (settled) return;
        settled = true;
        resolve({
          code,
          signal,
          stdout: text(output.stdout),
          stderr: text(output.stderr),
          timedOut: timedOut && signal !== null,
          wallTimeExceeded: child.wallTimeExceeded === true,
        });
      });
    });
  }

  function checked(result) {
    if (typeof result === 'string') return JSON.parse(result);
    throw fromNative(result);
  }

  /** The plan spawn() would carry out for the same arguments, without running anything. */
  function explain(command, args, options) {
    const normalized = opts.normalizeSpawn(command, args, options, 'explain');
    const { spec } = prepare(normalized, false);
    return checked(binding.explain(spec));
  }

  /** What this host can enforce. */
  function probe() {
    return checked(binding.probe());
  }

  /** The macOS `sandbox-exec` invocation for the same policy (generated on any host). */
  function seatbeltPolicy(command, args, options) {
    const normalized = opts.normalizeSpawn(command, args, options, 'seatbelt');
    const { allowLocalBinding, unixSockets, denyReadGlobs } = normalized.options;
    if (allowLocalBinding !== undefined && typeof allowLocalBinding !== 'boolean') {
      throw invalidArgument(`allowLocalBinding must be a boolean, got ${opts.describe(allowLocalBinding)}`);
    }
    const strings = (value, name) => {
      if (value === undefined) return undefined;
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
        throw invalidArgument(`${name} must be an array of strings, got ${opts.describe(value)}`);
      }
      return value;
    };
    const all = unixSockets === 'all';
    return checked(
      binding.seatbelt(opts.nativeSpec(normalized), {
        allowLocalBinding,
        allowAllUnixSockets: all,
        unixSockets: all || unixSockets === 'none' ? undefined : strings(unixSockets, "unixSockets (or 'all')"),
        denyReadGlobs: strings(denyReadGlobs, 'denyReadGlobs'),
      }),
    );
  }

  function environmentArgument(env) {
    if (env === undefined) env = process.env;
    if (env === null || typeof env !== 'object') throw invalidArgument(`env must be an object, got ${opts.describe(env)}`);
    return opts.environment(env, false);
  }

  /** The loopback proxies an environment names (default: process.env). */
  function proxyEndpoints(env) {
    const { keys, values } = environmentArgument(env);
    return checked(binding.proxyEndpoints(keys, values));
  }

  /**
   * A copy of `env` pointing every common tool (curl, npm, pip, cargo, JVM build tools, Node's
   * fetch) at the given loopback proxies, with stale proxy variables removed. Returns a new
   * object; `env` is not modified.
   */
  function proxyEnv(env, endpoints) {
    const { keys, values } = environmentArgument(env);
    if (endpoints === null || typeof endpoints !== 'object') {
      throw invalidArgument(`endpoints must be an object such as { http: '127.0.0.1:3128' }, got ${opts.describe(endpoints)}`);
    }
    const { http, socks, allowLocalBinding, noProxy, ...rest } = endpoints;
    const unknown = Object.keys(rest).filter((key) => rest[key] !== undefined);
    if (unknown.length) throw invalidArgument(`unknown endpoints field \`${unknown[0]}\` (expected http, socks, allowLocalBinding, noProxy)`);
    if (typeof http !== 'string') throw invalidArgument(`endpoints.http must be a 'host:port' string, got ${opts.describe(http)}`);
    if (socks !== undefined && typeof socks !== 'string') throw invalidArgument(`endpoints.socks must be a 'host:port' string, got ${opts.describe(socks)}`);
    if (allowLocalBinding !== undefined && typeof allowLocalBinding !== 'boolean') throw invalidArgument('endpoints.allowLocalBinding must be a boolean');
    if (noProxy !== undefined && typeof noProxy !== 'string') throw invalidArgument('endpoints.noProxy must be a string');
    const result = binding.proxyEnv(keys, values, { http, socks, allowLocalBinding, noProxy });
    if (!Array.isArray(result)) throw fromNative(result);
    const [outKeys, outValues] = result;
    const out = {};
    outKeys.forEach((key, i) => {
      out[key] = outValues[i];
    });
    return out;
  }

  /**
   * child_process.fork in the sandbox: `execPath` (default: this Node) runs `modulePath` with an
   * IPC channel (Node's 'json' or 'advanced' serialization), so `process.send` and 'message' work on both sides.
   */
  function fork(modulePath, args, options) {
    if (modulePath instanceof URL) modulePath = require('node:url').fileURLToPath(modulePath);
    if (typeof modulePath !== 'string') throw errors.invalidArgType('modulePath', ['string', 'URL'], modulePath);
    opts.noNulBytes(modulePath, 'modulePath');
    if (args == null) {
      args = [];
    } else if (typeof args === 'object' && !Array.isArray(args)) {
      options = args;
      args = [];
    } else if (!Array.isArray(args)) {
      throw errors.invalidArgType('args', 'Array', args);
    }
    if (options != null) opts.validateObject(options, 'options');
    options = { ...options, shell: false };
    opts.checkKeys(options, 'fork');
    const { execPath = process.execPath, execArgv: givenExecArgv, silent, ...spawnOptions } = options;
    let execArgv = givenExecArgv ?? process.execArgv;
    if (execArgv === process.execArgv && process._eval != null) {
      // As Node does: a process run with -e/--eval does not pass its script on (the child
      // would run it again instead of modulePath).
      const index = execArgv.lastIndexOf(process._eval);
      if (index > 0) execArgv = [...execArgv.slice(0, index - 1), ...execArgv.slice(index + 1)];
    }
    opts.noNulBytes(execPath, 'options.execPath');
    let { stdio } = spawnOptions;
    if (typeof stdio === 'string') stdio = stdio === 'inherit' ? [0, 1, 2, 'ipc'] : [stdio, stdio, stdio, 'ipc'];
    else if (!Array.isArray(stdio)) stdio = silent ? ['pipe', 'pipe', 'pipe', 'ipc'] : [0, 1, 2, 'ipc'];
    else if (!stdio.includes('ipc')) throw errors.nodeError(Error, 'ERR_CHILD_PROCESS_IPC_REQUIRED', "Forked processes must have an IPC channel, missing value 'ipc' in options.stdio");
    return spawn(execPath, [...execArgv, modulePath, ...args], { ...spawnOptions, stdio });
  }

  return {
    spawn,
    spawnSync,
    exec: exec.exec,
    execFile: exec.execFile,
    execSync: exec.execSync,
    execFileSync: exec.execFileSync,
    fork,
    run,
    explain,
    probe,
    seatbeltPolicy,
    proxyEndpoints,
    proxyEnv,
    SandboxedChild,
    ChildProcess: require('node:child_process').ChildProcess,
    version: binding.VERSION,
  };
};
