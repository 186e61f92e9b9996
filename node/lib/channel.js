'use strict';
// The parent's end of an IPC channel is Node's own: `process.send`, 'message', handles
// (sockets, servers, dgram sockets passed as descriptors over SCM_RIGHTS), both
// serializations, `disconnect()`, NODE_HANDLE acknowledgements and the channel's reference
// counting are all Node's code, unchanged.
//
// Node attaches its channel only inside `ChildProcess.prototype.spawn`: it makes an IPC pipe
// handle for the 'ipc' entry of `stdio`, lets the process handle spawn, then wires the pipe to
// the child (`setupChannel`). The command is already running here, so a stand-in process
// handle takes the place of libuv's: its `spawn` opens Node's IPC pipe on the socket the
// sandbox gave the command's channel, and reports success. Everything else Node's `spawn`
// does is undone or redone by the caller (stdio streams, the 'spawn' event).

const { ChildProcess } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const errors = require('./errors.js');

const { EINVAL } = os.constants.errno;

function closeQuietly(fd) {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed.
  }
}

/** The channel entry of the stdio list Node hands the process handle's `spawn`. */
function channelEntry(params, index) {
  // Node 20 and 22 pass one options object (its `stdio`); Node 24 passes the fields one by one
  // (file, args, cwd, envPairs, stdio, ...). Either way the stdio list is the one whose entry
  // at `index` is the channel: Node's own shape, with a pipe handle that can be opened on a
  // descriptor. Anything else is a Node this code does not know.
  const lists = params.map((param) => (Array.isArray(param) ? param : param?.stdio));
  const entry = lists.find((list) => Array.isArray(list) && list[index]?.ipc)?.[index];
  return entry?.ipc && typeof entry.handle?.open === 'function' ? entry : undefined;
}

/** Runs Node's `spawn` on `child` with `standIn` as its process handle. */
function nodeSpawn(child, standIn, index, serialization) {
  // At least three entries: Node makes pipes of missing standard streams.
  const stdio = Array.from({ length: Math.max(index + 1, 3) }, (_, i) => (i === index ? 'ipc' : 'ignore'));
  const { spawnfile, spawnargs } = child;
  child._handle = standIn;
  try {
    ChildProcess.prototype.spawn.call(child, { file: spawnfile ?? 'node', args: spawnargs ?? [], stdio, serialization });
  } finally {
    child._handle = null;
    child.spawnfile = spawnfile;
    child.spawnargs = spawnargs;
  }
}

let compatible;

/**
 * Whether this Node attaches its channel as `attachChannel` expects, found once, before any
 * command runs: Node's `spawn` is run on a throwaway ChildProcess whose stand-in handle only
 * looks at the channel entry and then fails the spawn, so Node closes the pipe it made.
 */
function channelSupported() {
  if (compatible === undefined) {
    compatible = false;
    const probe = new ChildProcess();
    // The libuv process handle its constructor made is never spawned: closed, as Node does
    // on a failed spawn.
    probe._handle?.close?.();
    const standIn = {
      spawn(...params) {
        compatible = channelEntry(params, 3) !== undefined;
        return -EINVAL;
      },
      close() {},
    };
    try {
      nodeSpawn(probe, standIn, 3, 'json');
    } catch {
      // The EINVAL the stand-in returned.
    }
  }
  return compatible;
}

/**
 * Wires Node's channel on `fd` (the parent's end of the socket pair whose other end is the
 * command's descriptor `index`) to `child`. The pipe handle owns `fd` from then on. Node's
 * `spawn` also counts the channel towards 'close' and queues the 'spawn' event.
 */
function attachChannel(child, fd, index, serialization) {
  let opened = false;
  const standIn = {
    pid: child.pid,
    spawn(...params) {
      const entry = channelEntry(params, index);
      // The run must not go on with a channel that half works.
      if (!entry) return -EINVAL;
      const status = entry.handle.open(fd);
      opened = status === 0;
      return status;
    },
    close() {},
  };
  try {
    nodeSpawn(child, standIn, index, serialization);
  } finally {
    // Not taken by a pipe handle: still ours to close.
    if (!opened) closeQuietly(fd);
  }
  if (!opened || !child.channel) {
    throw errors.sandboxError('ERR_SANDBOX_INTERNAL', 'this version of Node did not attach its IPC channel to the sandboxed child');
  }
}

module.exports = { attachChannel, channelSupported, closeQuietly };
