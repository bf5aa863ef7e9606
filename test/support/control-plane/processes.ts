import { type ChildProcess, spawn } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Child processes of the test infrastructure (etcd, kube-apiserver, the operator) and the temp
 * folders they use, managed so that nothing outlives the test run:
 * - a normal stop sends SIGTERM, then SIGKILL after a deadline;
 * - if the Node process exits without stopping them (a failed or timed-out test), an `exit`
 *   hook kills them synchronously;
 * - if Node itself is SIGKILLed, each workdir records its owner's pid and its children's pids,
 *   and the next `makeWorkdir` reaps the workdirs of owners that are gone.
 */
const WORKDIR_PREFIX = 'athenz-rbac-test-';
const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
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

/** Kills the leftovers of owners that died without cleaning up, then removes their folders. */
export function reapStaleWorkdirs(root = tmpdir()): number {
  let reaped = 0;
  for (const name of readdirSync(root)) {
    const match = new RegExp(`^${WORKDIR_PREFIX}(\\d+)-`).exec(name);
    if (!match || isAlive(Number(match[1]))) continue;
    const dir = join(root, name);
    const pidFile = join(dir, 'children.pids');
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

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

/** A fresh temp folder owned by this process, removed by `removeWorkdir` or at exit. */
export function makeWorkdir(kind: string): string {
  installExitHook();
  reapStaleWorkdirs();
  const dir = mkdtempSync(join(tmpdir(), `${WORKDIR_PREFIX}${process.pid}-${kind}-`));
  liveDirs.add(dir);
  return dir;
}

export function removeWorkdir(dir: string): void {
  liveDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logPath: string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Last lines of the process's output, for error messages. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once, as a crash would. */
  kill(): Promise<void>;
}

/** Starts `command` with its output in `<workdir>/<name>.log`, recorded for cleanup. */
export function spawnManaged(
  name: string,
  command: string,
  args: string[],
  workdir: string,
  env: NodeJS.ProcessEnv = process.env,
): ManagedProcess {
  const logPath = join(workdir, `${name}.log`);
  const log = openSync(logPath, 'a');
  const child = spawn(command, args, { stdio: ['ignore', log, log], env, cwd: workdir });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
  const pid = child.pid;
  live.add(child);
  appendFileSync(join(workdir, 'children.pids'), `${pid}\n`);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const logTail = (lines = 20) => {
    try {
      return readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = async (graceMs = 10_000) => {
    if (!live.has(child)) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  };
  const kill = async () => {
    if (live.has(child)) child.kill('SIGKILL');
    await exited;
  };
  return { name, pid, logPath, exited, logTail, stop, kill };
}
