import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Temporary folders for tests, the sandbox and the benchmark, made so that none outlives its
 * run: each is removed by `removeWorkdir` or at process exit; if the process was SIGKILLed
 * (a timed-out jest worker), the next `makeWorkdir` in any process reaps it, killing the child
 * processes recorded in its `children.pids` first. A folder's name carries its owner's pid.
 */
const WORKDIR_PREFIX = 'athenz-rbac-test-';
export const CHILD_PIDS_FILE = 'children.pids';
const liveDirs = new Set<string>();
const exitHooks: Array<() => void> = [];
let exitHookInstalled = false;

/** Runs `hook` synchronously when the process exits, before the folders are removed. */
export function onExit(hook: () => void): void {
  exitHooks.push(hook);
  installExitHook();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const hook of exitHooks) hook();
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** Under jest, the folders of the current test file, which test/support/jest-environment.js
 * removes when the file is done (jest ends its workers without running exit hooks). */
function testFileWorkdirs(): Set<string> | undefined {
  if (!process.env.JEST_WORKER_ID) return undefined;
  const scope = globalThis as { __testWorkdirs?: Set<string> };
  scope.__testWorkdirs ??= new Set();
  return scope.__testWorkdirs;
}

/** Kills the leftovers of owners that died without cleaning up, then removes their folders. */
export function reapStaleWorkdirs(root = tmpdir()): number {
  let reaped = 0;
  for (const name of readdirSync(root)) {
    const match = new RegExp(`^${WORKDIR_PREFIX}(\\d+)-`).exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    const dir = join(root, name);
    const pidFile = join(dir, CHILD_PIDS_FILE);
    if (existsSync(pidFile)) {
      for (const line of readFileSync(pidFile, 'utf8').split('\n')) {
        const pid = Number(line);
        // Only kill a pid whose command line still names this folder: pids are recycled.
        if (pid > 0 && isAlive(pid) && readCmdline(pid).includes(dir)) process.kill(pid, 'SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
    reaped++;
  }
  return reaped;
}

/** A fresh temp folder owned by this process, removed by `removeWorkdir` or at exit. */
export function makeWorkdir(kind: string): string {
  installExitHook();
  reapStaleWorkdirs();
  const dir = mkdtempSync(join(tmpdir(), `${WORKDIR_PREFIX}${process.pid}-${kind}-`));
  liveDirs.add(dir);
  testFileWorkdirs()?.add(dir);
  return dir;
}

export function removeWorkdir(dir: string): void {
  liveDirs.delete(dir);
  testFileWorkdirs()?.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}
