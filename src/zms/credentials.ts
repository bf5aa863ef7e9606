import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { Agent } from 'undici';

/**
 * An undici Agent holding the operator's ZMS client certificate, rebuilt when the certificate,
 * key or CA files change on disk (cert-manager, SPIFFE or a Secret mount rotate them in place),
 * so rotation needs no restart. Files are checked at most once per `checkIntervalMs`, on use.
 * A half-written rotation (unreadable or mismatched files) keeps the previous Agent.
 * TLS verification of the server is always on: there is deliberately no option to disable it.
 */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface ReloadingAgentOptions {
  checkIntervalMs?: number;
  /** Keep-alive pool size per origin. */
  connections?: number;
  onReload?: () => void;
  onReloadError?: (err: unknown) => void;
}

export class ReloadingAgent {
  readonly #files: TlsFiles;
  readonly #options: ReloadingAgentOptions;
  #agent: Agent;
  #fingerprint: string;
  #checkedAt = 0;

  constructor(files: TlsFiles, options: ReloadingAgentOptions = {}) {
    this.#files = files;
    this.#options = options;
    this.#fingerprint = this.#readFingerprint();
    this.#agent = this.#build();
  }

  /** The Agent to send the next request with. */
  current(): Agent {
    const now = Date.now();
    if (now - this.#checkedAt >= (this.#options.checkIntervalMs ?? 1000)) {
      this.#checkedAt = now;
      this.#reloadIfChanged();
    }
    return this.#agent;
  }

  /** Closes the pool at shutdown; requests still in flight fail at once instead of holding it. */
  async close(): Promise<void> {
    await this.#agent.destroy();
  }

  #reloadIfChanged(): void {
    try {
      const fingerprint = this.#readFingerprint();
      if (fingerprint === this.#fingerprint) return;
      const next = this.#build();
      const previous = this.#agent;
      this.#agent = next;
      this.#fingerprint = fingerprint;
      // In-flight requests finish on the old pool; it closes once they are done.
      void previous.close().catch(() => undefined);
      this.#options.onReload?.();
    } catch (err) {
      this.#options.onReloadError?.(err);
    }
  }

  #readFingerprint(): string {
    return [this.#files.certFile, this.#files.keyFile, this.#files.caFile]
      .map((f) => {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      })
      .join('|');
  }

  #build(): Agent {
    const material = {
      cert: readFileSync(this.#files.certFile),
      key: readFileSync(this.#files.keyFile),
      ca: readFileSync(this.#files.caFile),
    };
    // Throws now, not at the next connect, when the key does not match the certificate.
    createSecureContext(material);
    return new Agent({
      connections: this.#options.connections ?? 16,
      keepAliveTimeout: 30_000,
      connect: { ...material, rejectUnauthorized: true },
    });
  }
}
