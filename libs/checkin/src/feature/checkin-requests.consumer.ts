import { Controller } from '@nestjs/common';

import { IssueEnrollmentProfile, ResolveIdentity } from '@turnaround/contracts';
import type { DataOf, Envelope, ReplyOf } from '@turnaround/contracts';
import { OnRequest } from '@turnaround/messaging';

import { CheckinRepository } from '../data-access/checkin.repository.js';
import { EnrollmentProfileService } from './enrollment-profile.service.js';

type ResolveIdentityEnvelope = Envelope<DataOf<typeof ResolveIdentity>>;
type ResolveIdentityReply = ReplyOf<typeof ResolveIdentity>;
type IssueProfileEnvelope = Envelope<DataOf<typeof IssueEnrollmentProfile>>;
type IssueProfileReply = ReplyOf<typeof IssueEnrollmentProfile>;

/** What other services ask the check-in service. */
@Controller()
export class CheckinRequestsConsumer {
  constructor(
    private readonly repository: CheckinRepository,
    private readonly profiles: EnrollmentProfileService,
  ) {}

  @OnRequest(ResolveIdentity)
  async resolveIdentity(envelope: ResolveIdentityEnvelope): Promise<ResolveIdentityReply> {
    const identity = await this.repository.findIdentity(envelope.data.certificateFingerprint);
    if (!identity?.enrollmentId) {
      return { found: false };
    }

    return { found: true, udid: identity.udid, enrollmentId: identity.enrollmentId, userEnrollment: identity.userEnrollment };
  }

  @OnRequest(IssueEnrollmentProfile)
  async issueEnrollmentProfile(_envelope: IssueProfileEnvelope): Promise<IssueProfileReply> {
    return { profile: (await this.profiles.issue()).toString('base64') };
  }
}
