'use strict';
// exec, execFile, execSync and execFileSync on top of the sandboxed spawn and spawnSync, with
// child_process's semantics: defaults (utf8, 1 MiB maxBuffer, SIGTERM), the error a failed
// command produces (`code`, `killed`, `signal`, `cmd`; `status`, `stdout`, `stderr` for the
// sync variants), and util.promisify support resolving `{ stdout, stderr }`.

const util = require('node:util');
const errors = require('./errors.js');
const opts = require('./options.js');

const MAX_BUFFER = 1024 * 1024;
/** Sandbox options: handed through to spawn() unchanged (the one list options.js checks, so
 * none can be accepted here and then dropped: maxProcesses once was). */
const SANDBOX_KEYS = opts.SANDBOX_KEYS;
/** What execFile hands to spawn (Node's list, and ours). */
const SPAWN_KEYS = ['cwd', 'env', 'gid', 'shell', 'signal', 'uid', ...SANDBOX_KEYS];

function pick(options, keys) {
  const out = {};
  for (const key of keys) if (options[key] !== undefined) out[key] = options[key];
  return out;
}

/** execFile's `(file, args?, options?, callback?)` overloading. */
function execFileArguments(file, args, options, callback) {
  if (Array.isArray(args)) {
    args = args.slice();
  } else if (args != null && typeof args === 'object') {
    callback = options;
    options = args;
    args = null;
  } else if (typeof args === 'function') {
    callback = args;
    options = null;
    args = null;
  }
  if (args == null) args = [];
  if (typeof options === 'function') callback = options;
  else if (options != null) opts.validateObject(options, 'options');
  if (options == null || typeof options === 'function') options = {};
  if (callback != null && typeof callback !== 'function') throw errors.invalidArgType('callback', 'function', callback);
  if (options.argv0 != null) {
    if (typeof options.argv0 !== 'string') throw errors.invalidArgType('options.argv0', 'string', options.argv0);
    opts.noNulBytes(options.argv0, 'options.argv0');
  }
  return { file, args, options, callback };
}

/** exec's `(command, options?, callback?)`: a shell command line. */
function execArguments(command, options, callback) {
  if (typeof command !== 'string') throw errors.invalidArgType('command', 'string', command);
  opts.noNulBytes(command, 'command');
  if (typeof options === 'function') {
    callback = options;
    options = undefined;
  }
  options = { ...options };
  options.shell = typeof options.shell === 'string' ? options.shell : true;
  return { file: command, options, callback };
}

/** The promisified form: resolves `{ stdout, stderr }`, rejects with both on the error. */
function promisified(original) {
  return (...args) => {
    let child;
    const promise = new Promise((resolve, reject) => {
      child = original(...args, (error, stdout, stderr) => {
        if (error !== null) {
          error.stdout = stdout;
          error.stderr = stderr;
          reject(error);
        } else {
          resolve({ stdout, stderr });
        }
      });
    });
    promise.child = child;
    return promise;
  };
}

/** The error execSync/execFileSync throw: the spawn error, or "Command failed" for a status. */
function syncFailure(result, commandLine) {
  if (result.error) return Object.assign(result.error, result);
  if (result.status === 0) return null;
  let message = `Command failed: ${commandLine}`;
  if (result.stderr && result.stderr.length > 0) message += `\n${result.stderr.toString()}`;
  return errors.withProperties(message, result);
}

module.exports = function createExec({ spawn, spawnSync }) {
  function execFile(file, args, options, callback) {
    ({ file, args, options, callback } = execFileArguments(file, args, options, callback));
    opts.checkKeys(options, 'execFile');
    options = { encoding: 'utf8', timeout: 0, maxBuffer: MAX_BUFFER, killSignal: 'SIGTERM', cwd: null, env: null, shell: false, ...options };
    opts.validateTimeout(options.timeout);
    opts.validateMaxBuffer(options.maxBuffer);
    const killSignal = opts.killSignal(options.killSignal);
    const child = spawn(file, args, {
      ...pick(options, SPAWN_KEYS),
      windowsHide: !!options.windowsHide,
      windowsVerbatimArguments: !!options.windowsVerbatimArguments,
    });

    const encoding = options.encoding !== 'buffer' && Buffer.isEncoding(options.encoding) ? options.encoding : null;
    const chunks = { stdout: [], stderr: [] };
    const lengths = { stdout: 0, stderr: 0 };
    let killed = false;
    let exited = false;
    let failure = null;
    let timer = null;

    const joined = (name) => {
      const stream = child[name];
      return encoding || stream?.readableEncoding ? chunks[name].join('') : Buffer.concat(chunks[name]);
    };
    function finish(code, signal) {
      if (exited) return;
      exited = true;
      if (timer) clearTimeout(timer);
      timer = null;
      if (!callback) return;
      const stdout = joined('stdout');
      const stderr = joined('stderr');
      if (!failure && code === 0 && signal === null) {
        callback(null, stdout, stderr);
        return;
      }
      const cmd = args.length ? `${file} ${args.join(' ')}` : file;
      if (!failure) {
        failure = errors.withProperties(`Command failed: ${cmd}\n${stderr}`, {
          code: code < 0 ? util.getSystemErrorName(code) : code,
          killed: child.killed || killed,
          signal,
        });
      }
      failure.cmd = cmd;
      if (child.wallTimeExceeded) failure.wallTimeExceeded = true;
      callback(failure, stdout, stderr);
    }
    function destroyOutput() {
      child.stdout?.destroy();
      child.stderr?.destroy();
    }
    function kill() {
      destroyOutput();
      killed = true;
      try {
        child.kill(killSignal);
      } catch (error) {
        failure = error;
        finish();
      }
    }
    if (options.timeout > 0) {
      timer = setTimeout(() => {
        timer = null;
        kill();
      }, options.timeout);
    }
    for (const name of ['stdout', 'stderr']) {
      const stream = child[name];
      if (!stream) continue;
      if (encoding) stream.setEncoding(encoding);
      stream.on('data', (chunk) => {
        if (options.maxBuffer === Infinity) {
          chunks[name].push(chunk);
          return;
        }
        const streamEncoding = stream.readableEncoding;
        const length = streamEncoding ? Buffer.byteLength(chunk, streamEncoding) : chunk.length;
        lengths[name] += length;
        if (lengths[name] > options.maxBuffer) {
          const keep = options.maxBuffer - (lengths[name] - length);
          chunks[name].push(chunk.slice(0, keep));
          failure = errors.maxBufferExceeded(name);
          kill();
        } else {
          chunks[name].push(chunk);
        }
      });
    }
    child.addListener('close', finish);
    child.addListener('error', (error) => {
      failure = error;
      destroyOutput();
      finish();
    });
    return child;
  }
  Object.defineProperty(execFile, util.promisify.custom, { enumerable: false, value: promisified(execFile) });

  function exec(command, options, callback) {
    const normalized = execArguments(command, options, callback);
    return execFile(normalized.file, normalized.options, normalized.callback);
  }
  Object.defineProperty(exec, util.promisify.custom, { enumerable: false, value: promisified(exec) });

  function execFileSync(file, args, options) {
    ({ file, args, options } = execFileArguments(file, args, options));
    const inheritStderr = !options.stdio;
    const result = spawnSync(file, args, options);
    if (inheritStderr && result.stderr) process.stderr.write(result.stderr);
    const failure = syncFailure(result, [options.argv0 || file, ...args].join(' '));
    if (failure) throw failure;
    return result.stdout;
  }

  function execSync(command, options) {
    const normalized = execArguments(command, options);
    const inheritStderr = !normalized.options.stdio;
    const result = spawnSync(normalized.file, normalized.options);
    if (inheritStderr && result.stderr) process.stderr.write(result.stderr);
    const failure = syncFailure(result, command);
    if (failure) throw failure;
    return result.stdout;
  }

  return { exec, execFile, execSync, execFileSync };
};
