'use strict';
// The caller's controlling terminal, under a pty (script(1)): child_process's command shares
// its session and terminal; the sandbox's gets a session of its own without one by default
// (TIOCSTI defence), and with `controllingTerminal: true` stays in the caller's session and
// process group, where it can open /dev/tty but TIOCSTI is refused by seccomp (EPERM).
// child_process's command can type into the terminal wherever the kernel allows TIOCSTI.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const sandbox = require('@codex/linux-sandbox');
const { tempDir } = require('./helpers.js');

const root = path.join(__dirname, '..', '..');
const dir = tempDir('codex-sandbox-terminal-');
// What the command reports: whether it has a controlling terminal (open /dev/tty) and what
// TIOCSTI (0x5412) does on its stdin. (Process groups are not compared: in the sandbox's PID
// namespace the caller's group has no number.)
const PROBE = [
  'if (exec 3</dev/tty) 2>/dev/null; then echo tty=yes; else echo tty=no; fi',
  "perl -e 'my $c = \"x\"; if (ioctl(STDIN, 0x5412, $c)) { print \"tiocsti=typed\\n\" } else { print \"tiocsti=$!\\n\" }'",
].join('; ');

function skipReason() {
  if (!fs.existsSync('/usr/bin/script')) return 'script(1) is not installed (util-linux)';
  if (spawnSync('perl', ['-e', '1']).status !== 0) return 'perl is not installed';
  return null;
}

/** Runs the probe through `module` in a Node process whose terminal is a fresh pty. */
function underPty(module, options) {
  const file = path.join(dir, `pty-${Math.random().toString(36).slice(2)}.js`);
  fs.writeFileSync(
    file,
    `const cp = require(${JSON.stringify(module)});
     const child = cp.spawn('/bin/sh', ['-c', ${JSON.stringify(PROBE)}], { ...${JSON.stringify(options)}, stdio: 'inherit' });
     child.on('error', (error) => console.log('error=' + error.code));`,
  );
  const result = spawnSync('/usr/bin/script', ['-qec', `${process.execPath} ${file}`, '/dev/null'], { encoding: 'utf8', timeout: 60000 });
  return result.stdout.replace(/\r/g, '').trim().split('\n').filter((line) => /(tty|tiocsti|error)=/.test(line));
}

test('controlling terminal: child_process, the default, and controllingTerminal', (t) => {
  const reason = skipReason();
  if (reason) {
    if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail(`CODEX_SANDBOX_REQUIRE_ALL=1 but: ${reason}`);
    t.skip(reason);
    return;
  }
  const plain = underPty('node:child_process', {});
  t.diagnostic(`child_process: ${plain.join(' ')}`);
  assert.equal(plain[0], 'tty=yes');

  const host = sandbox.probe();
  const pipelines = [['landlock', host.landlock.available], ['bwrap', host.namespaces.available]];
  for (const [pipeline, available] of pipelines) {
    if (!available) {
      t.diagnostic(`${pipeline}: not available on this host`);
      continue;
    }
    const isolated = underPty(root, { pipeline });
    t.diagnostic(`${pipeline}, default: ${isolated.join(' ')}`);
    assert.deepEqual(isolated, ['tty=no', 'tiocsti=Operation not permitted']);
    const kept = underPty(root, { pipeline, controllingTerminal: true });
    t.diagnostic(`${pipeline}, controllingTerminal: ${kept.join(' ')}`);
    assert.deepEqual(kept, ['tty=yes', 'tiocsti=Operation not permitted']);
  }
});

test('controllingTerminal is refused where nothing refuses TIOCSTI, and with detached', () => {
  assert.throws(() => sandbox.spawn('true', [], { policy: 'danger-full-access', controllingTerminal: true }), (error) => {
    assert.equal(error.code, 'ERR_SANDBOX_INVALID_ARGUMENT');
    assert.match(error.message, /keep-session/);
    return true;
  });
  assert.throws(() => sandbox.spawn('true', [], { detached: true, controllingTerminal: true }), { code: 'ERR_SANDBOX_INVALID_ARGUMENT' });
  assert.throws(() => sandbox.spawn('true', [], { controllingTerminal: 'yes' }), { code: 'ERR_SANDBOX_INVALID_ARGUMENT' });
});
