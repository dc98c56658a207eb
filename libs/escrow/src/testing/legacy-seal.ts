import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/**
 * A bootstrap token sealed the way the single-key version of escrow did it, byte for byte: what
 * data directories of that version hold. Written out here so tests cannot follow the code's drift.
 */
export function legacySeal(key: Buffer, udid: string, version: number, token: Buffer) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(
    Buffer.from(JSON.stringify(['turnaround.escrow.bootstrap-token.v1', udid, version])),
  );
  const ciphertext = Buffer.concat([cipher.update(token), cipher.final()]);
  const info = 'turnaround.escrow.bootstrap-token.fingerprint.v1';
  const printKey = Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), info, 32));
  const name = Buffer.from(udid, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  const fingerprint = createHmac('sha256', printKey)
    .update(length)
    .update(name)
    .update(token)
    .digest();

  return {
    sealed: { scheme: 'legacy' as const, iv, ciphertext, authTag: cipher.getAuthTag() },
    fingerprint,
  };
}
