'use strict';
// child_process vs sandbox: every stdio form. 'inherit' under a pipe and under a pty, numeric
// descriptors, streams with an fd, sockets, another child's streams, what is refused.
const test = require('node:test');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { compare, events, childProcess } = require('./compat.js');
const { tempDir } = require('./helpers.js');

const root = path.join(__dirname, '..', '..');
const dir = tempDir();
const moduleOf = (implName) => (implName === 'child_process' ? 'node:child_process' : root);
const pipelineOf = (implName) => (['landlock', 'bwrap'].includes(implName) ? { pipeline: implName } : {});

/** Runs `body` in a fresh Node process whose stdin/stdout/stderr are pipes (or a pty). */
function outer(implName, body, { input = '', pty = false } = {}) {
  const file = path.join(dir, `outer-${implName}-${Math.random().toString(36).slice(2)}.js`);
  fs.writeFileSync(
    file,
    `const cp = require(${JSON.stringify(moduleOf(implName))});
     const extra = ${JSON.stringify(pipelineOf(implName))};
     ${body}`,
  );
  if (pty) {
    if (!fs.existsSync('/usr/bin/script')) return { skipped: 'no script(1) for a pty' };
    const result = childProcess.spawnSync('/usr/bin/script', ['-qec', `${process.execPath} ${file}`, '/dev/null'], { encoding: 'utf8', timeout: 30000 });
    return { status: result.status, stdout: result.stdout.replace(/\r/g, '') };
  }
  const result = childProcess.spawnSync(process.execPath, [file], { input, encoding: 'utf8', timeout: 30000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const SHELL = "read line; echo \"out:$line\"; echo err >&2; exit 4";

test("'inherit' and numeric descriptors", async (t) => {
  await compare(t, [
    ["'inherit' under pipes", async (cp, implName) =>
      outer(implName, `cp.spawn('sh', ['-c', ${JSON.stringify(SHELL)}], { ...extra, stdio: 'inherit' }).on('exit', (c) => console.log('exit', c));`, { input: 'hello\n' })],
    ['[0, 1, 2] under pipes', async (cp, implName) =>
      outer(implName, `cp.spawn('sh', ['-c', ${JSON.stringify(SHELL)}], { ...extra, stdio: [0, 1, 2] }).on('exit', (c) => console.log('exit', c));`, { input: 'hello\n' })],
    ["['inherit', 'pipe', 'inherit']", async (cp, implName) =>
      outer(implName, `const c = cp.spawn('sh', ['-c', ${JSON.stringify(SHELL)}], { ...extra, stdio: ['inherit', 'pipe', 'inherit'] });
        let out = ''; c.stdout.on('data', (d) => out += d); c.on('close', (code) => console.log(JSON.stringify(out), code));`, { input: 'hi\n' })],
    ["[process.stdin, process.stdout, process.stderr]", async (cp, implName) =>
      outer(implName, `cp.spawn('sh', ['-c', ${JSON.stringify(SHELL)}], { ...extra, stdio: [process.stdin, process.stdout, process.stderr] }).on('exit', (c) => console.log('exit', c));`, { input: 'x\n' })],
    ["'inherit' under a pty: the command sees a terminal", async (cp, implName) =>
      outer(implName, `cp.spawn('sh', ['-c', '[ -t 0 ] && [ -t 1 ] && echo tty || echo notty'], { ...extra, stdio: 'inherit' }).on('exit', (c) => console.log('exit', c));`, { pty: true })],
    ["spawnSync 'inherit' under pipes", async (cp, implName) =>
      outer(implName, `const r = cp.spawnSync('sh', ['-c', ${JSON.stringify(SHELL)}], { ...extra, stdio: 'inherit' }); console.log('status', r.status, r.stdout);`, { input: 'sync\n' })],
  ]);
});

test('files, streams, sockets and other children as stdio', async (t) => {
  let n = 0;
  const scratch = () => path.join(dir, `file-${n++}`);
  await compare(t, [
    ['a file descriptor as stdout', async (cp) => {
      const file = scratch();
      const fd = fs.openSync(file, 'w');
      const seen = await events(cp.spawn('sh', ['-c', 'echo to-file; echo e >&2'], { stdio: ['ignore', fd, 'pipe'] }), { data: true });
      fs.closeSync(fd);
      return { ...seen, file: fs.readFileSync(file, 'utf8') };
    }],
    ['a file descriptor as stdin', async (cp) => {
      const file = scratch();
      fs.writeFileSync(file, 'from-file\n');
      const fd = fs.openSync(file, 'r');
      const seen = await events(cp.spawn('cat', [], { stdio: [fd, 'pipe', 'pipe'] }), { data: true });
      fs.closeSync(fd);
      return seen;
    }],
    ['an fs.WriteStream ({ fd })', async (cp) => {
      const file = scratch();
      const stream = fs.createWriteStream(file);
      await new Promise((resolve) => stream.on('open', resolve));
      const seen = await events(cp.spawn('echo', ['stream'], { stdio: ['ignore', stream, 'inherit'] }));
      await new Promise((resolve) => stream.end(resolve));
      return { seen, file: fs.readFileSync(file, 'utf8') };
    }],
    ["'ignore' everywhere: stdin is at end of file, output goes nowhere", async (cp) =>
      events(cp.spawn('sh', ['-c', 'cat; echo gone'], { stdio: 'ignore' }))],
    ["'ignore' stdin, piped stdout", async (cp) => events(cp.spawn('sh', ['-c', 'cat; echo "rc:$?"'], { stdio: ['ignore', 'pipe', 'pipe'] }), { data: true })],
    ['a connected net.Socket as stdout', async (cp) => {
      const socketPath = path.join(dir, `sock-${n++}`);
      const received = [];
      const server = net.createServer((conn) => conn.on('data', (d) => received.push(String(d))));
      await new Promise((resolve) => server.listen(socketPath, resolve));
      const socket = net.connect(socketPath);
      await new Promise((resolve) => socket.on('connect', resolve));
      const seen = await events(cp.spawn('echo', ['over-socket'], { stdio: ['ignore', socket, 'inherit'] }));
      socket.end();
      await new Promise((resolve) => setTimeout(resolve, 100));
      server.close();
      return { seen, received: received.join('') };
    }],
    ["another child's stdout as stdin (cat | tr), same implementation", async (cp) => {
      const first = cp.spawn('sh', ['-c', 'echo one; sleep 0.1; echo two']);
      const second = cp.spawn('tr', ['a-z', 'A-Z'], { stdio: [first.stdout, 'pipe', 'inherit'] });
      const firstExit = new Promise((resolve) => first.on('exit', (code) => resolve(code)));
      const seen = await events(second, { data: true });
      return { seen, first: await firstExit };
    }],
    ["child_process's stdout as stdin of this implementation", async (cp) => {
      const first = childProcess.spawn('sh', ['-c', 'echo node-side; sleep 0.1; echo end']);
      const seen = await events(cp.spawn('cat', [], { stdio: [first.stdout, 'pipe', 'inherit'] }), { data: true });
      return seen;
    }],
    ["this implementation's stdin fed by a pipeline of three", async (cp) => {
      const a = cp.spawn('printf', ['b\\na\\nc\\n']);
      const b = cp.spawn('sort', [], { stdio: [a.stdout, 'pipe', 'inherit'] });
      const c = cp.spawn('wc', ['-l'], { stdio: [b.stdout, 'pipe', 'inherit'] });
      return events(c, { data: true });
    }],
    ['a Buffer as async stdio is refused', async (cp) => {
      try {
        cp.spawn('true', [], { stdio: [Buffer.from('x'), 'pipe', 'pipe'] });
        return 'spawned';
      } catch (error) {
        return { name: error.name, code: error.code };
      }
    }],
    ['stdio[3] ignore', async (cp) => events(cp.spawn('echo', ['x'], { stdio: ['pipe', 'pipe', 'pipe', 'ignore'] }), { data: true })],
    ['stdio[3] pipe', async (cp) => {
      const child = cp.spawn('sh', ['-c', 'echo fd3 >&3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
      let out = '';
      child.stdio[3].on('data', (d) => { out += d; });
      await events(child);
      return out;
    }],
    ['stdio[3] and [4]: write to the command, read from it', async (cp) => {
      const child = cp.spawn('sh', ['-c', 'tr a-z A-Z <&4 >&3'], { stdio: ['ignore', 'inherit', 'inherit', 'pipe', 'pipe'] });
      let out = '';
      child.stdio[3].on('data', (d) => { out += d; });
      child.stdio[4].end('shout\n');
      return { seen: await events(child), out };
    }],
    ['stdio[3] a file descriptor', async (cp) => {
      const file = scratch();
      const fd = fs.openSync(file, 'w');
      const seen = await events(cp.spawn('sh', ['-c', 'echo to-fd3 >&3'], { stdio: ['ignore', 'inherit', 'inherit', fd] }));
      fs.closeSync(fd);
      return { seen, file: fs.readFileSync(file, 'utf8') };
    }],
  ]);
});
