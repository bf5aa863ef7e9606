import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHILD_PIDS_FILE, onExit } from '../workdir.ts';

export { makeWorkdir, reapStaleWorkdirs, removeWorkdir } from '../workdir.ts';

/**
 * Child processes of the test infrastructure (etcd, kube-apiserver, the operator), managed so
 * that none outlives the test run: a normal stop sends SIGTERM, then SIGKILL after a deadline;
 * if the Node process exits without stopping them (a failed or timed-out test), an exit hook
 * kills them; if Node itself is SIGKILLed, their pids in the workdir let the next run reap them
 * (see ../workdir.ts).
 */
const live = new Set<ChildProcess>();
onExit(() => {
  for (const child of live) child.kill('SIGKILL');
});

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
  appendFileSync(join(workdir, CHILD_PIDS_FILE), `${pid}\n`);
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
