'use strict';
// child_process vs sandbox: events and their order, exit codes and signals, kill(), the
// ChildProcess object itself, AbortSignal before and after spawn, timeout, ref/unref.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const { compare, events, nodeScript } = require('./compat.js');

const root = path.join(__dirname, '..', '..');
const tick = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('events, exit codes and signals', async (t) => {
  await compare(t, [
    ['echo: spawn, exit, close', async (cp) => events(cp.spawn('echo', ['hi']), { data: true })],
    ['exit 7', async (cp) => events(cp.spawn('sh', ['-c', 'exit 7']))],
    ['killed by its own SIGUSR1', async (cp) => events(cp.spawn('sh', ['-c', 'kill -USR1 $$; sleep 5']))],
    ['stderr and stdout', async (cp) => events(cp.spawn('sh', ['-c', 'echo out; echo err >&2']), { data: true })],
    ['output nobody reads still closes', async (cp) => {
      const child = cp.spawn('sh', ['-c', 'head -c 20000 /dev/zero']);
      return new Promise((resolve) => child.on('close', (code) => resolve(code)));
    }],
    ['fields after close', async (cp) => {
      const child = cp.spawn('sh', ['-c', 'exit 3'], { stdio: 'ignore' });
      await events(child);
      return {
        exitCode: child.exitCode,
        signalCode: child.signalCode,
        killed: child.killed,
        connected: child.connected,
        spawnfile: child.spawnfile,
        spawnargs: child.spawnargs,
        stdio: child.stdio,
        pid: typeof child.pid,
        instanceOf: child instanceof require('node:child_process').ChildProcess,
        send: typeof child.send,
      };
    }],
  ]);
});

test('kill(): names in any case, numbers, 0, unknown signals, after exit', async (t) => {
  await compare(t, [
    ['kill() then events', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore' });
      const result = child.kill();
      return [result, child.killed, ...(await events(child))];
    }],
    ['kill("sigint") lower case', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore' });
      return [child.kill('sigint'), ...(await events(child))];
    }],
    ['kill(9)', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore' });
      return [child.kill(9), ...(await events(child))];
    }],
    ['kill(0) probes', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore' });
      const probe = child.kill(0);
      child.kill('SIGKILL');
      return [probe, ...(await events(child))];
    }],
    ['kill(40) throws', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore' });
      let error;
      try {
        child.kill(40);
      } catch (e) {
        error = { name: e.name, code: e.code, message: e.message };
      }
      child.kill('SIGKILL');
      await events(child);
      return error;
    }],
    ['kill("SIGNOPE") throws', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore' });
      let error;
      try {
        child.kill('SIGNOPE');
      } catch (e) {
        error = { name: e.name, code: e.code, message: e.message };
      }
      child.kill('SIGKILL');
      await events(child);
      return error;
    }],
    ['kill() after exit', async (cp) => {
      const child = cp.spawn('true', { stdio: 'ignore' });
      await events(child);
      return [child.kill(), child.killed];
    }],
    ['SIGSTOP stops the command, SIGCONT resumes it', async (cp) => {
      const child = cp.spawn('sh', ['-c', 'i=0; while [ $i -lt 30 ]; do i=$((i+1)); echo $i; sleep 0.02; done']);
      const seen = events(child, { data: true });
      let lines = 0;
      child.stdout.on('data', (chunk) => {
        lines += String(chunk).split('\n').length - 1;
      });
      await tick(100);
      child.kill('SIGSTOP');
      await tick(100);
      const before = lines;
      await tick(400);
      const progressWhileStopped = lines - before;
      child.kill('SIGCONT');
      const { events: list } = await seen;
      return { stopped: progressWhileStopped === 0, events: list };
    }],
    ['signals sent to child.pid from outside: SIGSTOP, SIGCONT, SIGTERM', async (cp) => {
      const child = cp.spawn('sh', ['-c', 'i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo $i; sleep 0.02; done']);
      const seen = events(child, { data: true });
      let lines = 0;
      child.stdout.on('data', (chunk) => {
        lines += String(chunk).split('\n').length - 1;
      });
      await once(child, 'spawn');
      const state = () => fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1][0];
      const command = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0')[0];
      await tick(100);
      process.kill(child.pid, 'SIGSTOP');
      await tick(100);
      const stoppedState = state();
      const before = lines;
      await tick(400);
      const progressWhileStopped = lines - before;
      process.kill(child.pid, 'SIGCONT');
      await tick(100);
      const resumed = lines > before;
      process.kill(child.pid, 'SIGTERM');
      const { events: list } = await seen;
      return { command, stoppedState, stopped: progressWhileStopped === 0, resumed, events: list };
    }],
    ['process.kill(-pid) ends a detached child and its descendants', async (cp) => {
      const child = cp.spawn('sh', ['-c', 'sleep 30 & sleep 30 & wait'], { detached: true, stdio: 'ignore' });
      await once(child, 'spawn');
      await tick(100);
      process.kill(-child.pid, 'SIGTERM');
      const list = await events(child);
      let groupGone = false;
      for (let i = 0; i < 100 && !groupGone; i++) {
        try {
          process.kill(-child.pid, 0);
          await tick(20);
        } catch (error) {
          groupGone = error.code === 'ESRCH';
        }
      }
      return { events: list, groupGone };
    }],
    ['Symbol.dispose kills', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore' });
      child[Symbol.dispose]();
      return events(child);
    }],
  ]);
});

test('AbortSignal and timeout', async (t) => {
  await compare(t, [
    ['already aborted: spawned, then killed', async (cp) => {
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore', signal: AbortSignal.abort() });
      return [typeof child.pid, ...(await events(child))];
    }],
    ['aborted after spawn', async (cp) => {
      const controller = new AbortController();
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore', signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      return events(child);
    }],
    ['aborted with killSignal SIGKILL', async (cp) => {
      const controller = new AbortController();
      const child = cp.spawn('sleep', ['10'], { stdio: 'ignore', signal: controller.signal, killSignal: 'SIGKILL' });
      setTimeout(() => controller.abort(), 50);
      return events(child);
    }],
    ['abort after exit does nothing', async (cp) => {
      const controller = new AbortController();
      const child = cp.spawn('true', { stdio: 'ignore', signal: controller.signal });
      const seen = await events(child);
      controller.abort();
      await tick(20);
      return seen;
    }],
    ['aborted signal, command not found', async (cp) => {
      const child = cp.spawn('codex-sandbox-no-such-command', { signal: AbortSignal.abort(), env: { PATH: '/usr/bin:/bin' } });
      return events(child);
    }],
    ['timeout with killSignal', async (cp) => events(cp.spawn('sleep', ['10'], { stdio: 'ignore', timeout: 100, killSignal: 'SIGINT' }))],
    ['timeout not reached', async (cp) => events(cp.spawn('true', { stdio: 'ignore', timeout: 5000 }))],
  ]);
});

test('ref/unref and the event loop', async (t) => {
  const script = (module, body) => `
    const cp = require(${JSON.stringify(module)});
    const started = Date.now();
    process.on('exit', () => console.log(Math.round((Date.now() - started) / 1000)));
    ${body}`;
  const run = (module, body) => {
    const result = nodeScript(script(module, body));
    return { status: result.status, seconds: Number(result.stdout.trim()) };
  };
  await compare(
    t,
    [
      ['ref()d child holds the loop', async (cp) => run(cp, "cp.spawn('sleep', ['1'], { stdio: 'ignore' });")],
      ['unref()d child does not', async (cp) => run(cp, "cp.spawn('sleep', ['3'], { stdio: 'ignore' }).unref();")],
      ['unref() then ref()', async (cp) => run(cp, "const c = cp.spawn('sleep', ['1'], { stdio: 'ignore' }); c.unref(); c.ref();")],
      ['unref()d child, its timeout still holds the loop', async (cp) => run(cp, "cp.spawn('sleep', ['5'], { stdio: 'ignore', timeout: 1000 }).unref();")],
      ['unref()d child with a pipe: the pipe holds the loop', async (cp) => run(cp, "cp.spawn('sleep', ['1']).unref();")],
    ].map(([name, fn]) => [name, (impl, implName) => fn(implName === 'child_process' ? 'node:child_process' : root)]),
    { plain: true },
  );
});

test('the child is a ChildProcess and an EventEmitter', () => {
  const { ChildProcess } = require('node:child_process');
  const sandbox = require('@codex/linux-sandbox');
  const child = sandbox.spawn('true', { stdio: 'ignore' });
  assert.ok(child instanceof ChildProcess);
  assert.ok(child instanceof sandbox.SandboxedChild);
  assert.equal(typeof child[Symbol.dispose], 'function');
  assert.equal(child.connected, false);
  return events(child);
});
