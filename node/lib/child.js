'use strict';
// The object spawn() returns: a real `child_process.ChildProcess` (instanceof holds, and
// every method Node defines on the prototype, such as Symbol.dispose, is inherited), driven by
// the sandbox's reaper instead of a libuv process handle. Fields, events and their order are
// those of Node's ChildProcess: 'spawn' | 'error', then 'exit', then 'close' once every output
// stream has closed.

const { ChildProcess } = require('node:child_process');
const net = require('node:net');
const os = require('node:os');
const errors = require('./errors.js');
const opts = require('./options.js');
const { attachChannel, closeQuietly } = require('./channel.js');

const { ESRCH, EINVAL, ENOSYS } = os.constants.errno;

/** The addon's child (kill, pid, pipe descriptors) while it has not been reaped. */
const kNative = Symbol('codex-sandbox.native');
/** The host: the reaper's bookkeeping of the module instance that spawned the child. */
const kHost = Symbol('codex-sandbox.host');
const kReferenced = Symbol('codex-sandbox.referenced');
/** Set on a stream that another child now reads or writes (the parent stays off it). */
const kUsedAsStdio = Symbol('codex-sandbox.usedAsStdio');

class SandboxedChild extends ChildProcess {
  constructor(host) {
    super();
    // Node's libuv process handle is never spawned: the sandbox's reaper stands in for it.
    this._handle = null;
    this[kHost] = host;
    this[kNative] = null;
    this[kReferenced] = false;
  }

  /**
   * Node's kill(): a signal name (any case) or number with a name, or 0; true when delivered,
   * false once the command has ended; EPERM and the like are 'error' events.
   */
  kill(sig) {
    const signal = sig === 0 ? 0 : opts.signalNumber(sig === undefined ? 'SIGTERM' : sig);
    const native = this[kNative];
    if (native) {
      const errno = native.kill(signal);
      if (errno === 0) {
        this.killed = true;
        return true;
      }
      if (errno === EINVAL || errno === ENOSYS) throw errors.errnoException(errno, 'kill');
      if (errno === ESRCH) {
        // Ended, and reaped by the reaper thread, but its 'exit' has not reached this thread
        // yet: for Node the process would still be a zombie, which kill() reaches.
        this.killed = true;
        return true;
      }
      this.emit('error', errors.errnoException(errno, 'kill'));
    }
    return false;
  }

  /** The event loop may exit while this child runs (its pipes hold it unless unref()ed too). */
  unref() {
    this[kHost].setReferenced(this, false);
  }

  ref() {
    this[kHost].setReferenced(this, true);
  }
}

function createPipeSocket(fd, index) {
  if (fd == null) return new net.Socket({ handle: null, readable: index > 0 });
  return new net.Socket({ fd, readable: index > 0, writable: index === 0 });
}

function maybeClose(child) {
  if (++child._closesGot === child._closesNeeded) child.emit('close', child.exitCode, child.signalCode);
}

/** After 'exit', output nobody reads is drained, so that 'close' still comes. */
function flushStdio(child) {
  for (const stream of child.stdio ?? []) {
    if (!stream || !stream.readable || stream[kUsedAsStdio] || stream._readableState?.readableListening) continue;
    stream.resume();
  }
}

/** A stream handed to the command: the parent stops reading it (the command owns the data). */
function handOver(entry) {
  const { stream } = entry;
  const handle = [stream, stream?.handle, stream?._handle].find((h) => typeof h?.readStop === 'function');
  if (handle && handle.reading) {
    handle.reading = false;
    handle.readStop();
  }
  if (typeof stream?.pause === 'function') {
    stream.pause();
    if (stream._readableState) {
      stream._readableState.reading = false;
      stream._readableState.flowing = false;
    }
    // Node's own flushStdio resumes readable streams of a child that exited; a stream another
    // command reads from must not be drained by this process.
    if (stream.readable) stream.readable = false;
  }
  if (stream && typeof stream === 'object') stream[kUsedAsStdio] = true;
}

/** The pipes of a started child, wrapped as Node wraps them. */
function attachStdio(child, entries, fds) {
  child.stdio = entries.map((entry, i) => {
    if (entry.type === 'wrap') handOver(entry);
    if (entry.type !== 'pipe' && entry.type !== 'input') return null;
    // Descriptors 3 and up are socket pairs: duplex, as in Node.
    const socket = i >= 3 && fds[i] != null ? new net.Socket({ fd: fds[i], readable: true, writable: true }) : createPipeSocket(fds[i], i);
    if (i > 0 && fds[i] != null) {
      child._closesNeeded++;
      socket.on('close', () => maybeClose(child));
    }
    return socket;
  });
  [child.stdin, child.stdout, child.stderr] = child.stdio;
}

/** The child is running: events from now on come from the reaper. */
function started(child, native, entries, ipc = -1, serialization = 'json') {
  child[kNative] = native;
  child.pid = native.pid;
  child[kHost].register(child, native.id);
  if (ipc >= 0) {
    try {
      // Node's own spawn code attaches the channel, and queues the 'spawn' event with it.
      attachChannel(child, native.fds[ipc], ipc, serialization);
    } catch (error) {
      // The reaper still collects it (it is registered); the caller gets the error, and the
      // pipes nobody will wrap are closed.
      native.kill(os.constants.signals.SIGKILL);
      native.fds.forEach((fd, i) => fd != null && i !== ipc && closeQuietly(fd));
      throw error;
    }
  } else {
    process.nextTick(() => child.emit('spawn'));
  }
  attachStdio(child, entries, native.fds);
}

/**
 * It never started. Like Node: streams exist but are not connected, exitCode is the negative
 * errno, 'error' then 'close' follow on later ticks, and there is no 'exit'.
 */
function failed(child, entries, error, exitCode) {
  attachStdio(child, entries, []);
  process.nextTick(() => {
    child.exitCode = exitCode;
    if (child.stdin) child.stdin.destroy();
    child.emit('error', error);
    process.nextTick(flushStdio, child);
    // Node's 'close' comes on a later turn of the loop (its never-connected streams close
    // then), so a listener added after 'error' still sees it.
    setImmediate(maybeClose, child);
  });
}

/** The reaper reported the end: Node's onexit. */
function exited(child, code, signal, reapError, violation) {
  child[kNative] = null;
  if (violation) {
    // The run failed: the command created a protected name (removed after the run). As the
    // CLI does, the status is 123; the command's own is on the error.
    child.exitCode = errors.PROTECTED_NAME_CREATED_STATUS;
  } else if (signal > 0) child.signalCode = opts.signalName(signal);
  else child.exitCode = code;
  if (child.stdin) child.stdin.destroy();
  if (reapError) child.emit('error', errors.sandboxError('ERR_SANDBOX_INTERNAL', reapError));
  if (violation) {
    child.emit('error', errors.protectedNameCreated(violation, signal > 0 ? null : code, signal > 0 ? opts.signalName(signal) : null));
  }
  child.emit('exit', child.exitCode, child.signalCode);
  process.nextTick(flushStdio, child);
  // After what the 'exit' listeners queued, as in Node (its streams report their close later).
  queueMicrotask(() => maybeClose(child));
}

module.exports = { SandboxedChild, kReferenced, started, failed, exited };
