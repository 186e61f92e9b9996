'use strict';
// Errors. Two families:
// - Node's own contract, for everything child_process also reports: validation errors
//   (TypeError/RangeError with ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE,
//   ERR_UNKNOWN_SIGNAL) and system errors shaped like libuv's (`errno` negative, `code`,
//   `syscall: 'spawn <file>'`), so code written for child_process keeps working.
// - ERR_SANDBOX_* for what only a sandbox can fail at (policy, host support, setup). The native
//   layer reports failures as data ({ kind, message, errno, field }); they become Errors here,
//   so the stack points at the caller's JS.

const os = require('node:os');
const util = require('node:util');

/** The core's kinds that mean "the input was refused before anything ran": thrown synchronously. */
const INPUT_KINDS = new Set(['invalid-argument', 'invalid-policy', 'unsupported']);

function sandboxError(code, message, properties) {
  const error = new Error(message);
  error.code = code;
  if (properties) Object.assign(error, properties);
  return error;
}

/** The status of a run whose command created a protected name (the CLI's exit code too). */
const PROTECTED_NAME_CREATED_STATUS = 123;

/**
 * The command created protected names in a writable root (`sub/.git`, a name from `protect`),
 * removed once the run was over: the run failed. `commandExitCode`/`commandSignal` are the
 * command's own ending.
 */
function protectedNameCreated(message, commandExitCode, commandSignal) {
  return sandboxError('ERR_SANDBOX_PROTECTED_NAME_CREATED', message, { commandExitCode, commandSignal });
}

function invalidArgument(message) {
  return sandboxError('ERR_SANDBOX_INVALID_ARGUMENT', message);
}

function errnoName(errno) {
  return Object.keys(os.constants.errno).find((key) => os.constants.errno[key] === errno);
}

function fromNative(native, properties) {
  const code = `ERR_SANDBOX_${String(native.kind).toUpperCase().replace(/-/g, '_')}`;
  const error = sandboxError(code, native.message, properties);
  if (native.errno != null) {
    error.errno = native.errno;
    const name = errnoName(native.errno);
    if (name) error.errnoCode = name;
  }
  if (native.check != null) error.check = native.check;
  return error;
}

function isInputError(native) {
  return INPUT_KINDS.has(native.kind);
}

function abortError(reason) {
  const error = new Error('The operation was aborted', { cause: reason });
  error.name = 'AbortError';
  error.code = 'ABORT_ERR';
  return error;
}

/** Node's errors carry `code` as an own property and show it in the name ("TypeError [CODE]"). */
function nodeError(Base, code, message) {
  const error = new Base(message);
  Object.defineProperty(error, 'code', { value: code, enumerable: true, writable: true, configurable: true });
  Error.captureStackTrace(error, nodeError);
  return error;
}

function received(value) {
  if (value == null) return ` Received ${value}`;
  if (typeof value === 'function') return ` Received function ${value.name}`;
  if (typeof value === 'object') {
    if (value.constructor?.name) return ` Received an instance of ${value.constructor.name}`;
    return ` Received ${util.inspect(value, { depth: -1 })}`;
  }
  let shown = util.inspect(value, { colors: false });
  if (shown.length > 28) shown = `${shown.slice(0, 25)}...`;
  return ` Received type ${typeof value} (${shown})`;
}

function subject(name) {
  return name.includes('.') ? `"${name}" property` : `"${name}" argument`;
}

function orList(items) {
  if (items.length > 2) return `${items.slice(0, -1).join(', ')}, or ${items.at(-1)}`;
  return items.length > 1 ? `${items[0]} or ${items[1]}` : items[0];
}

/** ERR_INVALID_ARG_TYPE: `expected` is a type name (`string`) or class name (`URL`), or a list. */
const JS_TYPES = new Set(['string', 'function', 'number', 'object', 'boolean', 'bigint', 'symbol']);

function invalidArgType(name, expected, value) {
  const all = [].concat(expected);
  const types = all.filter((t) => JS_TYPES.has(t));
  const classes = all.filter((t) => !JS_TYPES.has(t) && t[0] !== t[0].toLowerCase());
  const other = all.filter((t) => !JS_TYPES.has(t) && t[0] === t[0].toLowerCase());
  const parts = [];
  if (types.length) parts.push(`${types.length > 1 ? 'one of type' : 'of type'} ${orList(types)}`);
  if (classes.length) parts.push(`an instance of ${orList(classes)}`);
  if (other.length) parts.push(orList(other));
  return nodeError(TypeError, 'ERR_INVALID_ARG_TYPE', `The ${subject(name)} must be ${parts.join(' or ')}.${received(value)}`);
}

function invalidArgValue(name, value, reason = 'is invalid') {
  let shown = util.inspect(value);
  if (shown.length > 128) shown = `${shown.slice(0, 128)}...`;
  const kind = name.includes('.') ? 'property' : 'argument';
  return nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', `The ${kind} '${name}' ${reason}. Received ${shown}`);
}

function outOfRange(name, range, value) {
  return nodeError(
    RangeError,
    'ERR_OUT_OF_RANGE',
    `The value of "${name}" is out of range. It must be ${range}. Received ${util.inspect(value)}`,
  );
}

function unknownSignal(signal) {
  return nodeError(TypeError, 'ERR_UNKNOWN_SIGNAL', `Unknown signal: ${signal}`);
}

function invalidSyncForkInput(value) {
  const message = `Asynchronous forks do not support Buffer, TypedArray, DataView or string input: ${util.inspect(value)}`;
  return nodeError(TypeError, 'ERR_INVALID_SYNC_FORK_INPUT', message);
}

function maxBufferExceeded(stream) {
  return nodeError(RangeError, 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER', `${stream} maxBuffer length exceeded`);
}

/**
 * A system error as libuv reports it: `errno` negative, `code` the errno name,
 * message `<syscall> <code>`.
 */
function errnoException(errno, syscall) {
  const code = errnoName(errno) ?? `Unknown system error ${-errno}`;
  const error = new Error(`${syscall} ${code}`);
  error.errno = -errno;
  error.code = code;
  error.syscall = syscall;
  Error.captureStackTrace(error, errnoException);
  return error;
}

/** Node's `genericNodeError`: an Error with the given properties. */
function withProperties(message, properties) {
  const error = new Error(message);
  Object.assign(error, properties);
  return error;
}

module.exports = {
  sandboxError,
  protectedNameCreated,
  PROTECTED_NAME_CREATED_STATUS,
  invalidArgument,
  fromNative,
  isInputError,
  abortError,
  invalidArgType,
  invalidArgValue,
  outOfRange,
  unknownSignal,
  invalidSyncForkInput,
  maxBufferExceeded,
  errnoException,
  withProperties,
  nodeError,
};
