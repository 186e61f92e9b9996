'use strict';
// The npm packaging, the napi-rs way: every package packs (node/build.js --pack, what
// scripts/release.sh uses), the main package plus the host's platform package install offline
// from their tarballs into an empty project and work there through CommonJS and ESM, the
// loader names what it tried and how to fix it, and a git install builds the addon (or, without
// cargo, fails at install time with the build command).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');
const { tempDir } = require('./helpers.js');
const { detectLibc, elfInterpreter, platformName } = require('../lib/loader.js');

const root = path.join(__dirname, '..', '..');
const mainManifest = require('../../package.json');
const PLATFORMS = {
  'linux-x64-gnu': { cpu: 'x64', libc: 'glibc' },
  'linux-x64-musl': { cpu: 'x64', libc: 'musl' },
  'linux-arm64-gnu': { cpu: 'arm64', libc: 'glibc' },
  'linux-arm64-musl': { cpu: 'arm64', libc: 'musl' },
};
const host = platformName();
const env = { ...process.env };
delete env.CODEX_SANDBOX_NODE_ADDON;
// The addon under test: node/test.sh's build under target/, or a local release build.
const addon = process.env.CODEX_SANDBOX_NODE_ADDON
  ? path.resolve(process.env.CODEX_SANDBOX_NODE_ADDON)
  : path.join(root, `linux-sandbox.${host}.node`);

/** Skips with a printed reason, or fails when CODEX_SANDBOX_REQUIRE_ALL=1 (CI). */
function skip(t, reason) {
  if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(`CODEX_SANDBOX_REQUIRE_ALL=1: ${reason}`);
  t.skip(reason);
}

function npmInstall(cwd, tarballs) {
  fs.writeFileSync(path.join(cwd, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd, env, stdio: 'pipe' });
}

function node(cwd, args) {
  return spawnSync(process.execPath, args, { cwd, env, encoding: 'utf8', timeout: 30000 });
}

test('each platform package declares os, cpu and libc and is an optional dependency of the main one', () => {
  assert.deepEqual(
    Object.keys(mainManifest.optionalDependencies).sort(),
    Object.keys(PLATFORMS).map((p) => `@codex/linux-sandbox-${p}`).sort(),
  );
  assert.equal(mainManifest.cpu, undefined, 'the main package is pure JS: cpu belongs to the platform packages');
  const license = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
  assert.match(license, /Apache License\s+Version 2\.0/);
  for (const [platform, { cpu, libc }] of Object.entries(PLATFORMS)) {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'npm', platform, 'package.json'), 'utf8'));
    const name = `@codex/linux-sandbox-${platform}`;
    assert.equal(manifest.name, name);
    assert.equal(manifest.version, mainManifest.version, `${name} has the main package's version`);
    assert.equal(mainManifest.optionalDependencies[name], mainManifest.version);
    assert.deepEqual([manifest.os, manifest.cpu, manifest.libc], [['linux'], [cpu], [libc]], name);
    assert.equal(manifest.main, `linux-sandbox.${platform}.node`);
    assert.deepEqual(manifest.files, [manifest.main]);
    assert.equal(manifest.license, 'Apache-2.0');
    assert.equal(fs.readFileSync(path.join(root, 'npm', platform, 'LICENSE'), 'utf8'), license, `${name}/LICENSE`);
  }
});

let packed;
test('every npm package packs; the main one holds JS only and the host one its addon', () => {
  const out = tempDir('codex-sandbox-pack-');
  packed = JSON.parse(
    execFileSync(process.execPath, [path.join(root, 'node/build.js'), '--pack', out, '--addon', addon], {
      cwd: root,
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  const byName = Object.fromEntries(packed.map((p) => [p.name, p]));
  assert.equal(packed.length, 5);
  const main = byName['@codex/linux-sandbox'];
  assert.deepEqual(
    main.files,
    ['LICENSE', 'README.md', 'index.d.ts', 'index.js', 'index.mjs', ...fs.readdirSync(path.join(root, 'node/lib')).map((f) => `node/lib/${f}`), 'package.json'].sort(),
  );
  for (const platform of Object.keys(PLATFORMS)) {
    const { files, tarball } = byName[`@codex/linux-sandbox-${platform}`];
    const addonName = `linux-sandbox.${platform}.node`;
    const hasAddon = platform === host || fs.existsSync(path.join(root, 'npm', platform, addonName));
    assert.deepEqual(files, ['LICENSE', 'README.md', ...(hasAddon ? [addonName] : []), 'package.json'], platform);
    assert.ok(fs.statSync(tarball).size > 0);
  }
  // The published manifest has no prepare script: only a git checkout builds.
  const manifest = JSON.parse(execFileSync('tar', ['-xOzf', main.tarball, 'package/package.json'], { encoding: 'utf8' }));
  assert.equal(manifest.scripts.prepare, undefined);
  assert.deepEqual(manifest.exports, mainManifest.exports);
});

let scratch;
test('the main and the host platform tarball install offline and work through CommonJS', () => {
  assert.ok(packed, 'the pack step ran');
  scratch = tempDir('codex-sandbox-scratch-');
  const tarball = (name) => packed.find((p) => p.name === name).tarball;
  npmInstall(scratch, [tarball('@codex/linux-sandbox'), tarball(`@codex/linux-sandbox-${host}`)]);
  const script = `
    const sandbox = require('@codex/linux-sandbox');
    const loaded = Object.keys(require.cache).filter((f) => f.endsWith('.node'));
    sandbox.run('sh', ['-c', 'echo installed "$1"; echo no > /etc/codex-sandbox-nope', 'sh', sandbox.version], { policy: 'read-only' })
      .then((r) => console.log(JSON.stringify({ stdout: r.stdout, code: r.code, loaded })));
  `;
  const result = node(scratch, ['-e', script]);
  assert.equal(result.status, 0, result.stderr);
  const { stdout, code, loaded } = JSON.parse(result.stdout);
  assert.equal(stdout, `installed ${mainManifest.version}\n`);
  assert.notEqual(code, 0, 'the read-only sandbox refused the write to /etc');
  assert.ok(!fs.existsSync('/etc/codex-sandbox-nope'));
  assert.deepEqual(loaded, [path.join(fs.realpathSync(scratch), `node_modules/@codex/linux-sandbox-${host}/linux-sandbox.${host}.node`)]);

  // The installed copy serves an unprivileged user too (the scratch project is world-readable).
  if (process.getuid() === 0) {
    for (const entry of fs.readdirSync(scratch, { recursive: true })) {
      const file = path.join(scratch, entry);
      if (!fs.lstatSync(file).isSymbolicLink()) fs.chmodSync(file, fs.statSync(file).isDirectory() ? 0o755 : 0o644);
    }
    const nobody = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], {
      cwd: scratch,
      env: { ...env, HOME: '/tmp' },
      encoding: 'utf8',
      timeout: 30000,
    });
    assert.equal(nobody.status, 0, nobody.stderr);
    assert.equal(JSON.parse(nobody.stdout).stdout, `installed ${mainManifest.version}\n`);
  }
});

test('the installed package works through ESM: default import', () => {
  assert.ok(scratch, 'the install step ran');
  fs.writeFileSync(
    path.join(scratch, 'default.mjs'),
    `import sandbox from '@codex/linux-sandbox';
     const r = await sandbox.run('echo', ['esm', sandbox.version]);
     console.log(r.stdout.trim(), typeof sandbox.probe().auto_pipeline);`,
  );
  const result = node(scratch, ['default.mjs']);
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, `esm ${mainManifest.version} string\n`);
});

test(
  'the installed package works through ESM: named imports',
  () => {
    assert.ok(scratch, 'the install step ran');
    fs.writeFileSync(
      path.join(scratch, 'named.mjs'),
      `import { run, version } from '@codex/linux-sandbox';
       console.log((await run('echo', ['named', version])).stdout.trim());`,
    );
    const result = node(scratch, ['named.mjs']);
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, `named ${mainManifest.version}\n`);
  },
);

test('without its platform package the loader says what it tried and what to install', () => {
  assert.ok(packed, 'the pack step ran');
  const dir = tempDir('codex-sandbox-noaddon-');
  npmInstall(dir, [packed.find((p) => p.name === '@codex/linux-sandbox').tarball]);
  const result = node(dir, ['-e', "require('@codex/linux-sandbox')"]);
  assert.notEqual(result.status, 0);
  assert.match(result.stderr, /ERR_SANDBOX_ADDON_LOAD/);
  assert.match(result.stderr, new RegExp(`local build: .*node_modules/@codex/linux-sandbox/linux-sandbox\\.${host}\\.node: not found`));
  assert.match(result.stderr, new RegExp(`@codex/linux-sandbox-${host}: .*not found`));
  assert.match(result.stderr, new RegExp(`npm install @codex/linux-sandbox-${host}\\b`));
});

test('libc detection: the ELF interpreter of node, cross-checked with the process report', () => {
  const glibc = Boolean(process.report.getReport().header.glibcVersionRuntime);
  assert.equal(detectLibc(), glibc ? 'gnu' : 'musl');
  assert.match(path.basename(elfInterpreter(process.execPath)), glibc ? /^ld-linux-/ : /^ld-musl-/);
  // A minimal ELF64 whose PT_INTERP names musl's loader reads as musl.
  const interp = Buffer.from('/lib/ld-musl-x86_64.so.1\0');
  const elf = Buffer.alloc(64 + 56 + interp.length);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2;
  elf[5] = 1;
  elf.writeBigUInt64LE(64n, 32); // e_phoff
  elf.writeUInt16LE(56, 54); // e_phentsize
  elf.writeUInt16LE(1, 56); // e_phnum
  elf.writeUInt32LE(3, 64); // p_type = PT_INTERP
  elf.writeBigUInt64LE(120n, 64 + 8); // p_offset
  elf.writeBigUInt64LE(BigInt(interp.length), 64 + 32); // p_filesz
  interp.copy(elf, 120);
  const file = path.join(tempDir('codex-sandbox-elf-'), 'musl-node');
  fs.writeFileSync(file, elf);
  assert.equal(elfInterpreter(file), '/lib/ld-musl-x86_64.so.1');
  assert.equal(detectLibc(file), 'musl');
});

test('a git install without cargo fails at install time and names the build command', (t) => {
  const head = spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) {
    skip(t, `not a git checkout: ${head.stderr.trim()}`);
    return;
  }
  const dir = tempDir('codex-sandbox-gitinstall-');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  // PATH keeps node, npm and git but not cargo (rustup puts it in ~/.cargo/bin).
  const bin = tempDir('codex-sandbox-nocargo-');
  for (const tool of ['node', 'npm', 'git', 'sh']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) fs.symlinkSync(found, path.join(bin, tool));
  }
  if (/cargo/.test(spawnSync('sh', ['-c', 'command -v cargo'], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' }).stdout)) {
    skip(t, 'cargo is installed in /usr/bin: cannot hide it from the install');
    return;
  }
  const result = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', `git+file://${root}#${head.stdout.trim()}`], {
    cwd: dir,
    env: { ...env, PATH: `${bin}:/usr/bin:/bin`, CARGO: '', RUSTUP_HOME: '/nonexistent', CARGO_HOME: '/nonexistent' },
    encoding: 'utf8',
    timeout: 120000,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  assert.notEqual(result.status, 0, output);
  assert.match(output, /cannot build the native addon/);
  assert.match(output, /npm run build/);
  assert.ok(!fs.existsSync(path.join(dir, 'node_modules/@codex/linux-sandbox/index.js')), 'nothing half-installed');
});

test('a git install with cargo builds the addon at install time and works', (t) => {
  const head = spawnSync('git', ['-C', root, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  if (head.status !== 0) {
    skip(t, `not a git checkout: ${head.stderr.trim()}`);
    return;
  }
  const dir = tempDir('codex-sandbox-gitbuild-');
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true }));
  // The workspace's target dir: the clone's crates build anew (another path), its dependencies
  // are reused, so this costs one release build of core and the addon.
  const result = spawnSync('npm', ['install', '--offline', '--no-audit', '--no-fund', `git+file://${root}#${head.stdout.trim()}`], {
    cwd: dir,
    env: { ...env, CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR || path.join(root, 'target') },
    encoding: 'utf8',
    timeout: 600000,
  });
  assert.equal(result.status, 0, `${result.stdout}\n${result.stderr}`);
  const installed = path.join(dir, 'node_modules/@codex/linux-sandbox');
  assert.ok(fs.existsSync(path.join(installed, `linux-sandbox.${host}.node`)), 'the install built the local addon');
  const run = node(dir, ['-e', "require('@codex/linux-sandbox').run('echo', ['from', 'git']).then((r) => process.stdout.write(r.stdout))"]);
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, 'from git\n');
});
