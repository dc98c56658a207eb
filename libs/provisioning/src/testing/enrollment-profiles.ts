import { IssueEnrollmentProfile } from '@turnaround/contracts';
import { CertificateAuthority, createCertificateAuthority, exportPkcs12 } from '@turnaround/identity';
import type { InProcessTransport } from '@turnaround/messaging';
import { buildEnrollmentProfile } from '@turnaround/protocol';

/**
 * Answers IssueEnrollmentProfile on the bus as check-in would, with a real identity from a
 * throwaway CA, for specs that run the provisioning service alone. `onIssue` counts the answers.
 */
export async function serveEnrollmentProfiles(transport: InProcessTransport, onIssue: () => void = () => undefined): Promise<void> {
  const authority = new CertificateAuthority(createCertificateAuthority({ commonName: 'Test CA' }));
  const pkcs12 = exportPkcs12(await authority.issueDeviceIdentity({ commonName: 'device' }), 'secret');
  await transport.serve('checkin', [IssueEnrollmentProfile.routingKey], async () => {
    onIssue();
    const profile = buildEnrollmentProfile({
      serverUrl: 'https://mdm.example.test/mdm/server',
      topic: 'com.apple.mgmt.test',
      identity: { pkcs12, password: 'secret' },
      payloadIdentifierPrefix: 'test',
      organization: 'Test',
      displayName: 'Test enrollment',
    });

    return { profile: profile.toString('base64') };
  });
}
