'use strict';
// The public API of @codex/linux-sandbox, built on the native addon handed in by index.js.

const EventEmitter = require('node:events');
const net = require('node:net');
const { abortError, fromNative, isInputError, sandboxError, invalidArgument } = require('./errors.js');
const opts = require('./options.js');

module.exports = function createSandbox(binding) {
  /** Pending children by reaper id; each holds the loop open unless unref()ed. */
  const pending = new Map();
  let referenced = 0;

  // One reaper per module instance (i.e. per JS environment): a native thread waiting on the
  // children's pidfds with epoll. Exits arrive here on the JS thread; events are emitted on
  // the next tick so that a throwing listener surfaces as an ordinary uncaught exception.
  const reaper = new binding.Reaper((id, code, signal, error) => {
    process.nextTick(onExit, id, code, signal, error);
  });

  function onExit(id, code, signal, error) {
    const child = pending.get(id);
    if (!child) return;
    setReferenced(child, false);
    pending.delete(id);
    child._exited(code, signal, error);
  }

  function setReferenced(child, value) {
    if (child._referenced === value) return;
    child._referenced = value;
    if (!pending.has(child._id)) return;
    referenced += value ? 1 : -1;
    reaper.setRef(referenced > 0);
  }

  /** A sandboxed command, shaped like child_process.ChildProcess. */
  class SandboxedChild extends EventEmitter {
    constructor(command, args) {
      super();
      this.pid = undefined;
      this.stdin = null;
      this.stdout = null;
      this.stderr = null;
      this.stdio = [null, null, null];
      this.exitCode = null;
      this.signalCode = null;
      this.killed = false;
      this.spawnfile = command;
      this.spawnargs = [command, ...args];
      this._native = null;
      this._id = 0;
      this._referenced = false;
      this._closesNeeded = 1;
      this._closesGot = 0;
      this._cleanup = [];
    }

    /**
     * Sends a signal (default 'SIGTERM'). Returns true when it was delivered, false when the
     * command has already ended (or never started).
     */
    kill(signal = 'SIGTERM') {
      const number = opts.signalNumber(signal);
      if (!this._native || !pending.has(this._id)) return false;
      if (this._native.kill(number) !== 0) return false;
      this.killed = true;
      return true;
    }

    /** Lets the event loop exit while this child runs (its streams must be unref()ed too). */
    unref() {
      setReferenced(this, false);
      for (const timer of this._timers()) timer.unref();
      return this;
    }

    ref() {
      setReferenced(this, true);
      for (const timer of this._timers()) timer.ref();
      return this;
    }

    _timers() {
      return this._timer ? [this._timer] : [];
    }

    _started(native, stdioCodes, processOptions) {
      this._native = native;
      this._id = native.id;
      this.pid = native.pid;
      const [stdin, stdout, stderr] = native.fds;
      if (stdin != null) this.stdin = new net.Socket({ fd: stdin, readable: false, writable: true });
      for (const [index, fd] of [[1, stdout], [2, stderr]]) {
        if (fd == null) continue;
        const socket = new net.Socket({ fd, readable: true, writable: false });
        this._closesNeeded++;
        socket.on('close', () => this._maybeClose());
        if (index === 1) this.stdout = socket;
        else this.stderr = socket;
      }
      this.stdio = [this.stdin, this.stdout, this.stderr];
      pending.set(this._id, this);
      setReferenced(this, true);

      const { timeout, signal, killSignal } = processOptions;
      if (timeout > 0) {
        this._timer = setTimeout(() => {
          this._timer = null;
          this.timedOut = true;
          this.kill(killSignal);
        }, timeout);
      }
      if (signal) {
        const onAbort = () => {
          this.kill(killSignal);
          this.emit('error', abortError(signal.reason));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this._cleanup.push(() => signal.removeEventListener('abort', onAbort));
      }
      process.nextTick(() => this.emit('spawn'));
    }

    /** The command never started: 'error', then 'close' (as child_process does), no 'exit'. */
    _failed(error) {
      process.nextTick(() => {
        this.emit('error', error);
        this.emit('close', -2, null);
      });
    }

    _exited(code, signal, error) {
      if (this._timer) clearTimeout(this._timer);
      this._timer = null;
      for (const cleanup of this._cleanup.splice(0)) cleanup();
      if (error) {
        this.emit('error', sandboxError('ERR_SANDBOX_INTERNAL', error));
      }
      this.exitCode = code >= 0 ? code : null;
      this.signalCode = signal > 0 ? opts.signalName(signal) : null;
      if (this.stdin) this.stdin.destroy();
      this.emit('exit', this.exitCode, this.signalCode);
      this._maybeClose();
    }

    _maybeClose() {
      if (++this._closesGot === this._closesNeeded) this.emit('close', this.exitCode, this.signalCode);
    }
  }

  function spawnChild(kind, command, args, options, stdioDefaults) {
    ({ command, args, options } = opts.splitArguments(command, args, options, kind));
    const spec = opts.nativeSpec(command, args, options);
    const processOptions = opts.processOptions(options);
    const stdio = opts.stdioCodes(options.stdio, stdioDefaults(options));
    const child = new SandboxedChild(command, args);
    if (processOptions.signal?.aborted) {
      // Nothing is started for an already aborted signal.
      child._failed(abortError(processOptions.signal.reason));
      return child;
    }
    const result = reaper.spawn(spec, stdio);
    if (!(result instanceof binding.NativeChild)) {
      const error = fromNative(result, { path: command, spawnargs: child.spawnargs });
      if (isInputError(result)) throw error;
      child._failed(error);
      return child;
    }
    child._started(result, stdio, processOptions);
    return child;
  }

  /**
   * Starts `command` in the sandbox. Invalid input throws; a command that cannot be started
   * (not found, not executable, sandbox setup failed) is reported through the 'error' event.
   */
  function spawn(command, args, options) {
    return spawnChild('spawn', command, args, options, () => ['pipe', 'pipe', 'pipe']);
  }

  /** Runs `command` to completion; resolves with its status and output, whatever the status. */
  function run(command, args, options) {
    return new Promise((resolve, reject) => {
      let child;
      let maxBuffer;
      let encoding;
      let input;
      try {
        ({ command, args, options } = opts.splitArguments(command, args, options, 'run'));
        ({ maxBuffer = 1024 * 1024, encoding = 'utf8', input } = options);
        if (!(typeof maxBuffer === 'number' && maxBuffer >= 0)) {
          throw invalidArgument(`maxBuffer must be a non-negative number, got ${opts.describe(maxBuffer)}`);
        }
        if (encoding !== 'buffer' && encoding !== null && !Buffer.isEncoding(encoding)) {
          throw invalidArgument(`encoding must be a Buffer encoding or 'buffer', got ${opts.describe(encoding)}`);
        }
        if (input !== undefined && typeof input !== 'string' && !ArrayBuffer.isView(input)) {
          throw invalidArgument(`input must be a string, Buffer or TypedArray, got ${opts.describe(input)}`);
        }
        const { maxBuffer: _m, encoding: _e, input: _i, ...spawnOptions } = options;
        const stdinDefault = input === undefined ? 'ignore' : 'pipe';
        child = spawnChild('run', command, args, spawnOptions, () => [stdinDefault, 'pipe', 'pipe']);
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
            const error = sandboxError('ERR_CHILD_PROCESS_STDIO_MAXBUFFER', `${name} maxBuffer length exceeded`, {
              stdout: text(output.stdout),
              stderr: text(output.stderr),
            });
            child.kill(options.killSignal ?? 'SIGTERM');
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
      child.on('error', fail);
      child.on('close', (code, signal) => {
        if (settled) return;
        settled = true;
        resolve({
          code,
          signal,
          stdout: text(output.stdout),
          stderr: text(output.stderr),
          timedOut: child.timedOut === true,
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
    ({ command, args, options } = opts.splitArguments(command, args, options, 'explain'));
    opts.processOptions(options);
    opts.stdioCodes(options.stdio, ['pipe', 'pipe', 'pipe']);
    return checked(binding.explain(opts.nativeSpec(command, args, options)));
  }

  /** What this host can enforce. */
  function probe() {
    return checked(binding.probe());
  }

  /** The macOS `sandbox-exec` invocation for the same policy (generated on any host). */
  function seatbeltPolicy(command, args, options) {
    ({ command, args, options } = opts.splitArguments(command, args, options, 'seatbelt'));
    const { allowLocalBinding, unixSockets, denyReadGlobs } = options;
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
      binding.seatbelt(opts.nativeSpec(command, args, options), {
        allowLocalBinding,
        allowAllUnixSockets: all,
        unixSockets: all ? undefined : strings(unixSockets, "unixSockets (or 'all')"),
        denyReadGlobs: strings(denyReadGlobs, 'denyReadGlobs'),
      }),
    );
  }

  /** The loopback proxies an environment names (default: process.env). */
  function proxyEndpoints(env) {
    const { keys, values } = opts.environment(env);
    return checked(binding.proxyEndpoints(keys, values));
  }

  /**
   * A copy of `env` pointing every common tool (curl, npm, pip, cargo, JVM build tools, Node's
   * fetch) at the given loopback proxies, with stale proxy variables removed. Returns a new
   * object; `env` is not modified.
   */
  function proxyEnv(env, endpoints) {
    const { keys, values } = opts.environment(env);
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

  return {
    spawn,
    run,
    explain,
    probe,
    seatbeltPolicy,
    proxyEndpoints,
    proxyEnv,
    SandboxedChild,
    version: binding.VERSION,
  };
};
