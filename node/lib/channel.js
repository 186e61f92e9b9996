'use strict';
// The parent's end of an IPC channel, framed as Node frames it so that the child runs Node's
// own channel code unchanged (process.send, 'message'):
//   'json'      one JSON text per message, ended by '\n'
//   'advanced'  a 4-byte big-endian length, then the message in V8's serialization format
//               (a header, the value), with Node's host-object tags: 0 for an ArrayBufferView
//               (V8's own encoding follows), 1 for any other host object (its own properties,
//               as a plain object)
// Handles (sockets, servers) travel as descriptors over SCM_RIGHTS in Node; this end cannot
// pass them, so send(message, handle) throws Node's ERR_INVALID_HANDLE_TYPE.

const net = require('node:net');
const v8 = require('node:v8');
const errors = require('./errors.js');

class ChannelSerializer extends v8.DefaultSerializer {
  _writeHostObject(object) {
    if (ArrayBuffer.isView(object)) {
      this.writeUint32(0);
      super._writeHostObject(object);
      return;
    }
    this.writeUint32(1);
    this.writeValue({ ...object });
  }
}

class ChannelDeserializer extends v8.DefaultDeserializer {
  _readHostObject() {
    return this.readUint32() === 0 ? super._readHostObject() : this.readValue();
  }
}

/** The framing of one serialization: `encode(message)` -> Buffer|string; `decoder(onMessage)`. */
const FRAMINGS = {
  json: {
    encode: (message) => `${JSON.stringify(message)}\n`,
    decoder(onMessage) {
      let pending = '';
      return (chunk) => {
        pending += chunk.toString('utf8');
        let end;
        while ((end = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 1);
          let message;
          try {
            message = JSON.parse(line);
          } catch {
            continue;
          }
          onMessage(message);
        }
      };
    },
  },
  advanced: {
    encode(message) {
      const serializer = new ChannelSerializer();
      serializer.writeRawBytes(Buffer.alloc(4));
      serializer.writeHeader();
      serializer.writeValue(message);
      const frame = serializer.releaseBuffer();
      frame.writeUInt32BE(frame.length - 4, 0);
      return frame;
    },
    decoder(onMessage) {
      const chunks = [];
      let buffered = 0;
      return (chunk) => {
        chunks.push(chunk);
        buffered += chunk.length;
        while (buffered >= 4) {
          let data = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          const size = data.readUInt32BE(0);
          if (buffered < 4 + size) {
            chunks.splice(0, chunks.length, data);
            return;
          }
          const deserializer = new ChannelDeserializer(data.subarray(4, 4 + size));
          deserializer.readHeader();
          const message = deserializer.readValue();
          data = data.subarray(4 + size);
          chunks.splice(0, chunks.length, ...(data.length ? [data] : []));
          buffered = data.length;
          onMessage(message);
        }
      };
    },
  },
};

/**
 * Opens the channel on `fd` for `child`: 'message' / 'internalMessage' (a `cmd` starting with
 * NODE_ is Node's own), 'disconnect', send(), disconnect(), connected. `done` runs once the
 * channel has closed (it counts towards 'close').
 */
function setupChannel(child, fd, serialization, done) {
  const framing = FRAMINGS[serialization === 'advanced' ? 'advanced' : 'json'];
  const socket = new net.Socket({ fd, readable: true, writable: true });
  child.channel = socket;
  child.connected = true;
  socket.on(
    'data',
    framing.decoder((message) => {
      const internal = message !== null && typeof message === 'object' && typeof message.cmd === 'string' && message.cmd.startsWith('NODE_');
      child.emit(internal ? 'internalMessage' : 'message', message, undefined);
    }),
  );
  const disconnected = () => {
    if (!child.connected) return;
    child.connected = false;
    process.nextTick(() => child.emit('disconnect'));
  };
  socket.on('end', () => {
    disconnected();
    socket.end();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    disconnected();
    child.channel = null;
    done();
  });
  child.send = function send(message, handle, options, callback) {
    if (typeof handle === 'function') {
      callback = handle;
      handle = undefined;
    } else if (typeof options === 'function') {
      callback = options;
      options = undefined;
    }
    if (message === undefined) throw errors.nodeError(TypeError, 'ERR_MISSING_ARGS', 'The "message" argument must be specified');
    if (handle != null) throw errors.nodeError(TypeError, 'ERR_INVALID_HANDLE_TYPE', 'This handle type cannot be sent');
    if (!child.connected) {
      const error = errors.nodeError(Error, 'ERR_IPC_CHANNEL_CLOSED', 'Channel closed');
      if (typeof callback === 'function') process.nextTick(callback, error);
      else process.nextTick(() => child.emit('error', error));
      return false;
    }
    return socket.write(framing.encode(message), typeof callback === 'function' ? (error) => callback(error ?? null) : undefined);
  };
  child.disconnect = function disconnect() {
    if (!child.connected) {
      child.emit('error', errors.nodeError(Error, 'ERR_IPC_DISCONNECTED', 'IPC channel is already disconnected'));
      return;
    }
    disconnected();
    socket.end();
  };
}

module.exports = { setupChannel };
