'use strict';
// The typings compile when TypeScript is available (node/test.sh installs it only under CI).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { tempDir } = require('./helpers.js');

const root = path.join(__dirname, '..', '..');
// Packing and installing the tarballs: packaging.test.js.

test('ES modules import the package by name (named exports visible to Node)', () => {
  const script = `
    import { spawn, execFileSync, run, probe, version } from '@codex/linux-sandbox';
    import sandbox from '@codex/linux-sandbox';
    import { ChildProcess } from 'node:child_process';
    if (sandbox.spawn !== spawn) throw new Error('two instances');
    if (!(spawn('true') instanceof ChildProcess)) throw new Error('not a ChildProcess');
    process.stdout.write(execFileSync('echo', ['esm', version], { encoding: 'utf8' }) + typeof run + typeof probe().kernel);
  `;
  // From the package's own directory the name resolves through its exports map (self-reference).
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 20000 });
  assert.equal(out, `esm ${require('../../package.json').version}\nfunctionstring`);
});

test('CommonJS names are visible to the ES module loader from index.js itself', () => {
  const script = `import { spawn, exec, execFile, spawnSync, execSync, execFileSync, fork, run, explain, probe, seatbeltPolicy, proxyEndpoints, proxyEnv, SandboxedChild, ChildProcess, version } from ${JSON.stringify(path.join(root, 'index.js'))};
    process.stdout.write(String([spawn, exec, execFile, spawnSync, execSync, execFileSync, fork, run, explain, probe, seatbeltPolicy, proxyEndpoints, proxyEnv, SandboxedChild, ChildProcess, version].every(Boolean)));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(out, 'true');
});

/** Written for child_process; compiled unchanged against child_process and against ours. */
const DROP_IN = `
import { spawn, spawnSync, exec, execFile, execSync, execFileSync, fork, ChildProcess } from 'MODULE';
import { promisify } from 'node:util';
const child = spawn('ls', ['-l']);
child.stdout.on('data', (d: Buffer) => d.length);
child.stdin.end('x');
child.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'ENOENT') console.log(err.path); });
child.on('exit', (code: number | null, signal: NodeJS.Signals | null) => code ?? signal);
const some = spawn('ls', { stdio: ['ignore', 'pipe', 'inherit'] });
some.stdout.pipe(process.stdout);
const none: null = some.stdin;
const any: ChildProcess = spawn('ls', [], { stdio: 'inherit', shell: true, detached: false, timeout: 5, killSignal: 'SIGKILL' });
const asChild: ChildProcess = child;
const forked: ChildProcess = fork('worker.js', ['a'], { silent: true });
forked.on('message', (m: unknown) => forked.send({ got: m }));
const fd3 = spawn('sh', ['-c', 'echo >&3'], { stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
fd3.stdio[3]?.on('data', () => {});
const ok: boolean = child.kill('SIGTERM');
const r = spawnSync('ls', ['-a'], { encoding: 'utf8', input: 'x', maxBuffer: 10 });
const text: string = r.stdout;
const b: Buffer = spawnSync('ls').stdout;
const s1: string = execSync('ls', { encoding: 'utf8' });
const s2: Buffer = execFileSync('ls', ['-a']);
exec('ls', (error, stdout: string, stderr: string) => console.log(error?.code, error?.killed, stdout, stderr));
execFile('ls', ['-a'], { maxBuffer: 10, encoding: 'buffer' }, (error, stdout: Buffer) => console.log(error, stdout));
async function main(): Promise<void> {
  const { stdout } = await promisify(execFile)('ls', ['-a']);
  const t: string = stdout;
  const e = await promisify(exec)('ls');
  console.log(t, e.stdout, any, asChild, ok, text, b, s1, s2, none);
}
void main();
`;

/** Ours only: the sandbox's options and helpers. */
const SANDBOXED = `
import { spawn, run, explain, probe, seatbeltPolicy, proxyEnv, proxyEndpoints, version, SandboxedChild, RunResult, SandboxError } from '@codex/linux-sandbox';
import { ChildProcess } from 'node:child_process';
const child = spawn('echo', ['hi'], { policy: 'read-only', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1000, signal: AbortSignal.timeout(5000) });
child.stdout.on('data', (d: Buffer) => d.length);
const asNode: ChildProcess = child;
child.on('error', (err: SandboxError) => { if (err.code === 'ERR_SANDBOX_SPAWN_FAILED' || err.code === 'ENOENT') console.log(err.errno); });
async function main(): Promise<void> {
  const r: RunResult<string> = await run('ls', { policy: { type: 'workspace-write', writable_roots: ['/tmp'] }, network: 'restricted' });
  const b: RunResult<Buffer> = await run('ls', [], { encoding: 'buffer' });
  console.log(r.code, b.stdout.length, explain('ls').pipeline, probe().auto_pipeline, seatbeltPolicy('ls').program, version, asNode);
  console.log(proxyEnv(process.env, { http: '127.0.0.1:3128' }).HTTP_PROXY, proxyEndpoints().config_present);
  console.log(SandboxedChild.name);
}
void main();
// @ts-expect-error: pipeline names are checked
spawn('ls', [], { pipeline: 'chroot' });
spawn('ls', [], { unixSockets: 'none' });
spawn('ls', [], { unixSockets: ['/run/docker.sock'], network: 'full' });
run('ls', { unixSockets: 'all' });
const granted: 'none' | 'all' | 'paths' = explain('ls', { unixSockets: ['/run/docker.sock'] }).unix_sockets.granted;
console.log(granted, explain('ls').unix_sockets.not_granted?.length, explain('ls').unix_sockets.granted_paths?.[0]);
// @ts-expect-error: unix-socket modes are checked
spawn('ls', [], { unixSockets: 'some' });
const ipc = spawn('node', ['x.js'], { stdio: ['pipe', 'pipe', 'pipe', 'ipc'], policy: 'read-only' });
ipc.send({ hello: 1 });
`;

function typecheck(t, files) {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [path.join(__dirname, '..', '.cache')] });
  } catch {
    if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') throw new Error('TypeScript is not installed (node/test.sh installs it into node/.cache when CI is set)');
    t.skip('TypeScript is not installed (node/test.sh installs it into node/.cache when CI is set)');
    return;
  }
  const dir = tempDir('codex-sandbox-tsc-');
  fs.symlinkSync(path.join(__dirname, '..', '.cache', 'node_modules'), path.join(dir, 'node_modules'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  fs.writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'commonjs',
        target: 'es2022',
        types: ['node'],
        baseUrl: '.',
        paths: { '@codex/linux-sandbox': [path.join(root, 'index.d.ts')] },
      },
      files: Object.keys(files),
    }),
  );
  try {
    execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
  } catch (error) {
    throw new Error(`tsc reported:\n${error.stdout}${error.stderr}`);
  }
}

test('tsc --strict: a file written for child_process compiles unchanged against both', (t) => {
  typecheck(t, {
    'with-node.ts': DROP_IN.replace('MODULE', 'node:child_process'),
    'with-sandbox.ts': DROP_IN.replace('MODULE', '@codex/linux-sandbox'),
  });
});

test('tsc --strict: the sandbox options and helpers', (t) => {
  typecheck(t, { 'sandboxed.ts': SANDBOXED });
});
