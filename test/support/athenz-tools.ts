import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The official Athenz clients of the pinned version, `zms-cli` and `zms-go-client` (our
 * program on the official Go client), built by hack/athenz-tools.sh into the cache outside the
 * repository. Used by the conformance suite and the sandbox's guide.
 */

const REPO = resolve(import.meta.dirname, '../..');
const TOOLS = ['zms-cli', 'zms-go-client'];

/**
 * The folder holding both binaries: $ATHENZ_TOOLS when it has them (`make test` sets it),
 * else whatever hack/athenz-tools.sh builds or finds in the cache. Never skips: no tools, no
 * pass.
 */
export async function locateAthenzTools(): Promise<string> {
  const given = process.env.ATHENZ_TOOLS;
  if (given && TOOLS.every((tool) => existsSync(join(given, tool)))) return given;
  const folder = await new Promise<string>((done, failed) => {
    // The script prints its progress on stderr: let it through, a cold build takes minutes.
    const child = spawn('bash', [join(REPO, 'hack/athenz-tools.sh')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ATHENZ_TOOLS: '' },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    child.on('error', failed);
    child.on('exit', (code) =>
      code === 0 ? done(out.trim()) : failed(new Error(`hack/athenz-tools.sh exited with ${code}`)),
    );
  });
  for (const tool of TOOLS) {
    if (!existsSync(join(folder, tool))) throw new Error(`hack/athenz-tools.sh: no ${tool} in ${folder}`);
  }
  return folder;
}
