'use strict';
// Small helpers the node-suite cases share.
const assert = require('node:assert/strict');
const childProcess = require('node:child_process');
const { tempDir, NODE } = require('../helpers.js');

/** Resolves with the arguments of the first `event`; `'error'` rejects unless waited for. */
function once(emitter, event) {
  return new Promise((resolve, reject) => {
    const onError = (error) => reject(error);
    emitter.once(event, (...args) => {
      emitter.removeListener('error', onError);
      resolve(args);
    });
    if (event !== 'error') emitter.once('error', onError);
  });
}

/** Everything a readable stream yields, as one string. */
function collect(stream) {
  return new Promise((resolve, reject) => {
    let text = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      text += chunk;
    });
    stream.on('end', () => resolve(text));
    stream.on('error', reject);
  });
}

/** `{ code, signal, stdout, stderr }` once the child has closed. */
async function result(child) {
  const [stdout, stderr, [code, signal]] = await Promise.all([
    child.stdout ? collect(child.stdout) : '',
    child.stderr ? collect(child.stderr) : '',
    once(child, 'close'),
  ]);
  return { code, signal, stdout, stderr };
}

/** Asserts `fn` throws an error matching `expected` (class and fields). */
function throwsLike(fn, expected) {
  assert.throws(fn, (error) => {
    for (const [key, value] of Object.entries(expected)) {
      if (key === 'name') assert.equal(error.name, value, `${key} of ${error}`);
      else assert.deepEqual(error[key], value, `${key} of ${error}`);
    }
    return true;
  });
}

/** The error `fn` throws (the case fails if it throws none). */
function caught(fn) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  assert.fail('did not throw');
}

/**
 * Runs `source` (after `prelude`) in a fresh Node process; `shell` wraps it (`ulimit`), with
 * "$0" "$1" "$2" the node command line.
 */
function runScript(prelude, source, { shell, timeout = 60000 } = {}) {
  const args = ['-e', `${prelude}\n${source}`];
  const result = shell
    ? childProcess.spawnSync('/bin/sh', ['-c', shell, NODE, ...args], { encoding: 'utf8', timeout })
    : childProcess.spawnSync(NODE, args, { encoding: 'utf8', timeout });
  return result;
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

module.exports = { assert, once, collect, result, throwsLike, caught, runScript, delay, tempDir, NODE };
