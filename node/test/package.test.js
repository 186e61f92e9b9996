'use strict';
// The packed tarball installs into an empty project (offline: no dependencies) and works there;
// the typings compile when TypeScript is available (node/test.sh installs it only under CI).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { tempDir } = require('./helpers.js');

const root = path.join(__dirname, '..', '..');
const env = { ...process.env };
delete env.CODEX_SANDBOX_NODE_ADDON;

let scratch;

test('npm pack contains the loader, the typings, the JS layer and the addon only', () => {
  const out = tempDir('codex-sandbox-pack-');
  const [info] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: root, env, encoding: 'utf8' }),
  );
  const files = info.files.map((f) => f.path).sort();
  assert.ok(files.includes('index.js') && files.includes('index.d.ts') && files.includes('package.json'));
  assert.ok(files.includes(`linux-sandbox.linux-${process.arch}-gnu.node`), files.join(', '));
  assert.ok(files.includes('node/lib/sandbox.js'));
  assert.deepEqual(files.filter((f) => /^node\/(src|test)\/|Cargo|\.rs$/.test(f)), []);

  scratch = tempDir('codex-sandbox-scratch-');
  fs.writeFileSync(path.join(scratch, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', path.join(out, info.filename)], {
    cwd: scratch,
    env,
    stdio: 'ignore',
  });
});

test('the installed package works in the scratch project', () => {
  assert.ok(scratch, 'the pack step ran');
  const script = `
    const sandbox = require('@codex/linux-sandbox');
    if (require.resolve('@codex/linux-sandbox') !== require('path').join(process.cwd(), 'node_modules/@codex/linux-sandbox/index.js')) throw new Error('wrong copy');
    sandbox.run('echo', ['installed', sandbox.version]).then((r) => process.stdout.write(r.stdout));
  `;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: scratch, env, encoding: 'utf8', timeout: 20000 });
  assert.equal(out, `installed ${require('../../package.json').version}\n`);
});

test('tsc --noEmit over a typed example', (t) => {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [path.join(__dirname, '..', '.cache')] });
  } catch {
    t.skip('TypeScript is not installed (node/test.sh installs it into node/.cache when CI is set)');
    return;
  }
  const dir = tempDir('codex-sandbox-tsc-');
  fs.symlinkSync(path.join(__dirname, '..', '.cache', 'node_modules'), path.join(dir, 'node_modules'));
  fs.writeFileSync(
    path.join(dir, 'example.ts'),
    `
    import { spawn, run, explain, probe, seatbeltPolicy, proxyEnv, proxyEndpoints, version, SandboxedChild, RunResult } from '@codex/linux-sandbox';
    const child: SandboxedChild = spawn('echo', ['hi'], { policy: 'read-only', stdio: ['ignore', 'pipe', 'inherit'], timeout: 1000, signal: AbortSignal.timeout(5000) });
    child.stdout?.on('data', (d: Buffer) => d.length);
    child.on('exit', (code: number | null, signal: NodeJS.Signals | null) => code ?? signal);
    const ok: boolean = child.kill('SIGTERM');
    async function main(): Promise<void> {
      const r: RunResult<string> = await run('ls', { policy: { type: 'workspace-write', writable_roots: ['/tmp'] }, network: 'restricted' });
      const b: RunResult<Buffer> = await run('ls', [], { encoding: 'buffer' });
      console.log(r.code, b.stdout.length, explain('ls').pipeline, probe().auto_pipeline, seatbeltPolicy('ls').program, version, ok);
      console.log(proxyEnv(process.env, { http: '127.0.0.1:3128' }).HTTP_PROXY, proxyEndpoints().config_present);
    }
    void main();
    // @ts-expect-error: pipeline names are checked
    spawn('ls', [], { pipeline: 'chroot' });
    `,
  );
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
      files: ['example.ts'],
    }),
  );
  execFileSync(process.execPath, [tsc, '-p', dir], { cwd: dir, encoding: 'utf8' });
});
