import { DictReader } from './plist-access.js';
import type { PlistDict, PlistValue } from './plist-types.js';
import { ProtocolError } from './protocol.errors.js';

// Key names and defaults: com.apple.security.scep.yaml of Apple's schema (PayloadContent).

export const SCEP_PAYLOAD_TYPE = 'com.apple.security.scep';

/**
 * An X.500 name as the payload's `Subject` writes it: relative distinguished names in order,
 * each a list of `[type, value]` pairs, e.g. `[[['O', 'Example']], [['CN', 'device']]]`.
 */
export type ScepSubject = readonly (readonly (readonly [string, string])[])[];

/** The SCEP settings a profile gives the device (the payload's PayloadContent). */
export interface ScepPayloadOptions {
  url: string;
  /** The pre-shared secret the device sends as its request's challengePassword. */
  challenge?: string;
  /** Tells a CA with several CA certificates which one is meant. */
  name?: string;
  subject?: ScepSubject;
  /** Default 2048 (Apple's default, 1024, is too weak for a device identity). */
  keySize?: 1024 | 2048 | 4096;
  /** 1 signing, 4 encryption; default 5, both. */
  keyUsage?: number;
}

/** What {@link readScepPayload} returns, Apple's defaults filled in. */
export interface ScepPayloadSettings {
  url: string;
  challenge?: string;
  name?: string;
  /** Empty when the payload has no Subject. */
  subject: ScepSubject;
  keySize: number;
  keyType: 'RSA';
  keyUsage: number;
}

const KEY_SIZES = [1024, 2048, 4096];
const KEY_USAGES = [0, 1, 4, 5];
// The schema's defaults for keys a payload leaves out.
const DEFAULT_KEY_SIZE = 1024;
const DEFAULT_KEY_USAGE = 0;

function invalid(message: string): never {
  throw new ProtocolError('PROFILE.INVALID_ARGUMENT', message);
}

function malformed(message: string): never {
  throw new ProtocolError('PROFILE.MALFORMED', `SCEP payload: ${message}`);
}

/**
 * The PayloadContent of a `com.apple.security.scep` payload. Throws `PROFILE.INVALID_ARGUMENT`
 * for a URL that is not https (http with `allowInsecure`), a key size or usage the schema does
 * not list, or an empty Subject part.
 */
export function scepPayloadContent(options: ScepPayloadOptions, allowInsecure: boolean): PlistDict {
  const keySize = options.keySize ?? 2048;
  // The device decrypts the CA's reply with this key, so it must be allowed to encrypt too.
  const keyUsage = options.keyUsage ?? 5;
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    return invalid(`scep.url is not a URL: ${options.url}`);
  }
  if (!(allowInsecure ? ['https:', 'http:'] : ['https:']).includes(url.protocol)) {
    invalid(`scep.url must start with https:// (got ${options.url})`);
  }
  if (!KEY_SIZES.includes(keySize)) invalid(`scep.keySize must be one of ${KEY_SIZES.join(', ')}`);
  if (!KEY_USAGES.includes(keyUsage))
    invalid(`scep.keyUsage must be one of ${KEY_USAGES.join(', ')}`);
  for (const rdn of options.subject ?? []) {
    if (rdn.length === 0 || rdn.some(([type, value]) => !type || !value)) {
      invalid('scep.subject parts must be non-empty [type, value] pairs');
    }
  }

  const content: PlistDict = {
    URL: options.url,
    Keysize: keySize,
    'Key Type': 'RSA',
    'Key Usage': keyUsage,
  };
  if (options.challenge !== undefined) content['Challenge'] = options.challenge;
  if (options.name !== undefined) content['Name'] = options.name;
  if (options.subject !== undefined) {
    content['Subject'] = options.subject.map((rdn) => rdn.map(([type, value]) => [type, value]));
  }

  return content;
}

/** Reads a SCEP payload's PayloadContent. Throws `PROFILE.MALFORMED`. */
export function readScepPayload(payload: PlistDict): ScepPayloadSettings {
  const outer = new DictReader(payload, 'PROFILE.MALFORMED', 'SCEP payload');
  const r = new DictReader(
    outer.requiredDict('PayloadContent'),
    'PROFILE.MALFORMED',
    'SCEP payload',
  );
  const keyType = r.optionalString('Key Type') ?? 'RSA';
  const challenge = r.optionalString('Challenge');
  const name = r.optionalString('Name');
  if (keyType !== 'RSA') malformed(`Key Type is always RSA, got ${keyType}`);

  const settings: ScepPayloadSettings = {
    url: r.requiredString('URL'),
    subject: subjectOf(r.get('Subject')),
    keySize: integerOf(r.get('Keysize'), 'Keysize') ?? DEFAULT_KEY_SIZE,
    keyType,
    keyUsage: integerOf(r.get('Key Usage'), 'Key Usage') ?? DEFAULT_KEY_USAGE,
  };
  if (challenge !== undefined) settings.challenge = challenge;
  if (name !== undefined) settings.name = name;

  return settings;
}

function integerOf(value: PlistValue | undefined, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) malformed(`${key} must be an integer`);

  return value;
}

function subjectOf(value: PlistValue | undefined): ScepSubject {
  if (value === undefined) return [];
  if (!Array.isArray(value)) malformed('Subject must be an array');

  return value.map((rdn) => {
    if (!Array.isArray(rdn)) malformed('each Subject part must be an array of pairs');

    return rdn.map((pair) => {
      const [type, text] = Array.isArray(pair) && pair.length === 2 ? pair : [];
      if (typeof type !== 'string' || typeof text !== 'string') {
        malformed('each Subject pair must be two strings');
      }

      return [type, text] as const;
    });
  });
}
