import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

/**
 * Signs domain data like ZMS does with its private key (key id "0"), using a P-256 key made
 * at start-up. The bytes signed are our JSON serialization, not Athenz's canonical form: the
 * signatures are real but only this server's public key verifies them.
 */
export class DomainSigner {
  readonly keyId = '0';
  readonly publicKeyPem: string;
  #privateKey: KeyObject;

  constructor() {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.#privateKey = privateKey;
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  /** ES256 signature (raw r||s) of `data`, base64url-encoded. */
  sign(data: string): string {
    return sign('sha256', Buffer.from(data), { key: this.#privateKey, dsaEncoding: 'ieee-p1363' }).toString(
      'base64url',
    );
  }

  /** A flattened JWS (`{payload, protected, header, signature}`) of `payload`. */
  jws(payload: unknown): { payload: string; protected: string; header: { kid: string }; signature: string } {
    const encodedPayload = Buffer.from(JSON.stringify(payload)).toString('base64url');
    const encodedHeader = Buffer.from(JSON.stringify({ kid: this.keyId, alg: 'ES256' })).toString(
      'base64url',
    );
    return {
      payload: encodedPayload,
      protected: encodedHeader,
      header: { kid: this.keyId },
      signature: this.sign(`${encodedHeader}.${encodedPayload}`),
    };
  }
}
