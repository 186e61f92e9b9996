'use strict';
// Protected names through Node: `protect` adds names, `unprotect` opts out of a default, and a
// protected name the command creates below the top of a writable root is removed after the run,
// failing it with ERR_SANDBOX_PROTECTED_NAME_CREATED (status 123). Evidence from the host.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');
const { tempDir, once, NODE } = require('./helpers.js');

const PIPELINES = sandbox.probe().namespaces.available ? ['bwrap', 'landlock'] : [];
const WORKSPACE = { type: 'workspace-write', exclude_slash_tmp: true, exclude_tmpdir_env_var: true };

const attempts = (ops) =>
  `const fs = require('fs'); for (const [op, file] of ${JSON.stringify(ops)}) {` +
  ` try { op === 'write' ? fs.writeFileSync(file, 'pwned') : fs.mkdirSync(file); console.log('OK') }` +
  ` catch (e) { console.log(e.code) } }`;

test('protected names need user namespaces here', { skip: PIPELINES.length === 0 && 'no user namespaces on this host' }, () => {});

for (const pipeline of PIPELINES) {
  test(`${pipeline}: an added name is read-only where present and cannot be created where missing`, async () => {
    const w = fs.realpathSync(tempDir('names-added-'));
    fs.writeFileSync(path.join(w, '.envrc'), 'export ORIGINAL=1\n');
    const result = await sandbox.run(NODE, ['-e', attempts([['write', path.join(w, '.envrc')], ['write', path.join(w, '.vscode')], ['mkdir', path.join(w, '.vscode/x')]])], {
      policy: WORKSPACE, policyCwd: w, cwd: w, pipeline, protect: ['.envrc', '.vscode'],
    });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split('\n'), ['EROFS', 'EISDIR', 'EROFS']);
    assert.equal(fs.readFileSync(path.join(w, '.envrc'), 'utf8'), 'export ORIGINAL=1\n');
    assert.equal(fs.existsSync(path.join(w, '.vscode')), false, 'the placeholder is gone after the run');
  });

  test(`${pipeline}: unprotect .git lets the command create it`, async () => {
    const w = fs.realpathSync(tempDir('names-unprotect-'));
    const script = attempts([['mkdir', path.join(w, '.git')], ['mkdir', path.join(w, '.git/hooks')]]);
    const kept = await sandbox.run(NODE, ['-e', script], { policy: WORKSPACE, policyCwd: w, cwd: w, pipeline });
    assert.deepEqual(kept.stdout.trim().split('\n'), ['EEXIST', 'EROFS']);
    const opened = await sandbox.run(NODE, ['-e', script], { policy: WORKSPACE, policyCwd: w, cwd: w, pipeline, unprotect: ['.git'] });
    assert.deepEqual(opened.stdout.trim().split('\n'), ['OK', 'OK']);
    assert.ok(fs.statSync(path.join(w, '.git/hooks')).isDirectory());
  });

  test(`${pipeline}: a .git created in a subdirectory is removed and fails the run`, async () => {
    const w = fs.realpathSync(tempDir('names-created-'));
    fs.mkdirSync(path.join(w, 'sub'));
    const script = attempts([['mkdir', path.join(w, 'sub/.git')], ['mkdir', path.join(w, 'sub/.git/hooks')], ['write', path.join(w, 'sub/.git/hooks/pre-commit')]]) + '; process.exit(3)';
    const options = { policy: WORKSPACE, policyCwd: w, cwd: w, pipeline, stdio: 'ignore' };

    const child = sandbox.spawn(NODE, ['-e', script], options);
    // 'error' comes first, then 'exit' in the same tick: listen for both before waiting.
    const exit = new Promise((resolve) => child.once('exit', resolve));
    const [error] = await once(child, 'error');
    assert.equal(error.code, 'ERR_SANDBOX_PROTECTED_NAME_CREATED');
    assert.ok(error.message.includes(`\`${path.join(w, 'sub/.git')}\``), error.message);
    assert.equal(error.commandExitCode, 3);
    assert.equal(await exit, 123);
    assert.equal(fs.existsSync(path.join(w, 'sub/.git')), false);

    await assert.rejects(sandbox.run(NODE, ['-e', script], options), { code: 'ERR_SANDBOX_PROTECTED_NAME_CREATED' });
    assert.equal(fs.existsSync(path.join(w, 'sub/.git')), false);

    const sync = sandbox.spawnSync(NODE, ['-e', script], options);
    assert.equal(sync.status, 123);
    assert.equal(sync.error?.code, 'ERR_SANDBOX_PROTECTED_NAME_CREATED');
    assert.equal(fs.existsSync(path.join(w, 'sub/.git')), false);
  });
}

test('a protected name must be a plain file name, and an option of strings', () => {
  const w = fs.realpathSync(tempDir('names-bad-'));
  const options = (extra) => ({ policy: WORKSPACE, policyCwd: w, cwd: w, ...extra });
  assert.throws(() => sandbox.spawnSync('/bin/true', [], options({ protect: ['ok', 'a/b'] })), (error) => {
    assert.equal(error.code, 'ERR_SANDBOX_INVALID_ARGUMENT');
    assert.match(error.message, /`protect\[1\]`: `a\/b` contains `\/`/);
    return true;
  });
  assert.throws(() => sandbox.spawnSync('/bin/true', [], options({ unprotect: ['.envrc'] })), /`unprotect\[0\]`: `\.envrc` is not a default protected name/);
  assert.throws(() => sandbox.spawnSync('/bin/true', [], options({ protect: '.envrc' })), /protect must be an array of file names/);
});
