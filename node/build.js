#!/usr/bin/env node
'use strict';
// Builds the addon with plain cargo and copies it where the loader (node/lib/loader.js) or a
// platform package (npm/<platform>/) expects it.
//
//   node node/build.js [--release|--debug] [--target TRIPLE] [--out FILE] [--prepare]
//
//   --release        release profile (the default is debug)
//   --target TRIPLE  cross build: x86_64/aarch64-unknown-linux-gnu/musl. Musl gets
//                    `-C target-feature=-crt-static` (a cdylib cannot link musl statically);
//                    aarch64 links with aarch64-linux-gnu-gcc unless CARGO_TARGET_*_LINKER says
//                    otherwise.
//   --out FILE       where the .node goes. Default: a release build of the host's platform goes
//                    to ./linux-sandbox.linux-<arch>-<libc>.node (the "local build" the loader
//                    tries first); a release build with --target to
//                    npm/linux-<arch>-<libc>/linux-sandbox.linux-<arch>-<libc>.node; a debug
//                    build to <target dir>/[<triple>/]debug/linux-sandbox.<platform>.node, so a
//                    debug build never replaces a release artefact.
//   --prepare        npm's prepare hook (git installs): on failure, print the one command that
//                    builds the addon and exit non-zero, so the install fails instead of
//                    "succeeding" without an addon.
// Prints the absolute path of the .node on stdout; cargo's output goes to stderr.
//
//   node node/build.js --pack DIR [--addon FILE]
//
// Packs every npm package into DIR and prints their tarballs as JSON: the main package, staged
// without any .node file and without the prepare script (only a git checkout builds), and each
// npm/<platform> package with the addon it holds; --addon FILE stands in as the host
// platform's addon (the tests pack their debug build this way, leaving npm/ untouched).
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const PLATFORMS = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'x86_64-unknown-linux-musl': 'linux-x64-musl',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'aarch64-unknown-linux-musl': 'linux-arm64-musl',
};

function parseArgs(argv) {
  const options = { release: false, target: null, out: null, prepare: false, pack: null, addon: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--release') options.release = true;
    else if (arg === '--debug') options.release = false;
    else if (arg === '--prepare') options.prepare = true;
    else if (['--target', '--out', '--pack', '--addon'].includes(arg)) {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      options[arg.slice(2)] = argv[++i];
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}`);
  }
  if (options.target && !PLATFORMS[options.target]) {
    throw new Error(`--target ${options.target}: not one of ${Object.keys(PLATFORMS).join(', ')}`);
  }
  return options;
}

function hostTriple() {
  const info = execFileSync('rustc', ['-vV'], { encoding: 'utf8' });
  const host = /^host: (\S+)$/m.exec(info)[1];
  if (!PLATFORMS[host]) throw new Error(`the host ${host} is not a supported platform (${Object.keys(PLATFORMS).join(', ')})`);
  return host;
}

/** Environment for a cross or musl build; what the caller already set wins. */
function crossEnv(triple) {
  const env = { ...process.env };
  const key = triple.toUpperCase().replace(/-/g, '_');
  if (triple.endsWith('-musl') && env.RUSTFLAGS === undefined && env[`CARGO_TARGET_${key}_RUSTFLAGS`] === undefined) {
    env[`CARGO_TARGET_${key}_RUSTFLAGS`] = '-C target-feature=-crt-static';
  }
  if (triple.startsWith('aarch64-') && !process.arch.startsWith('arm64') && env[`CARGO_TARGET_${key}_LINKER`] === undefined) {
    env[`CARGO_TARGET_${key}_LINKER`] = 'aarch64-linux-gnu-gcc';
  }
  // The addon links musl's libc.so: musl-gcc (Debian's musl-tools) knows where it is.
  if (triple === 'x86_64-unknown-linux-musl' && env[`CARGO_TARGET_${key}_LINKER`] === undefined) {
    env[`CARGO_TARGET_${key}_LINKER`] = 'musl-gcc';
  }
  // Debian has no aarch64 musl libc.so to link against; scripts/release.sh supplies a stub
  // through the target's RUSTFLAGS. Without it the cross gcc would link glibc's libc.so.6.
  if (triple === 'aarch64-unknown-linux-musl' && process.arch !== 'arm64' && process.env[`CARGO_TARGET_${key}_RUSTFLAGS`] === undefined) {
    throw new Error(`${triple} needs a musl libc.so to link against: build it with scripts/release.sh --targets ${triple}`);
  }
  return env;
}

function build(options) {
  const triple = options.target || hostTriple();
  const platform = PLATFORMS[triple];
  const args = ['build', '--locked', '-p', 'codex-sandbox-node', '--message-format=json-render-diagnostics'];
  if (options.release) args.push('--release');
  if (options.target) args.push('--target', options.target);
  const output = execFileSync('cargo', args, {
    cwd: root,
    env: crossEnv(triple),
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 256 << 20,
  });
  let artifact;
  for (const line of output.toString().split('\n')) {
    if (!line.startsWith('{')) continue;
    const message = JSON.parse(line);
    if (message.reason === 'compiler-artifact' && message.target.name === 'codex_sandbox_node') {
      artifact = message.filenames.find((file) => file.endsWith('.so'));
    }
  }
  if (!artifact) throw new Error('cargo reported no libcodex_sandbox_node.so');

  const name = `linux-sandbox.${platform}.node`;
  let destination;
  if (options.out) destination = path.resolve(options.out);
  else if (!options.release) destination = path.join(path.dirname(artifact), name);
  else if (options.target) destination = path.join(root, 'npm', platform, name);
  else destination = path.join(root, name);
  fs.mkdirSync(path.dirname(destination), { recursive: true });
  // Copy to a temporary name and rename: a process that has the old addon loaded keeps it.
  fs.copyFileSync(artifact, `${destination}.tmp`);
  fs.renameSync(`${destination}.tmp`, destination);
  process.stderr.write(`node/build.js: ${path.relative(root, artifact)} -> ${path.relative(root, destination)}\n`);
  return destination;
}

/** The files of the main package, as `files` in package.json selects them, minus addons. */
const MAIN_FILES = ['package.json', 'index.js', 'index.mjs', 'index.d.ts', 'README.md', 'LICENSE', 'node/lib'];

function npmPack(dir, destination) {
  const [info] = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', destination], {
      cwd: dir,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  return { name: info.name, tarball: path.join(destination, info.filename), files: info.files.map((f) => f.path).sort() };
}

function pack(options) {
  const destination = path.resolve(options.pack);
  fs.mkdirSync(destination, { recursive: true });
  const staging = fs.mkdtempSync(path.join(destination, '.staging-'));
  try {
    const main = path.join(staging, 'main');
    for (const file of MAIN_FILES) {
      fs.cpSync(path.join(root, file), path.join(main, file), { recursive: true, filter: (f) => !f.endsWith('.node') });
    }
    const manifest = JSON.parse(fs.readFileSync(path.join(main, 'package.json'), 'utf8'));
    delete manifest.scripts.prepare;
    fs.writeFileSync(path.join(main, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const packed = [npmPack(main, destination)];
    const host = PLATFORMS[hostTriple()];
    for (const platform of Object.values(PLATFORMS)) {
      const dir = path.join(staging, platform);
      fs.cpSync(path.join(root, 'npm', platform), dir, { recursive: true });
      if (options.addon && platform === host) fs.copyFileSync(path.resolve(options.addon), path.join(dir, `linux-sandbox.${platform}.node`));
      packed.push(npmPack(dir, destination));
    }
    return packed;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`node/build.js: ${error.message}\n`);
    process.exit(2);
  }
  if (options.pack) {
    process.stdout.write(`${JSON.stringify(pack(options), null, 2)}\n`);
    return;
  }
  try {
    process.stdout.write(`${build(options)}\n`);
  } catch (error) {
    const reason = error.code === 'ENOENT' ? `${error.path} not found (install Rust: https://rustup.rs)` : error.message;
    process.stderr.write(`node/build.js: cannot build the native addon: ${reason}\n`);
    if (options.prepare) {
      process.stderr.write(
        '@codex/linux-sandbox: installing from a git checkout builds the addon from source, which needs\n' +
          `Rust's cargo on PATH. Install Rust, then build it in the package directory with:\n  npm run build\n` +
          'or install the published package instead: npm install @codex/linux-sandbox\n',
      );
    }
    process.exit(1);
  }
}

main();
