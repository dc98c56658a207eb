import {
  CertificateAuthority,
  createCertificateAuthority,
  exportPkcs12,
} from '@turnaround/identity';
import { buildEnrollmentProfile } from '@turnaround/protocol';

/** The address the simulator specs' fake MDM answers on (no socket: their fetch is a fake). */
export const SPEC_BASE = 'http://127.0.0.1:8080';

/** An enrollment profile with a real identity from a throwaway CA, as the specs' fake MDM serves it. */
export async function specEnrollmentProfile(base = SPEC_BASE): Promise<Buffer> {
  const authority = new CertificateAuthority(createCertificateAuthority({ commonName: 'Spec CA' }));
  const identity = await authority.issueDeviceIdentity({ commonName: 'spec device' });

  return buildEnrollmentProfile({
    serverUrl: `${base}/mdm/server`,
    checkInUrl: `${base}/mdm/checkin`,
    topic: 'com.apple.mgmt.External.spec',
    identity: { pkcs12: exportPkcs12(identity, 'pw'), password: 'pw' },
    organization: 'Spec',
    displayName: 'Spec MDM',
    payloadIdentifierPrefix: 'io.turnaround.spec',
    allowInsecureUrls: true,
  });
}
