'use strict';
// Option validation: everything a caller can get wrong throws here, before the addon runs.
// Unknown option names are refused rather than ignored: an ignored option could be a
// restriction (or a `uid`, a `shell`) the caller believes is in force.

const os = require('node:os');
const path = require('node:path');
const { fileURLToPath } = require('node:url');
const { invalidArgument, sandboxError } = require('./errors.js');

/** stdio codes shared with node/src/spec.rs. */
const STDIO = { inherit: -1, pipe: -2, ignore: -3 };

const SANDBOX_KEYS = ['cwd', 'env', 'policy', 'policyCwd', 'pipeline', 'network', 'noProc', 'bwrapPath'];
const PROCESS_KEYS = ['stdio', 'signal', 'timeout', 'killSignal'];
const KEYS = {
  spawn: new Set([...SANDBOX_KEYS, ...PROCESS_KEYS]),
  run: new Set([...SANDBOX_KEYS, ...PROCESS_KEYS, 'maxBuffer', 'encoding', 'input']),
  explain: new Set([...SANDBOX_KEYS, ...PROCESS_KEYS]),
  seatbelt: new Set([...SANDBOX_KEYS, 'allowLocalBinding', 'unixSockets', 'denyReadGlobs']),
};

const NETWORK_MODES = new Set(['restricted', 'full', 'proxy']);
const PIPELINES = new Set(['auto', 'bwrap', 'landlock']);

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : `type ${typeof value}`;
}

/** `(command, args?, options?)` with child_process's overloading: `(command, options)`. */
function splitArguments(command, args, options, kind) {
  if (typeof command !== 'string' || command === '') {
    throw invalidArgument(`command must be a non-empty string, got ${describe(command)}`);
  }
  if (command.includes('\0')) throw invalidArgument('command must not contain NUL bytes');
  if (args != null && !Array.isArray(args)) {
    if (typeof args === 'object' && options === undefined) {
      options = args;
      args = [];
    } else {
      throw invalidArgument(`args must be an array of strings, got ${describe(args)}`);
    }
  }
  args = args == null ? [] : args;
  args.forEach((arg, i) => {
    if (typeof arg !== 'string') throw invalidArgument(`args[${i}] must be a string, got ${describe(arg)}`);
  });
  if (options == null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(`options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KEYS[kind].has(key) && options[key] !== undefined) {
      throw invalidArgument(`unknown option \`${key}\` (${kind === 'seatbelt' ? 'seatbeltPolicy' : kind}() accepts ${[...KEYS[kind]].join(', ')})`);
    }
  }
  return { command, args, options };
}

function directory(value, name) {
  if (value instanceof URL) value = fileURLToPath(value);
  if (typeof value !== 'string' || value === '') {
    throw invalidArgument(`${name} must be a non-empty string or file: URL, got ${describe(value)}`);
  }
  return path.resolve(value);
}

function policyText(policy) {
  if (policy === undefined) return 'read-only';
  if (typeof policy === 'string') return policy;
  if (policy !== null && typeof policy === 'object' && !Array.isArray(policy)) return JSON.stringify(policy);
  throw sandboxError(
    'ERR_SANDBOX_INVALID_POLICY',
    `policy must be an object, a JSON string or one of read-only, workspace-write, danger-full-access; got ${describe(policy)}`,
  );
}

function environment(env) {
  if (env === undefined) env = process.env;
  if (env === null || typeof env !== 'object') throw invalidArgument(`env must be an object, got ${describe(env)}`);
  const keys = [];
  const values = [];
  for (const key of Object.keys(env)) {
    const value = env[key];
    if (value === undefined) continue;
    keys.push(key);
    values.push(String(value));
  }
  return { keys, values };
}

/** The highest signal number Linux has (SIGRTMAX). */
const MAX_SIGNAL = 64;
/** The highest file descriptor number (the addon takes 32-bit values). */
const MAX_FD = 0x7fffffff;

function signalNumber(signal, name = 'signal') {
  if (typeof signal === 'number' && Number.isInteger(signal) && signal >= 0 && signal <= MAX_SIGNAL) return signal;
  if (typeof signal === 'string' && Object.hasOwn(os.constants.signals, signal)) return os.constants.signals[signal];
  throw invalidArgument(`${name} must be a signal name such as 'SIGTERM' or a signal number, got ${describe(signal)}`);
}

function signalName(number) {
  return Object.keys(os.constants.signals).find((key) => os.constants.signals[key] === number) ?? `SIG${number}`;
}

function stdioEntry(value, index) {
  if (value == null || value === 'pipe' || value === 'overlapped') return STDIO.pipe;
  if (value === 'inherit') return STDIO.inherit;
  if (value === 'ignore') return STDIO.ignore;
  if (Number.isInteger(value) && value >= 0 && value <= MAX_FD) return value;
  if (typeof value === 'object' && Number.isInteger(value.fd) && value.fd >= 0 && value.fd <= MAX_FD) return value.fd;
  throw invalidArgument(
    `stdio[${index}] must be 'pipe', 'inherit', 'ignore', a file descriptor or a stream with an fd, got ${describe(value)}`,
  );
}

function stdioCodes(stdio, defaults) {
  if (stdio === undefined) return defaults.map((entry, i) => stdioEntry(entry, i));
  if (typeof stdio === 'string') return [0, 1, 2].map((i) => stdioEntry(stdio, i));
  if (!Array.isArray(stdio)) throw invalidArgument(`stdio must be a string or an array, got ${describe(stdio)}`);
  if (stdio.length > 3) throw invalidArgument('stdio may name at most 3 streams (stdin, stdout, stderr)');
  return [0, 1, 2].map((i) => stdioEntry(stdio[i], i));
}

/** The NativeSpec of node/src/spec.rs. */
function nativeSpec(command, args, options) {
  const cwd = options.cwd === undefined ? process.cwd() : directory(options.cwd, 'cwd');
  // The policy's cwd (the writable workspace under workspace-write) does not follow the
  // command's `cwd`: a caller that lets the model pick `cwd` must not let it pick what is
  // writable. Like the CLI, it defaults to this process's working directory.
  const policyCwd = options.policyCwd === undefined ? process.cwd() : directory(options.policyCwd, 'policyCwd');
  if (options.network !== undefined && !NETWORK_MODES.has(options.network)) {
    throw invalidArgument(`network must be 'restricted', 'full' or 'proxy', got ${describe(options.network)}`);
  }
  if (options.pipeline !== undefined && !PIPELINES.has(options.pipeline)) {
    throw invalidArgument(`pipeline must be 'auto', 'bwrap' or 'landlock', got ${describe(options.pipeline)}`);
  }
  if (options.noProc !== undefined && typeof options.noProc !== 'boolean') {
    throw invalidArgument(`noProc must be a boolean, got ${describe(options.noProc)}`);
  }
  if (options.bwrapPath !== undefined && (typeof options.bwrapPath !== 'string' || !path.isAbsolute(options.bwrapPath))) {
    throw invalidArgument(`bwrapPath must be an absolute path, got ${describe(options.bwrapPath)}`);
  }
  const env = environment(options.env);
  return {
    policy: policyText(options.policy),
    network: options.network,
    policyCwd,
    cwd,
    argv: [command, ...args],
    envKeys: env.keys,
    envValues: env.values,
    pipeline: options.pipeline,
    noProc: options.noProc,
    bwrapPath: options.bwrapPath,
  };
}

/** The process options of spawn(): timeout, killSignal, signal. */
function processOptions(options) {
  const { timeout, signal } = options;
  if (timeout !== undefined && !(typeof timeout === 'number' && timeout >= 0 && Number.isFinite(timeout))) {
    throw invalidArgument(`timeout must be a non-negative number of milliseconds, got ${describe(timeout)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgument(`signal must be an AbortSignal, got ${describe(signal)}`);
  }
  const killSignal = options.killSignal === undefined ? 'SIGTERM' : options.killSignal;
  signalNumber(killSignal, 'killSignal');
  return { timeout: timeout || 0, signal, killSignal };
}

module.exports = {
  STDIO,
  splitArguments,
  nativeSpec,
  processOptions,
  stdioCodes,
  signalNumber,
  signalName,
  environment,
  describe,
};
