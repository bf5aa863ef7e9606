import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/ports.ts';
import { WaitAborted, waitFor } from '../../test/support/wait.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The operator as a real process (`node src/main.ts` with flags, as a Deployment runs it),
 * for the sandbox and the benchmark: its JSON log lines go to `logPath` (and to `onLine`),
 * `/metrics` and `/readyz` listen on free loopback ports, and it is killed if this process
 * exits without stopping it.
 */
export interface OperatorProcessOptions {
  zmsUrl: string;
  certFile: string;
  keyFile: string;
  caFile: string;
  kubeconfigPath: string;
  /** The operator's own namespace (Events go there). */
  namespace: string;
  logPath: string;
  /** More flags, e.g. `['--log-level', 'debug']`. */
  args?: string[];
  /** Node's arguments before the operator's flags (default: run src/main.ts from source). */
  entry?: string[];
  onLine?: (line: string) => void;
}

export interface OperatorProcess {
  readonly pid: number;
  readonly logPath: string;
  readonly metricsUrl: string;
  readonly healthUrl: string;
  /** The command line, for the guide. */
  readonly commandLine: string[];
  /** Resolves with the exit code (or signal name). */
  readonly exited: Promise<number | string>;
  /** Waits until `/readyz` answers 200 (caches synced and the first pass done). */
  waitReady(timeoutMs: number): Promise<void>;
  /** VmRSS and VmHWM in KiB, from /proc; undefined once the process is gone. */
  memory(): { rssKiB: number; hwmKiB: number } | undefined;
  logTail(lines?: number): string;
  /** SIGTERM (graceful shutdown), SIGKILL after `graceMs`. Idempotent. */
  stop(graceMs?: number): Promise<number | string>;
}

const live = new Set<ChildProcess>();
let hookInstalled = false;

export async function startOperatorProcess(options: OperatorProcessOptions): Promise<OperatorProcess> {
  if (!hookInstalled) {
    hookInstalled = true;
    process.on('exit', () => {
      for (const child of live) child.kill('SIGKILL');
    });
  }
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const commandLine = [
    process.execPath,
    ...(options.entry ?? ['--disable-warning=ExperimentalWarning', join(REPO_ROOT, 'src/main.ts')]),
    '--zms-url',
    options.zmsUrl,
    '--zms-cert',
    options.certFile,
    '--zms-key',
    options.keyFile,
    '--zms-ca',
    options.caFile,
    '--namespace',
    options.namespace,
    '--metrics-addr',
    `127.0.0.1:${metricsPort}`,
    '--health-addr',
    `127.0.0.1:${healthPort}`,
    '--shutdown-timeout',
    '5s',
    ...(options.args ?? []),
  ];
  const log = createWriteStream(options.logPath, { flags: 'w' });
  // Its own process group: a Ctrl-C in the terminal reaches the sandbox, which stops the
  // operator first and the servers after, instead of everything dying at once.
  const child = spawn(commandLine[0]!, commandLine.slice(1), {
    cwd: REPO_ROOT,
    env: { ...process.env, KUBECONFIG: options.kubeconfigPath },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  if (child.pid === undefined) throw new Error('could not start the operator');
  const pid = child.pid;
  live.add(child);
  const exited = new Promise<number | string>((resolveExit) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolveExit(code ?? signal ?? 'unknown');
    }),
  );
  const streamsClosed = Promise.all(
    [child.stdout, child.stderr].map(
      (stream) =>
        new Promise<void>((done) => {
          let partial = '';
          stream.on('data', (chunk: Buffer) => {
            log.write(chunk);
            if (!options.onLine) return;
            const lines = (partial + chunk.toString('utf8')).split('\n');
            partial = lines.pop() ?? '';
            for (const line of lines) if (line) options.onLine(line);
          });
          stream.on('close', () => done());
        }),
    ),
  ).then(() => new Promise<void>((done) => log.end(() => done())));

  const healthUrl = `http://127.0.0.1:${healthPort}`;
  const logTail = (lines = 20) => {
    try {
      return readFileSync(options.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  let exitCode: number | string | undefined;
  void exited.then((code) => {
    exitCode = code;
  });

  return {
    pid,
    logPath: options.logPath,
    metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
    healthUrl,
    commandLine,
    exited,
    logTail,
    async waitReady(timeoutMs) {
      try {
        await waitFor(
          'the operator to report ready (/readyz)',
          async () => {
            if (exitCode !== undefined) throw new WaitAborted(`the operator exited (${exitCode})`);
            return (await httpStatus(`${healthUrl}/readyz`)) === 200;
          },
          { timeoutMs, intervalMs: 100 },
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- operator log (${options.logPath}):\n${logTail()}`);
      }
    },
    memory() {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
        return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM') };
      } catch {
        return undefined;
      }
    },
    async stop(graceMs = 10_000) {
      if (live.has(child)) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      await streamsClosed;
      return exited;
    },
  };
}

/** The HTTP status of a GET, or 0 when nothing answers. */
export function httpStatus(url: string): Promise<number> {
  return new Promise((resolveStatus) => {
    const req = request(url, { timeout: 2_000 }, (res) => {
      res.resume();
      resolveStatus(res.statusCode ?? 0);
    });
    req.on('error', () => resolveStatus(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** The body of a GET (for /metrics). */
export function httpGet(url: string): Promise<string> {
  return new Promise((resolveBody, reject) => {
    const req = request(url, { timeout: 5_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveBody(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.end();
  });
}
