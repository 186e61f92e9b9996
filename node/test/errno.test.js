'use strict';
// A failure inside the sandbox's setup reaches JS with its errno and the path it concerns: the
// command's directory does not exist in a restricted-read view (namespace pipeline).
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const sandbox = require('@codex/linux-sandbox');
const { tempDir } = require('./helpers.js');

test('a child-side setup failure keeps its errno and names its subject', async (t) => {
  if (!sandbox.probe().namespaces.available) {
    if (process.env.CODEX_SANDBOX_REQUIRE_ALL === '1') assert.fail('the bwrap pipeline is unavailable here');
    return t.skip('no user namespaces');
  }
  const scratch = tempDir('errno');
  const work = path.join(scratch, 'work');
  const other = path.join(scratch, 'other');
  fs.mkdirSync(work);
  fs.mkdirSync(other);
  const policy = { type: 'read-only', access: { type: 'restricted', include_platform_defaults: true, readable_roots: [] } };
  const child = sandbox.spawn('true', [], { pipeline: 'bwrap', policy, policyCwd: work, cwd: other, stdio: 'ignore' });
  const [error] = await new Promise((resolve) => child.on('error', (...args) => resolve(args)));
  assert.equal(error.code, 'ERR_SANDBOX_SPAWN_FAILED', error.message);
  assert.equal(Math.abs(error.errno), os.constants.errno.ENOENT, error.message);
  assert.ok(error.message.includes(`${other}: No such file or directory`), error.message);
});
