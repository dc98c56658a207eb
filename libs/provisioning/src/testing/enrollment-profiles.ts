import { randomBytes } from 'node:crypto';

import { IssueEnrollmentProfile } from '@turnaround/contracts';
import type { InProcessTransport } from '@turnaround/messaging';
import { buildEnrollmentProfile } from '@turnaround/protocol';

/**
 * Answers IssueEnrollmentProfile on the bus as check-in would, with a SCEP identity payload and a
 * challenge of its own per profile, for specs that run the provisioning service alone. `onIssue`
 * counts the answers.
 */
export async function serveEnrollmentProfiles(transport: InProcessTransport, onIssue: () => void = () => undefined): Promise<void> {
  await transport.serve('checkin', [IssueEnrollmentProfile.routingKey], async () => {
    onIssue();
    const profile = buildEnrollmentProfile({
      serverUrl: 'https://mdm.example.test/mdm/server',
      topic: 'com.apple.mgmt.test',
      identity: { scep: { url: 'https://mdm.example.test/mdm/enroll/scep', challenge: randomBytes(16).toString('hex'), subject: [[['CN', 'device']]] } },
      payloadIdentifierPrefix: 'test',
      organization: 'Test',
      displayName: 'Test enrollment',
    });

    return { profile: profile.toString('base64') };
  });
}
