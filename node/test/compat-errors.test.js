'use strict';
// child_process vs sandbox: the error contract (ENOENT, EACCES, ENOTDIR, EPERM with errno,
// syscall, path, spawnargs; thrown or emitted as Node does), validation errors (class, code,
// message), and the normalisation of env, cwd, args and scripts without #!.
const test = require('node:test');
const fs = require('node:fs');
const path = require('node:path');
const { compare, events } = require('./compat.js');
const { tempDir } = require('./helpers.js');

const dir = tempDir();
const PATH = '/usr/local/bin:/usr/bin:/bin';

function errorShape(error) {
  const out = { name: error.name, message: error.message };
  for (const key of ['code', 'errno', 'syscall', 'path', 'spawnargs']) {
    if (error[key] !== undefined) out[key] = error[key];
  }
  return out;
}

/** Spawns; returns what was thrown, or the events plus the error and the child's fields. */
async function outcome(cp, ...args) {
  let child;
  try {
    child = cp.spawn(...args);
  } catch (error) {
    return { threw: errorShape(error) };
  }
  let error;
  child.on('error', (e) => {
    error = errorShape(e);
  });
  const streams = [child.stdin, child.stdout, child.stderr].map((s) => s !== null);
  const seen = await events(child);
  return { seen, error, exitCode: child.exitCode, pid: typeof child.pid, streams };
}

test('errors from starting a command', async (t) => {
  const script = path.join(dir, 'no-shebang');
  fs.writeFileSync(script, 'echo "no shebang: $0 $*"\n', { mode: 0o755 });
  const plain = path.join(dir, 'not-executable');
  fs.writeFileSync(plain, 'echo x\n', { mode: 0o644 });
  await compare(t, [
    ['not found (ENOENT)', (cp) => outcome(cp, 'codex-sandbox-no-such-command', ['a', 'b'], { env: { PATH } })],
    ['not found, absolute path', (cp) => outcome(cp, '/nonexistent/command')],
    ['a path through a file (ENOTDIR)', (cp) => outcome(cp, '/etc/passwd/x')],
    ['not executable (EACCES)', (cp) => outcome(cp, plain)],
    ['a directory (EACCES)', (cp) => outcome(cp, '/usr')],
    ['missing cwd (ENOENT)', (cp) => outcome(cp, 'true', [], { cwd: path.join(dir, 'missing') })],
    ['cwd is a file (ENOTDIR)', (cp) => outcome(cp, 'true', [], { cwd: '/etc/passwd' })],
    ['a script without #! runs through /bin/sh', async (cp) => {
      const child = cp.spawn(script, ['x', 'y']);
      return events(child, { data: true });
    }],
    ['the same through PATH', async (cp) => events(cp.spawn('no-shebang', ['z'], { env: { PATH: `${dir}:${PATH}` } }), { data: true })],
    ['uid of another user', (cp) => outcome(cp, 'true', [], { uid: 12345 })],
    ['own uid and gid', (cp) => outcome(cp, 'true', [], { uid: process.getuid(), gid: process.getgid() })],
  ]);
});

test('validation errors', async (t) => {
  const cases = [
    ['file not a string', ['spawn', 5]],
    ['file empty', ['spawn', '']],
    ['file with NUL', ['spawn', 'a\0b']],
    ['args a string', ['spawn', 'true', 'x']],
    ['args with NUL', ['spawn', 'true', ['a\0']]],
    ['options null', ['spawn', 'true', [], null]],
    ['options a string', ['spawn', 'true', [], 'x']],
    ['cwd a number', ['spawn', 'true', [], { cwd: 5 }]],
    ['detached a string', ['spawn', 'true', [], { detached: 'yes' }]],
    ['uid not int32', ['spawn', 'true', [], { uid: 1.5 }]],
    ['gid a string', ['spawn', 'true', [], { gid: '0' }]],
    ['shell a number', ['spawn', 'true', [], { shell: 5 }]],
    ['argv0 a number', ['spawn', 'true', [], { argv0: 5 }]],
    ['windowsHide a string', ['spawn', 'true', [], { windowsHide: 'x' }]],
    ['windowsVerbatimArguments a number', ['spawn', 'true', [], { windowsVerbatimArguments: 1 }]],
    ['serialization unknown', ['spawn', 'true', [], { serialization: 'xml' }]],
    ['timeout negative', ['spawn', 'true', [], { timeout: -1 }]],
    ['timeout fractional', ['spawn', 'true', [], { timeout: 1.5 }]],
    ['signal not an AbortSignal', ['spawn', 'true', [], { signal: {} }]],
    ['killSignal unknown', ['spawn', 'true', [], { killSignal: 'SIGNOPE' }]],
    ['killSignal an object', ['spawn', 'true', [], { killSignal: {} }]],
    ['stdio unknown string', ['spawn', 'true', [], { stdio: 'everything' }]],
    ['stdio an object', ['spawn', 'true', [], { stdio: {} }]],
    ['stdio entry unknown', ['spawn', 'true', [], { stdio: ['pipe', 'bogus'] }]],
    ['env value with NUL', ['spawn', 'true', [], { env: { A: 'x\0' } }]],
    ['spawnSync maxBuffer negative', ['spawnSync', 'true', [], { maxBuffer: -1 }]],
    ['execFile maxBuffer a string', ['execFile', 'true', [], { maxBuffer: 'x' }]],
    ['exec command not a string', ['exec', 5]],
  ];
  await compare(
    t,
    cases.map(([name, [fn, ...args]]) => [
      name,
      async (cp) => {
        try {
          const result = cp[fn](...args);
          if (result && typeof result.on === 'function') {
            await events(result);
            return 'spawned';
          }
          return 'returned';
        } catch (error) {
          return { name: error.name, code: error.code, message: error.message };
        }
      },
    ]),
    { plain: true },
  );
});

test('env, cwd and argument normalisation', async (t) => {
  const printEnv = (cp, options) => events(cp.spawn('sh', ['-c', 'echo "[$FROM_PROTO][$OWN][$NUM][$UNDEF][${A:-}]"'], options), { data: true });
  const inherited = Object.create({ FROM_PROTO: 'proto' });
  inherited.OWN = 'own';
  inherited.NUM = 42;
  inherited.UNDEF = undefined;
  inherited.PATH = PATH;
  process.env.CODEX_SANDBOX_TEST_INHERITED = 'from-parent';
  await compare(t, [
    ['env keys inherited through the prototype (for…in)', (cp) => printEnv(cp, { env: inherited })],
    ['env: null means process.env', async (cp) => events(cp.spawn('sh', ['-c', 'echo "$CODEX_SANDBOX_TEST_INHERITED"'], { env: null }), { data: true })],
    ['env: undefined means process.env', async (cp) => events(cp.spawn('sh', ['-c', 'echo "$CODEX_SANDBOX_TEST_INHERITED"'], { env: undefined }), { data: true })],
    ['env key with =', async (cp) => events(cp.spawn('sh', ['-c', 'echo "$A"'], { env: { 'A=B': 'c', PATH } }), { data: true })],
    ["cwd ''", async (cp) => events(cp.spawn('pwd', [], { cwd: '' }), { data: true })],
    ['cwd null', async (cp) => events(cp.spawn('pwd', [], { cwd: null }), { data: true })],
    ['cwd a file: URL', async (cp) => events(cp.spawn('pwd', [], { cwd: new URL('file:///usr') }), { data: true })],
    // child_process validates a Buffer cwd and then ignores it; the sandbox runs the command there.
    ['cwd a Buffer', async (cp) => events(cp.spawn('pwd', [], { cwd: Buffer.from('/usr') }), { data: true }), { differs: true }],
    ['cwd relative', async (cp) => events(cp.spawn('pwd', [], { cwd: '..' }), { data: true })],
    ['non-string args are stringified', async (cp) => events(cp.spawn('echo', [1, null, undefined, true, { a: 1 }]), { data: true })],
    ['args array not modified, spawnargs is a copy', async (cp) => {
      const args = ['x'];
      const child = cp.spawn('echo', args, { shell: true });
      await events(child);
      return { args, spawnargs: child.spawnargs, spawnfile: child.spawnfile };
    }],
    ['shell: true joins the command line', async (cp) => events(cp.spawn('echo', ['$0', '|', 'tr', 'a-z', 'A-Z'], { shell: true }), { data: true })],
    ['shell: a path', async (cp) => events(cp.spawn('echo $0', { shell: '/bin/bash' }), { data: true })],
    ['shell: false', async (cp) => events(cp.spawn('echo', ['$0'], { shell: false }), { data: true })],
    ['detached, windowsHide, windowsVerbatimArguments, serialization accepted', async (cp) =>
      events(cp.spawn('echo', ['ok'], { detached: true, windowsHide: true, windowsVerbatimArguments: false, serialization: 'advanced' }), { data: true })],
    ['argv0 equal to the file', async (cp) => events(cp.spawn('sh', ['-c', 'echo $0'], { argv0: 'sh' }), { data: true })],
    // Waits for the core to let argv[0] differ from the program it runs.
    ['argv0 different from the file', async (cp) => events(cp.spawn('sh', ['-c', 'echo $0'], { argv0: 'custom-name' }), { data: true }), { differs: true }],
  ]);
  delete process.env.CODEX_SANDBOX_TEST_INHERITED;
});
