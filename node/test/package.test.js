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
