import type { KeyObject } from 'node:crypto';

/** What the CA looks at in a certification request before it signs. */
export interface RequestedIdentity {
  /** DER of the requested subject Name. */
  subject: Buffer;
  commonName: string;
  publicKey: KeyObject;
}

// The subject's common name is stored with the identity binding (identities.subject).
const MAX_COMMON_NAME = 255;
// Profiles ask for a one- or two-part name; a kilobyte is far beyond any real request.
const MAX_SUBJECT_BYTES = 1024;
// The profile asks for RSA 2048; smaller keys are refused, and nothing issues for 1024.
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
const EC_CURVES: ReadonlySet<string> = new Set(['prime256v1', 'secp384r1']);

/** Why the CA will not certify this request, or undefined when it will. */
export function scepRequestProblem(request: RequestedIdentity): string | undefined {
  if (request.subject.length > MAX_SUBJECT_BYTES) {
    return `the requested subject is ${request.subject.length} bytes; at most ${MAX_SUBJECT_BYTES}`;
  }
  if (request.commonName.length > MAX_COMMON_NAME) {
    return `the requested common name is longer than ${MAX_COMMON_NAME} characters`;
  }

  const key = request.publicKey;
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa': {
      const bits = details?.modulusLength ?? 0;

      return bits >= MIN_RSA_BITS && bits <= MAX_RSA_BITS
        ? undefined
        : `an RSA key of ${bits} bits; this CA certifies ${MIN_RSA_BITS} to ${MAX_RSA_BITS}`;
    }
    case 'ec':
      return EC_CURVES.has(details?.namedCurve ?? '')
        ? undefined
        : `an EC key on ${details?.namedCurve ?? 'an unknown curve'}; this CA certifies P-256 and P-384`;
    default:
      return `a ${key.asymmetricKeyType ?? 'unknown'} key; this CA certifies RSA and EC keys`;
  }
}
