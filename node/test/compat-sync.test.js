'use strict';
// child_process vs sandbox: spawnSync, execSync and execFileSync (status, signal, input,
// encoding, timeout, maxBuffer, the errors they return or throw).
const test = require('node:test');
const { compare } = require('./compat.js');

/** A spawnSync result without the pid (which differs by nature) and with errors as data. */
function shape(result) {
  const { pid, error, ...rest } = result;
  const out = { ...rest, pid: typeof pid };
  if (error) out.error = errorShape(error);
  return out;
}

function errorShape(error) {
  const out = { name: error.name, message: error.message.split('\n')[0] };
  for (const key of ['code', 'errno', 'syscall', 'path', 'spawnargs', 'status', 'signal', 'killed', 'cmd']) {
    if (error[key] !== undefined) out[key] = error[key];
  }
  for (const key of ['stdout', 'stderr']) {
    if (error[key] !== undefined) out[key] = String(error[key]);
  }
  return out;
}

function throws(fn) {
  try {
    return { returned: fn() };
  } catch (error) {
    return { threw: errorShape(error) };
  }
}

test('spawnSync', async (t) => {
  await compare(t, [
    ['status and output (Buffers)', async (cp) => shape(cp.spawnSync('sh', ['-c', 'echo out; echo err >&2; exit 3']))],
    ['encoding utf8', async (cp) => shape(cp.spawnSync('sh', ['-c', 'echo out; echo err >&2'], { encoding: 'utf8' }))],
    ['encoding hex', async (cp) => shape(cp.spawnSync('printf', ['\\001'], { encoding: 'hex' }))],
    ['input string', async (cp) => shape(cp.spawnSync('cat', [], { input: 'typed\n', encoding: 'utf8' }))],
    ['input Buffer, 1 MiB', async (cp) => {
      const result = cp.spawnSync('wc', ['-c'], { input: Buffer.alloc(1 << 20, 'x'), encoding: 'utf8' });
      return shape(result);
    }],
    ['input Uint8Array', async (cp) => shape(cp.spawnSync('cat', [], { input: new Uint8Array([104, 105]), encoding: 'utf8' }))],
    ['input the command does not read', async (cp) => shape(cp.spawnSync('true', [], { input: Buffer.alloc(1 << 20) }))],
    ['killed by a signal', async (cp) => shape(cp.spawnSync('sh', ['-c', 'kill -TERM $$']))],
    ['timeout with killSignal', async (cp) => shape(cp.spawnSync('sh', ['-c', 'echo before; sleep 10'], { timeout: 200, killSignal: 'SIGKILL', encoding: 'utf8' }))],
    ['maxBuffer exceeded', async (cp) => {
      const result = cp.spawnSync('sh', ['-c', 'head -c 5000 /dev/zero; sleep 10'], { maxBuffer: 1000 });
      return { ...shape(result), output: null, stdout: result.stdout.length > 1000 };
    }],
    ['maxBuffer 0 is no limit', async (cp) => cp.spawnSync('head', ['-c', '300000', '/dev/zero'], { maxBuffer: 0 }).stdout.length],
    ['not found', async (cp) => shape(cp.spawnSync('codex-sandbox-no-such-command', ['a'], { env: { PATH: '/usr/bin:/bin' } }))],
    ['not executable', async (cp) => shape(cp.spawnSync('/etc/passwd'))],
    ['missing cwd', async (cp) => shape(cp.spawnSync('true', [], { cwd: '/nonexistent-cwd' }))],
    ["stdio 'ignore'", async (cp) => shape(cp.spawnSync('echo', ['x'], { stdio: 'ignore' }))],
    ['shell: true', async (cp) => shape(cp.spawnSync('echo $0 "$FOO"', { shell: true, env: { FOO: 'bar' }, encoding: 'utf8' }))],
    ["'ipc' is refused", async (cp) => throws(() => cp.spawnSync('true', [], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'] }))],
    ['bad maxBuffer', async (cp) => throws(() => cp.spawnSync('true', [], { maxBuffer: -1 }))],
    ['bad input', async (cp) => throws(() => cp.spawnSync('true', [], { input: 5 }))],
  ]);
});

test('execSync and execFileSync', async (t) => {
  await compare(t, [
    ['execSync output', async (cp) => throws(() => String(cp.execSync('echo hi')))],
    ['execSync encoding', async (cp) => throws(() => cp.execSync('echo hi', { encoding: 'utf8' }))],
    ['execSync failure', async (cp) => throws(() => cp.execSync('echo out; echo err >&2; exit 3', { stdio: 'pipe' }))],
    ['execSync timeout', async (cp) => throws(() => cp.execSync('sleep 10', { timeout: 200, stdio: 'pipe' }))],
    ['execSync input', async (cp) => throws(() => cp.execSync('tr a-z A-Z', { input: 'shout', encoding: 'utf8' }))],
    ['execSync custom shell', async (cp) => throws(() => cp.execSync('echo $0', { shell: '/bin/bash', encoding: 'utf8' }))],
    ['execFileSync output', async (cp) => throws(() => cp.execFileSync('echo', ['a', 'b'], { encoding: 'utf8' }))],
    ['execFileSync failure', async (cp) => throws(() => cp.execFileSync('sh', ['-c', 'exit 2'], { stdio: 'pipe' }))],
    ['execFileSync killed', async (cp) => throws(() => cp.execFileSync('sh', ['-c', 'kill -KILL $$'], { stdio: 'pipe' }))],
    ['execFileSync not found', async (cp) => throws(() => cp.execFileSync('codex-sandbox-no-such-command', ['x'], { env: { PATH: '/usr/bin:/bin' } }))],
    ['execFileSync maxBuffer', async (cp) => {
      const result = throws(() => cp.execFileSync('sh', ['-c', 'head -c 5000 /dev/zero; sleep 10'], { maxBuffer: 100, stdio: 'pipe' }));
      if (result.threw) result.threw.stdout = result.threw.stdout.length > 100;
      return result;
    }],
  ]);
});
