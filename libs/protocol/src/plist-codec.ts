import { PlistError } from './protocol.errors.js';
import { isBinaryPlist, readBinaryPlist } from './plist-binary-reader.js';
import { DEFAULT_PLIST_LIMITS, type PlistLimits, type PlistValue } from './plist-types.js';
import { writeBinaryPlist, writeXmlPlist } from './plist-writers.js';
import { readXmlPlist } from './plist-xml-reader.js';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function formatBytes(n: number): string {
  return n >= 1024 * 1024 ? `${(n / (1024 * 1024)).toFixed(1)} MiB` : `${n} bytes`;
}

/**
 * Decodes a property list from raw bytes: XML (UTF-8, with or without a BOM) or binary
 * `bplist00`, told apart by the magic bytes.
 *
 * Throws {@link PlistError}: `PLIST.TOO_LARGE` (body above `maxBytes`), `PLIST.TOO_DEEP`,
 * `PLIST.TOO_MANY_OBJECTS`, `PLIST.FORBIDDEN_DTD` (DOCTYPE internal subset / entity
 * declarations), `PLIST.FORBIDDEN_KEY` (`__proto__`), `PLIST.UNSUPPORTED_FORMAT` (UTF-16,
 * other encodings, other bplist versions) and `PLIST.MALFORMED` for everything else, with the line
 * and column of XML faults in the message.
 */
export function decodePlist(body: Uint8Array, limits?: Partial<PlistLimits>): PlistValue {
  const effective: PlistLimits = { ...DEFAULT_PLIST_LIMITS, ...limits };

  if (!(body instanceof Uint8Array)) {
    throw new PlistError('PLIST.MALFORMED', 'a plist body must be bytes (Uint8Array or Buffer)');
  }
  if (body.length > effective.maxBytes) {
    throw new PlistError(
      'PLIST.TOO_LARGE',
      `the body is ${formatBytes(body.length)}, ` +
        `above the limit of ${formatBytes(effective.maxBytes)}`,
    );
  }
  if (body.length === 0) throw new PlistError('PLIST.MALFORMED', 'the body is empty');
  if (isBinaryPlist(body)) return readBinaryPlist(body, effective);
  if ((body[0] === 0xfe && body[1] === 0xff) || (body[0] === 0xff && body[1] === 0xfe)) {
    throw new PlistError('PLIST.UNSUPPORTED_FORMAT', 'UTF-16 plists are not accepted; send UTF-8');
  }

  const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0;
  let text: string;

  try {
    text = utf8.decode(body.subarray(start));
  } catch (cause) {
    throw new PlistError('PLIST.MALFORMED', 'the body is neither a binary plist nor UTF-8 text', {
      cause,
    });
  }

  return readXmlPlist(text, effective);
}

/** Encodes a value as an Apple XML plist. Bytes (`Uint8Array`/`Buffer`) become `<data>`. */
export function encodePlistXml(value: PlistValue): Buffer {
  return writeXmlPlist(value);
}

/** Encodes a value as a binary `bplist00` plist. */
export function encodePlistBinary(value: PlistValue): Buffer {
  return writeBinaryPlist(value);
}
