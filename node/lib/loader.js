'use strict';
// Finds and loads the native addon, the napi-rs way: one npm package per platform
// (@codex/linux-sandbox-linux-<arch>-<libc>, an optional dependency of the main package that
// npm installs only where its os/cpu/libc fields match), after a local build at the package
// root. CODEX_SANDBOX_NODE_ADDON=/path/to/addon.node replaces both.
const fs = require('node:fs');
const path = require('node:path');

const packageRoot = path.join(__dirname, '..', '..');
const ARCHES = { x64: 'x64', arm64: 'arm64' };

/**
 * 'musl' or 'gnu', for the C library this Node runs on. The ELF interpreter of the running
 * executable names it (ld-musl-* or ld-linux-*) without starting a process; a statically
 * linked or unreadable executable falls back to the process report, which has a
 * glibcVersionRuntime only under glibc.
 */
function detectLibc(executable = process.execPath) {
  const interpreter = elfInterpreter(executable);
  if (interpreter) return /ld-musl-/.test(path.basename(interpreter)) ? 'musl' : 'gnu';
  const header = process.report && process.report.getReport().header;
  return header && header.glibcVersionRuntime ? 'gnu' : 'musl';
}

/** The PT_INTERP path of a 64-bit little-endian ELF file, or null. */
function elfInterpreter(file) {
  let fd;
  try {
    fd = fs.openSync(file, 'r');
    const header = Buffer.alloc(64);
    if (fs.readSync(fd, header, 0, 64, 0) < 64) return null;
    // "\x7fELF", ELFCLASS64, ELFDATA2LSB: the only kind x64 and arm64 Linux run.
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return null;
    const phoff = Number(header.readBigUInt64LE(32));
    const phentsize = header.readUInt16LE(54);
    const phnum = header.readUInt16LE(56);
    const entry = Buffer.alloc(56);
    for (let i = 0; i < phnum && i < 256; i++) {
      if (fs.readSync(fd, entry, 0, 56, phoff + i * phentsize) < 56) return null;
      if (entry.readUInt32LE(0) !== 3 /* PT_INTERP */) continue;
      const offset = Number(entry.readBigUInt64LE(8));
      const size = Math.min(Number(entry.readBigUInt64LE(32)), 4096);
      const name = Buffer.alloc(size);
      fs.readSync(fd, name, 0, size, offset);
      return name.toString('latin1').replace(/\0.*$/s, '');
    }
    return null;
  } catch {
    return null;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** 'linux-x64-gnu', 'linux-arm64-musl', ...: the npm platform this process needs. */
function platformName(libc = detectLibc()) {
  return `linux-${ARCHES[process.arch]}-${libc}`;
}

function unsupported(message) {
  const error = new Error(`@codex/linux-sandbox: ${message}`);
  error.code = 'ERR_SANDBOX_UNSUPPORTED';
  return error;
}

/**
 * The addon's exports. Throws ERR_SANDBOX_UNSUPPORTED off Linux x64/arm64, and
 * ERR_SANDBOX_ADDON_LOAD naming every file it tried, why each failed, and the command that
 * builds (or installs) the missing addon.
 */
function loadAddon() {
  if (process.platform !== 'linux') throw unsupported(`supports Linux only; this is ${process.platform}`);
  if (!ARCHES[process.arch]) throw unsupported(`supports x64 and arm64 only; this is ${process.arch}`);
  const platform = platformName();
  const packageName = `@codex/linux-sandbox-${platform}`;
  const attempts = [];
  const override = process.env.CODEX_SANDBOX_NODE_ADDON;
  const candidates = override
    ? [[`CODEX_SANDBOX_NODE_ADDON`, () => path.resolve(override)]]
    : [
        ['local build', () => path.join(packageRoot, `linux-sandbox.${platform}.node`)],
        [packageName, () => require.resolve(packageName, { paths: [packageRoot] })],
      ];
  for (const [label, locate] of candidates) {
    let file = label;
    try {
      file = locate();
      return require(file);
    } catch (cause) {
      const missing = cause && (cause.code === 'MODULE_NOT_FOUND' || /cannot open shared object file: No such file/.test(cause.message));
      attempts.push({ label, file, reason: missing ? 'not found' : cause.message, cause });
    }
  }
  const checkout = fs.existsSync(path.join(packageRoot, 'Cargo.toml'));
  const remedy = override
    ? 'unset CODEX_SANDBOX_NODE_ADDON or point it at a built addon'
    : checkout
      ? `build it (needs Rust's cargo): cd ${JSON.stringify(packageRoot)} && npm run build`
      : `install the prebuilt addon: npm install ${packageName}`;
  const tried = attempts.map((a) => `  - ${a.label}: ${a.file}: ${a.reason}`).join('\n');
  const error = new Error(
    `@codex/linux-sandbox: cannot load the native addon for ${platform}. Tried:\n${tried}\nTo fix it, ${remedy}`,
    { cause: attempts.find((a) => a.reason !== 'not found')?.cause ?? attempts[attempts.length - 1].cause },
  );
  error.code = 'ERR_SANDBOX_ADDON_LOAD';
  error.attempts = attempts.map(({ label, file, reason }) => ({ label, file, reason }));
  throw error;
}

module.exports = { loadAddon, detectLibc, platformName, elfInterpreter };
