import { X509Certificate } from 'node:crypto';

import {
  buildPkcsReq,
  encodeName,
  readCaCertificates,
  readCertRep,
  type IdentityPem,
} from '@turnaround/identity';
import type { ScepPayloadSettings } from '@turnaround/protocol';

import type { DeviceKeySource } from './device-keys.js';

/** One HTTP exchange of a SCEP enrollment; resolves with the 2xx answer's body. */
export type ScepExchange = (request: {
  what: string;
  method: 'GET' | 'POST';
  url: string;
  body?: Uint8Array;
  headers?: Record<string, string>;
}) => Promise<Uint8Array>;

/**
 * What a device does with a `com.apple.security.scep` payload (RFC 8894 as Apple devices speak
 * it): takes a key of the payload's size, asks the CA for its capabilities and certificate, sends
 * a PKCSReq with the challenge and reads the certificate from the CertRep. Throws when the CA
 * refuses or answers something unusable.
 */
export async function enrollScepIdentity(
  scep: ScepPayloadSettings,
  keys: DeviceKeySource,
  exchange: ScepExchange,
): Promise<IdentityPem> {
  const key = await keys.take(scep.keySize);
  const caps = Buffer.from(
    await exchange({ what: 'SCEP GetCACaps', method: 'GET', url: operationUrl(scep, 'GetCACaps') }),
  )
    .toString('utf8')
    .split(/\r?\n/)
    .map((line) => line.trim());
  const [caCertificate] = readCaCertificates(
    Buffer.from(
      await exchange({
        what: 'SCEP GetCACert',
        method: 'GET',
        url: operationUrl(scep, 'GetCACert'),
      }),
    ),
  );
  if (caCertificate === undefined) {
    throw new Error('the SCEP CA sent no certificate');
  }

  const request = buildPkcsReq({
    key,
    caCertificate,
    subject: encodeName(scep.subject),
    cipher: caps.includes('AES') ? 'aes-128-cbc' : 'des-ede3-cbc',
    ...(scep.challenge === undefined ? {} : { challenge: scep.challenge }),
  });
  const reply = caps.includes('POSTPKIOperation')
    ? await exchange({
        what: 'SCEP PKIOperation',
        method: 'POST',
        url: operationUrl(scep, 'PKIOperation'),
        body: request.message,
        headers: { 'Content-Type': 'application/x-pki-message' },
      })
    : await exchange({
        what: 'SCEP PKIOperation',
        method: 'GET',
        url: operationUrl(scep, 'PKIOperation', request.message.toString('base64')),
      });
  const certRep = readCertRep(Buffer.from(reply), request, { key, caCertificate });

  switch (certRep.status) {
    case 'SUCCESS':
      return {
        certificatePem: new X509Certificate(certRep.certificate).toString(),
        privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      };
    case 'FAILURE':
      throw new Error(
        `the SCEP CA refused the certificate request (failInfo ${certRep.failInfo ?? 'none'})`,
      );
    case 'PENDING':
      throw new Error(
        'the SCEP CA left the certificate request pending; simulated devices do not poll',
      );
  }
}

/** Apple devices send the payload's Name as `message` with GetCACaps and GetCACert. */
function operationUrl(scep: ScepPayloadSettings, operation: string, message = scep.name): string {
  const url = new URL(scep.url);
  url.searchParams.set('operation', operation);
  if (message !== undefined) {
    url.searchParams.set('message', message);
  }

  return url.toString();
}
