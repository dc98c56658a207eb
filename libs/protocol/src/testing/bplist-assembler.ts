/**
 * Assembles a bplist00 from hand-written object encodings (one-byte offsets and references), to
 * build inputs our encoder would never produce: cycles, shared references, 16-byte integers.
 */
export function assembleBplist(objects: readonly number[][], top = 0): Buffer {
  const body: number[] = [...Buffer.from('bplist00')];
  const offsets: number[] = [];

  for (const object of objects) {
    offsets.push(body.length);
    body.push(...object);
  }

  const tableOffset = body.length;

  if (tableOffset > 0xff) throw new Error('assembleBplist supports one-byte offsets only');
  body.push(...offsets);

  const trailer = Buffer.alloc(32);

  trailer[6] = 1;
  trailer[7] = 1;
  trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  trailer.writeBigUInt64BE(BigInt(top), 16);
  trailer.writeBigUInt64BE(BigInt(tableOffset), 24);

  return Buffer.concat([Buffer.from(body), trailer]);
}

/** An ASCII string object (under 15 characters). */
export function asciiObject(text: string): number[] {
  return [0x50 | text.length, ...Buffer.from(text, 'latin1')];
}
