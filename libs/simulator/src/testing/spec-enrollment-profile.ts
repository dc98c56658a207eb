import {
  CertificateAuthority,
  createCertificateAuthority,
  type PkcsReq,
  SCEP_CA_CAPABILITIES,
  ScepServer,
} from '@turnaround/identity';
import { buildEnrollmentProfile } from '@turnaround/protocol';

import { DeviceKeyPool, type DeviceKeySource } from '../device-keys.js';
import type { FetchLike } from '../mdm-client.js';

/** The address the simulator specs' fake MDM answers on (no socket: their fetch is a fake). */
export const SPEC_BASE = 'http://127.0.0.1:8080';

const SCEP_PATH = '/mdm/enroll/scep';
const CHALLENGE = 'spec-challenge';

let authority: CertificateAuthority | undefined;
let pool: Promise<DeviceKeyPool> | undefined;

function specAuthority(): CertificateAuthority {
  authority ??= new CertificateAuthority(createCertificateAuthority({ commonName: 'Spec CA' }));

  return authority;
}

/** The PEM certificate of the CA behind {@link withSpecScep}. */
export function specCaCertificatePem(): string {
  return specAuthority().certificatePem;
}

/** An enrollment profile with a SCEP identity from the specs' CA, as the fake MDM serves it. */
export async function specEnrollmentProfile(base = SPEC_BASE): Promise<Buffer> {
  return buildEnrollmentProfile({
    serverUrl: `${base}/mdm/server`,
    checkInUrl: `${base}/mdm/checkin`,
    topic: 'com.apple.mgmt.External.spec',
    identity: {
      scep: {
        url: `${base}${SCEP_PATH}`,
        challenge: CHALLENGE,
        subject: [[['CN', 'spec device']]],
      },
    },
    organization: 'Spec',
    displayName: 'Spec MDM',
    payloadIdentifierPrefix: 'io.turnaround.spec',
    allowInsecureUrls: true,
  });
}

/** Two device keys made once per spec file, on first use: quick, and enough to tell apart. */
export const specDeviceKeys: DeviceKeySource = {
  take: async (bits) => {
    pool ??= DeviceKeyPool.create(2, bits);

    return (await pool).take(bits);
  },
};

/**
 * `fetch` with the specs' SCEP CA in front: requests to the profile's SCEP URL are answered as
 * the service answers them (any number of certificates for the one challenge), the rest go on.
 * `seen` is shown every PKCSReq the CA could read.
 */
export function withSpecScep(
  fetch: FetchLike,
  seen: (request: PkcsReq) => void = () => undefined,
): FetchLike {
  const scep = new ScepServer(specAuthority());

  return async (url, init) => {
    const address = new URL(url);
    if (address.pathname !== SCEP_PATH) {
      return fetch(url, init);
    }

    switch (address.searchParams.get('operation')) {
      case 'GetCACaps':
        return new Response(`${SCEP_CA_CAPABILITIES.join('\n')}\n`);
      case 'GetCACert':
        return new Response(scep.caCertificate);
      case 'PKIOperation': {
        const message = init.body ?? address.searchParams.get('message') ?? '';
        const read = scep.readPkiOperation(
          typeof message === 'string'
            ? Buffer.from(message, 'base64')
            : Buffer.from(message as Uint8Array),
        );
        if (read.kind === 'refused') {
          return new Response(scep.certRepFailure(read.address, read.failInfo));
        }
        seen(read.pkcsReq);
        if (read.pkcsReq.request.challengePassword !== CHALLENGE) {
          return new Response(scep.certRepFailure(read.pkcsReq, 'badRequest'));
        }
        const issued = specAuthority().issueForRequest(read.pkcsReq.request);

        return new Response(scep.certRepSuccess(read.pkcsReq, issued.certificateDer));
      }
      default:
        return new Response('unknown operation', { status: 400 });
    }
  };
}
