import type { IncomingHttpHeaders } from 'node:http';

import { IdentityError } from './identity.errors.js';
import type { SignatureVerifier, VerifiedIdentity } from './signature-verifier.js';

/** What a device request carries to prove which device sent it. */
export interface DeviceProof {
  /** The `Mdm-Signature` header: a CMS signature over the body. */
  signature?: string;
  /** The client certificate a TLS-terminating proxy checked and passed on in a header. */
  forwardedCertificate?: string;
}

/**
 * The proof a request carries. `clientCertificateHeader` is read only when the operator named it:
 * a header anyone could set must never be believed unless a proxy in front sets (and overwrites)
 * it on every request.
 */
export function deviceProofOf(
  headers: IncomingHttpHeaders,
  clientCertificateHeader?: string,
): DeviceProof {
  const signature = single(headers['mdm-signature']);
  const forwarded = clientCertificateHeader ? single(headers[clientCertificateHeader]) : undefined;

  return {
    ...(signature !== undefined ? { signature } : {}),
    // nginx sends an empty value when the client offered no certificate.
    ...(forwarded !== undefined && forwarded.trim() !== '' ? { forwardedCertificate: forwarded } : {}),
  };
}

/**
 * Who sent the request. A forwarded certificate identifies the device (the proxy did the TLS
 * proof of possession); a signature sent along must then be by that same certificate, so the two
 * proofs can never name two devices. Without a forwarded certificate the signature alone decides.
 */
export function identifyDevice(
  verifier: SignatureVerifier,
  proof: DeviceProof,
  body: Uint8Array,
): VerifiedIdentity {
  if (proof.forwardedCertificate === undefined) {
    return verifier.verify(proof.signature, body);
  }
  const forwarded = verifier.identityFromProxyHeader(proof.forwardedCertificate);
  if (proof.signature !== undefined) {
    const signer = verifier.verify(proof.signature, body);
    if (signer.fingerprint !== forwarded.fingerprint) {
      throw new IdentityError(
        'IDENTITY.SIGNATURE_INVALID',
        'The Mdm-Signature is by another certificate than the one the proxy forwarded.',
      );
    }
  }

  return forwarded;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
