'use strict';
// Option validation and normalisation, before the addon runs.
//
// Node's own options are validated and normalised exactly as child_process does (same error
// classes and codes, same defaults: `env` read with for…in, `env: null` and `cwd: null` meaning
// "inherit", non-string arguments stringified, `shell` rewriting the command). The sandbox's
// options come on top. Unknown option names are refused rather than ignored: an ignored
// option could be a restriction the caller believes is in force (a mistyped `policy`).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fileURLToPath } = require('node:url');
const errors = require('./errors.js');

const { invalidArgument, sandboxError, invalidArgType, invalidArgValue, outOfRange, unknownSignal } = errors;

/** stdio codes shared with node/src/spec.rs. */
const STDIO = { inherit: -1, pipe: -2, ignore: -3, socket: -4 };

const SANDBOX_KEYS = [
  'policy', 'policyCwd', 'pipeline', 'network', 'noProc', 'bwrapPath', 'maxProcesses', 'unixSockets',
  'protect', 'unprotect', 'controllingTerminal', 'codexMarkers',
  'maxMemoryBytes', 'maxCpuSeconds', 'maxFileSizeBytes', 'maxOpenFiles', 'maxWallTimeMs',
];
/** The optional resource limits: whole numbers from 1; their ranges are checked by the core. */
const LIMIT_KEYS = ['maxMemoryBytes', 'maxCpuSeconds', 'maxFileSizeBytes', 'maxOpenFiles', 'maxWallTimeMs'];
const SPAWN_KEYS = [
  'cwd',
  'env',
  'argv0',
  'stdio',
  'detached',
  'uid',
  'gid',
  'serialization',
  'shell',
  'windowsVerbatimArguments',
  'windowsHide',
  'signal',
  'timeout',
  'killSignal',
];
const OUTPUT_KEYS = ['maxBuffer', 'encoding'];
const KEYS = {
  spawn: new Set([...SPAWN_KEYS, ...SANDBOX_KEYS]),
  spawnSync: new Set([...SPAWN_KEYS, ...OUTPUT_KEYS, 'input', ...SANDBOX_KEYS]),
  fork: new Set([...SPAWN_KEYS, 'execPath', 'execArgv', 'silent', ...SANDBOX_KEYS]),
  execFile: new Set([...SPAWN_KEYS, ...OUTPUT_KEYS, ...SANDBOX_KEYS]),
  run: new Set([...SPAWN_KEYS, ...OUTPUT_KEYS, 'input', ...SANDBOX_KEYS]),
  explain: new Set([...SPAWN_KEYS, ...SANDBOX_KEYS]),
  seatbelt: new Set(['cwd', 'env', ...SANDBOX_KEYS, 'allowLocalBinding', 'unixSockets', 'denyReadGlobs']),
};
const NAMES = { fork: 'fork()', spawnSync: 'spawnSync(), execSync() and execFileSync()', execFile: 'exec() and execFile()', seatbelt: 'seatbeltPolicy()' };

const NETWORK_MODES = new Set(['restricted', 'full', 'proxy']);
const PIPELINES = new Set(['auto', 'bwrap', 'landlock']);

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? `the string ${JSON.stringify(value)}` : `type ${typeof value}`;
}

function checkKeys(options, kind) {
  for (const key of Object.keys(options)) {
    if (!KEYS[kind].has(key) && options[key] !== undefined) {
      throw invalidArgument(`unknown option \`${key}\` (${NAMES[kind] ?? `${kind}()`} accepts ${[...KEYS[kind]].join(', ')})`);
    }
  }
}

function noNulBytes(value, name) {
  if (typeof value === 'string' && value.includes('\u0000')) {
    throw invalidArgValue(name, value, 'must be a string without null bytes');
  }
}

function validateString(value, name) {
  if (typeof value !== 'string') throw invalidArgType(name, 'string', value);
}

function validateBoolean(value, name) {
  if (typeof value !== 'boolean') throw invalidArgType(name, 'boolean', value);
}

function validateObject(value, name) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalidArgType(name, 'object', value);
}

const isInt32 = (value) => value === (value | 0);

/** A path option as Node takes it: string, Buffer or file: URL, without NUL bytes. */
function validatedPath(value, name) {
  if (value instanceof URL) {
    if (value.protocol !== 'file:') throw nodeSchemeError(value);
    value = fileURLToPath(value);
  } else if (Buffer.isBuffer(value)) {
    value = value.toString();
  } else if (typeof value !== 'string') {
    throw invalidArgType(name, ['string', 'Buffer', 'URL'], value);
  }
  noNulBytes(value, name);
  return value;
}

function nodeSchemeError(url) {
  const error = new TypeError(`The URL must be of scheme file. Received ${url.href}`);
  error.code = 'ERR_INVALID_URL_SCHEME';
  return error;
}

/** The highest file descriptor number (the addon takes 32-bit values). */
const MAX_FD = 0x7fffffff;

const SIGNALS = os.constants.signals;
const SIGNAL_NAMES = new Map(Object.entries(SIGNALS).map(([name, number]) => [number, name]));

/** Node's convertToValidSignal: a named signal's number, case-insensitive names. */
function signalNumber(signal) {
  if (typeof signal === 'number' && SIGNAL_NAMES.has(signal)) return signal;
  if (typeof signal === 'string') {
    const number = SIGNALS[signal.toUpperCase()];
    if (number !== undefined && Object.hasOwn(SIGNALS, signal.toUpperCase())) return number;
  }
  throw unknownSignal(signal);
}

function signalName(number) {
  return SIGNAL_NAMES.get(number) ?? `SIG${number}`;
}

/** `killSignal` as child_process takes it (absent: undefined, which means SIGTERM). */
function killSignal(value) {
  if (typeof value === 'string' || typeof value === 'number') return signalNumber(value);
  if (value != null) throw invalidArgType('options.killSignal', ['string', 'number'], value);
  return undefined;
}

function validateTimeout(timeout) {
  if (timeout != null && !(Number.isInteger(timeout) && timeout >= 0)) {
    throw outOfRange('timeout', 'an unsigned integer', timeout);
  }
}

function validateMaxBuffer(maxBuffer) {
  if (maxBuffer != null && !(typeof maxBuffer === 'number' && maxBuffer >= 0)) {
    throw outOfRange('options.maxBuffer', 'a positive number', maxBuffer);
  }
}

function validateAbortSignal(signal) {
  if (signal !== undefined && (signal === null || typeof signal !== 'object' || !('aborted' in signal))) {
    throw invalidArgType('options.signal', 'AbortSignal', signal);
  }
}

/**
 * The environment as Node builds it: `options.env || process.env`, every key for…in reaches
 * (inherited ones included), `undefined` values skipped, values stringified. A key containing
 * `=` ends at its first `=` in the command (the rest joins the value), as with Node's
 * `key=value` pairs.
 */
function environment(env, explicit) {
  const source = env || process.env;
  const keys = [];
  const values = [];
  const seen = new Set();
  const add = (pairKey, value) => {
    const pair = `${pairKey}=${value}`;
    const split = pair.indexOf('=');
    keys.push(pair.slice(0, split));
    values.push(pair.slice(split + 1));
    seen.add(pair.slice(0, split));
  };
  for (const key in source) {
    const value = source[key];
    if (value === undefined) continue;
    noNulBytes(key, `options.env['${key}']`);
    noNulBytes(String(value), `options.env['${key}']`);
    add(key, value);
  }
  // Node always propagates NODE_V8_COVERAGE, so that coverage of children can be collected.
  if (explicit && process.env.NODE_V8_COVERAGE !== undefined && !seen.has('NODE_V8_COVERAGE')) {
    add('NODE_V8_COVERAGE', process.env.NODE_V8_COVERAGE);
  }
  return { keys, values };
}

/**
 * `(file, args?, options?)` as child_process.spawn normalises it. Returns the command to run
 * (after `shell`), its arguments, what `spawnargs`/`spawnfile` report, and the options.
 */
function normalizeSpawn(file, args, options, kind) {
  validateString(file, 'file');
  noNulBytes(file, 'file');
  if (file.length === 0) throw invalidArgValue('file', file, 'cannot be empty');
  if (Array.isArray(args)) {
    args = args.slice();
  } else if (args == null) {
    args = [];
  } else if (typeof args !== 'object') {
    throw invalidArgType('args', 'object', args);
  } else {
    options = args;
    args = [];
  }
  args.forEach((arg, i) => noNulBytes(arg, `args[${i}]`));
  if (options === undefined) options = {};
  else validateObject(options, 'options');
  options = { ...options };
  checkKeys(options, kind);

  let cwd = options.cwd;
  if (cwd != null) cwd = validatedPath(cwd, 'options.cwd');
  if (options.detached != null) validateBoolean(options.detached, 'options.detached');
  for (const id of ['uid', 'gid']) {
    if (options[id] != null && !isInt32(options[id])) throw invalidArgType(`options.${id}`, 'int32', options[id]);
  }
  const { shell } = options;
  if (shell != null && typeof shell !== 'boolean' && typeof shell !== 'string') {
    throw invalidArgType('options.shell', ['boolean', 'string'], shell);
  }
  if (options.argv0 != null) {
    validateString(options.argv0, 'options.argv0');
    noNulBytes(options.argv0, 'options.argv0');
  }
  if (options.windowsHide != null) validateBoolean(options.windowsHide, 'options.windowsHide');
  if (options.windowsVerbatimArguments != null) {
    validateBoolean(options.windowsVerbatimArguments, 'options.windowsVerbatimArguments');
  }
  if (![undefined, 'json', 'advanced'].includes(options.serialization)) {
    throw invalidArgValue('options.serialization', options.serialization, "must be one of: undefined, 'json', 'advanced'");
  }
  if (shell) {
    noNulBytes(shell, 'options.shell');
    const command = [file, ...args].join(' ');
    file = typeof shell === 'string' ? shell : '/bin/sh';
    args = ['-c', command];
  }
  const argv0 = typeof options.argv0 === 'string' ? options.argv0 : file;
  const env = environment(options.env, options.env != null);
  return {
    file,
    // What the command receives, as strings (Node's native layer stringifies them too).
    args: args.map((arg) => `${arg}`),
    argv0,
    spawnargs: [argv0, ...args],
    cwd,
    env,
    options,
  };
}

/**
 * uid/gid: the ids to hand the core, `{}` when there is nothing to switch. For root the core
 * runs the command as them, its own included (groups cleared, as libuv clears them whenever
 * either is given). Another id than the caller's needs root: otherwise `{ refused: true }`,
 * libuv's EPERM with nothing spawned (spawn throws it, spawnSync returns it as `error`); the
 * caller's own ids change nothing then.
 */
function checkIds(options) {
  const { uid, gid } = options;
  if (uid == null && gid == null) return {};
  if (process.getuid() !== 0) {
    const other = (uid != null && uid !== process.getuid()) || (gid != null && gid !== process.getgid());
    return other ? { refused: true } : {};
  }
  // As libuv passes them to setuid/setgid: unsigned (the core refuses -1, "unchanged").
  return { uid: uid == null ? undefined : uid >>> 0, gid: gid == null ? undefined : gid >>> 0 };
}

function isHandleWrap(value) {
  return value != null && typeof value === 'object' && typeof value.fd === 'number' && typeof value.readStop === 'function';
}

/**
 * One stdio entry as child_process takes it, as `{ type, fd?, stream? }`:
 * pipe, ignore, fd (numbers, 'inherit', `{ fd }` objects), wrap (a stream with a handle: a
 * socket, another child's stream), input (spawnSync only: a Buffer or string).
 */
function stdioEntry(value, index, sync) {
  if (value == null) value = index < 3 ? 'pipe' : 'ignore';
  if (value === 'ignore') return { type: 'ignore' };
  if (value === 'pipe' || value === 'overlapped' || (typeof value === 'number' && value < 0)) return { type: 'pipe' };
  if (value === 'inherit') return { type: 'fd', fd: index };
  if (value === 'ipc') return { type: 'ipc' };
  if (typeof value === 'number' || typeof value?.fd === 'number') {
    const fd = typeof value === 'number' ? value : value.fd;
    if (!Number.isInteger(fd) || fd > MAX_FD) throw invalidArgValue('stdio', value);
    return { type: 'fd', fd };
  }
  const handle = [value, value?.handle, value?._handle].find(isHandleWrap);
  if (handle) return { type: 'wrap', fd: handle.fd, stream: value };
  if (ArrayBuffer.isView(value) || typeof value === 'string') {
    if (!sync) throw errors.invalidSyncForkInput(value);
    return { type: 'input', input: value };
  }
  throw invalidArgValue('stdio', value);
}

/** Node's getValidStdio, to entries; then what the addon can carry out. */
function stdioEntries(stdio, sync, channel) {
  if (stdio == null) stdio = 'pipe';
  let list;
  if (typeof stdio === 'string') {
    if (stdio === 'inherit') list = [0, 1, 2];
    else if (['ignore', 'pipe', 'overlapped'].includes(stdio)) list = [stdio, stdio, stdio];
    else throw invalidArgValue('stdio', stdio);
    if (channel) list.push(channel);
  } else if (Array.isArray(stdio)) {
    list = stdio.slice();
  } else {
    throw invalidArgValue('stdio', stdio);
  }
  while (list.length < 3) list.push(undefined);
  const entries = list.map((value, i) => stdioEntry(value, i, sync));
  let ipc = -1;
  entries.forEach((entry, i) => {
    if (entry.type === 'ipc') {
      if (sync) throw errors.nodeError(Error, 'ERR_IPC_SYNC_FORK', 'IPC cannot be used with synchronous forks');
      if (ipc >= 0) throw errors.nodeError(Error, 'ERR_IPC_ONE_PIPE', 'Child process can have only one IPC pipe');
      ipc = i;
    }
  });
  return { entries, ipc };
}

/** The addon's code for one entry. */
function stdioCode(entry) {
  switch (entry.type) {
    case 'pipe':
    case 'input':
      return STDIO.pipe;
    case 'ipc':
      return STDIO.socket;
    case 'ignore':
      return STDIO.ignore;
    default:
      return entry.fd;
  }
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

function absoluteDirectory(value, name) {
  if (value instanceof URL) value = fileURLToPath(value);
  if (typeof value !== 'string' || value === '') {
    throw invalidArgument(`${name} must be a non-empty string or file: URL, got ${describe(value)}`);
  }
  return path.resolve(value);
}

/** `unixSockets`: 'none', 'all' or an array of absolute paths (granted through the connect broker). */
function unixSockets(value) {
  if (value === undefined || value === 'none' || value === 'all') return { mode: value, paths: undefined };
  if (Array.isArray(value) && value.every((p) => typeof p === 'string' && path.isAbsolute(p))) {
    return { mode: undefined, paths: value };
  }
  throw invalidArgument(`unixSockets must be 'none', 'all' or an array of absolute paths, got ${describe(value)}`);
}

/** The sandbox's own options, validated. */
function sandboxOptions(options) {
  // The policy's cwd (the writable workspace under workspace-write) does not follow the
  // command's `cwd`: a caller that lets the model pick `cwd` must not let it pick what is
  // writable. Like the CLI, it defaults to this process's working directory.
  const policyCwd = options.policyCwd === undefined ? process.cwd() : absoluteDirectory(options.policyCwd, 'policyCwd');
  // `network: { managed: {...} }` is Codex's managed network (proxy-only to its loopback ports).
  const managed = options.network !== null && typeof options.network === 'object' && !Array.isArray(options.network);
  if (managed) {
    const keys = Object.keys(options.network);
    if (keys.length !== 1 || keys[0] !== 'managed' || options.network.managed === null || typeof options.network.managed !== 'object') {
      throw invalidArgument(`network must be 'restricted', 'full', 'proxy' or { managed: {...} }, got ${describe(options.network)}`);
    }
  } else if (options.network !== undefined && !NETWORK_MODES.has(options.network)) {
    throw invalidArgument(`network must be 'restricted', 'full', 'proxy' or { managed: {...} }, got ${describe(options.network)}`);
  }
  if (options.maxProcesses !== undefined && (!Number.isInteger(options.maxProcesses) || options.maxProcesses < 1 || options.maxProcesses > 0xffffffff)) {
    throw invalidArgument(`maxProcesses must be a whole number from 1, got ${describe(options.maxProcesses)}`);
  }
  for (const key of ['protect', 'unprotect']) {
    const names = options[key];
    if (names !== undefined && !(Array.isArray(names) && names.every((name) => typeof name === 'string'))) {
      throw invalidArgument(`${key} must be an array of file names, got ${describe(names)}`);
    }
  }
  for (const key of LIMIT_KEYS) {
    const value = options[key];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) {
      throw invalidArgument(`${key} must be a whole number from 1, got ${describe(value)}`);
    }
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
  if (options.controllingTerminal !== undefined && typeof options.controllingTerminal !== 'boolean') {
    throw invalidArgument(`controllingTerminal must be a boolean, got ${describe(options.controllingTerminal)}`);
  }
  if (options.codexMarkers !== undefined && typeof options.codexMarkers !== 'boolean') {
    throw invalidArgument(`codexMarkers must be a boolean, got ${describe(options.codexMarkers)}`);
  }
  if (options.controllingTerminal && options.detached) {
    throw invalidArgument('controllingTerminal cannot be combined with detached: a detached command leads a session of its own');
  }
  const unix = unixSockets(options.unixSockets);
  return {
    policy: policyText(options.policy),
    network: managed ? undefined : options.network,
    unixSockets: unix.mode,
    unixSocketPaths: unix.paths,
    managedNetwork: managed ? JSON.stringify(options.network.managed) : undefined,
    policyCwd,
    pipeline: options.pipeline,
    noProc: options.noProc,
    bwrapPath: options.bwrapPath,
    maxProcesses: options.maxProcesses,
    protect: options.protect,
    unprotect: options.unprotect,
    maxMemoryBytes: options.maxMemoryBytes,
    maxCpuSeconds: options.maxCpuSeconds,
    maxFileSizeBytes: options.maxFileSizeBytes,
    maxOpenFiles: options.maxOpenFiles,
    maxWallTimeMs: options.maxWallTimeMs,
    // The caller's session and controlling terminal (TIOCSTI and TIOCLINUX stay refused).
    keepSession: options.controllingTerminal === true,
    // The command gets exactly the environment given, as with child_process, unless asked.
    networkMarker: options.codexMarkers === true,
  };
}

/** The NativeSpec of node/src/spec.rs for a normalised command. */
function nativeSpec(normalized, argv = [normalized.file, ...normalized.args]) {
  const { cwd, env, options } = normalized;
  return {
    ...sandboxOptions(options),
    // Node's cwd '' and null both mean "this process's working directory".
    cwd: cwd ? path.resolve(cwd) : process.cwd(),
    argv,
    // Only where it differs: the core then runs `argv[0]` with this as the command's argv[0].
    argv0: normalized.argv0 !== argv[0] && argv[0] === normalized.file ? normalized.argv0 : undefined,
    envKeys: env.keys,
    envValues: env.values,
    detached: options.detached === true,
  };
}

/**
 * What libuv's child would report for the working directory: ENOENT (or EACCES) arrive as an
 * 'error' event, ENOTDIR is thrown. The core checks again (and refuses to run) when it
 * canonicalises the directory; this only gives the caller Node's error for it.
 */
function cwdErrno(cwd) {
  if (!cwd) return 0;
  try {
    if (!fs.statSync(cwd).isDirectory()) return os.constants.errno.ENOTDIR;
    fs.accessSync(cwd, fs.constants.X_OK);
    return 0;
  } catch (error) {
    return os.constants.errno[error.code] ?? os.constants.errno.ENOENT;
  }
}

/** The program execvp would run for `file` under `env` (for the ENOEXEC fallback). */
function resolveProgram(file, env, cwd) {
  if (file.includes('/')) return path.resolve(cwd || process.cwd(), file);
  const index = env.keys.lastIndexOf('PATH');
  const search = index >= 0 ? env.values[index] : '/usr/local/bin:/usr/bin:/bin';
  for (const dir of search.split(':')) {
    const candidate = path.resolve(cwd || process.cwd(), dir || '.', file);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // next directory
    }
  }
  return null;
}

module.exports = {
  SANDBOX_KEYS,
  STDIO,
  describe,
  checkKeys,
  normalizeSpawn,
  checkIds,
  stdioEntries,
  stdioCode,
  killSignal,
  signalNumber,
  signalName,
  validateTimeout,
  validateMaxBuffer,
  validateAbortSignal,
  validateObject,
  environment,
  sandboxOptions,
  nativeSpec,
  cwdErrno,
  resolveProgram,
  noNulBytes,
};
