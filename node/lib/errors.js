'use strict';
// Errors with stable `code`s. The native layer reports failures as data ({ kind, message,
// errno }); they become Errors here, so the stack points at the caller's JS.

const os = require('node:os');

/** The core's kinds that mean "the input was refused before anything ran": thrown synchronously. */
const INPUT_KINDS = new Set(['invalid-argument', 'invalid-policy', 'unsupported']);

function sandboxError(code, message, properties) {
  const error = new Error(message);
  error.code = code;
  if (properties) Object.assign(error, properties);
  return error;
}

function invalidArgument(message) {
  return sandboxError('ERR_SANDBOX_INVALID_ARGUMENT', message);
}

function fromNative(native, properties) {
  const code = `ERR_SANDBOX_${String(native.kind).toUpperCase().replace(/-/g, '_')}`;
  const error = sandboxError(code, native.message, properties);
  if (native.errno != null) {
    error.errno = native.errno;
    const name = Object.keys(os.constants.errno).find((key) => os.constants.errno[key] === native.errno);
    if (name) error.errnoCode = name;
  }
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

module.exports = { sandboxError, invalidArgument, fromNative, isInputError, abortError };
