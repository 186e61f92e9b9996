// ES module entry: the CommonJS implementation, re-exported by name (one addon instance and
// one reaper whichever way the package is loaded).
import sandbox from './index.js';

export const {
  spawn,
  spawnSync,
  exec,
  execFile,
  execSync,
  execFileSync,
  fork,
  run,
  explain,
  probe,
  seatbeltPolicy,
  proxyEndpoints,
  proxyEnv,
  SandboxedChild,
  ChildProcess,
  version,
} = sandbox;
export default sandbox;
