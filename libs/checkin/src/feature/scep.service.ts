import { createHash, randomBytes } from 'node:crypto';

import { Injectable, OnModuleInit } from '@nestjs/common';

import { FailInfo, PkcsReq, SCEP_CA_CAPABILITIES, ScepServer } from '@turnaround/identity';
import { createLogger, DeviceReply } from '@turnaround/platform';

import { ScepChallengeRepository } from '../data-access/scep-challenge.repository.js';
import { judgeScepChallenge, ScepChallengeRefusal } from '../domain/scep-challenge-rules.js';
import { scepRequestProblem } from '../domain/scep-request-rules.js';
import { ScepRequestError } from '../domain/scep.errors.js';
import { DeviceAuthorityService } from './device-authority.service.js';

/**
 * Where enrollment profiles send devices for their identity, under the enrollment URL so that
 * proxies and ingresses that route /mdm/enroll to this service route SCEP with it.
 */
export const SCEP_PATH = 'mdm/enroll/scep';

/** The SCEP operations this CA answers (RFC 8894 §3.5 and §4). */
export type ScepOperation = 'GetCACaps' | 'GetCACert' | 'PKIOperation';

// A profile's challenge must outlive what happens between issuing the profile and the device
// using it: an RTS erase that stalls (a device switched off mid-erase comes back hours later
// with the MDMProfileData it was given) or a downloaded profile installed the next day. It is
// single-use, so the window only bounds how long an unused profile stays good.
const CHALLENGE_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
// 128 bits in hex: within every SCEP client's PrintableString challengePassword.
const CHALLENGE_BYTES = 16;

type CertificateOutcome =
  { kind: 'certificate'; certificate: Buffer } | { kind: 'refuse'; reason: ScepChallengeRefusal };

const sha256Hex = (bytes: Buffer | string): string =>
  createHash('sha256').update(bytes).digest('hex');

/**
 * SCEP for enrollment identities: one-time challenges for the profiles, the CA's capabilities
 * and certificate, and PKCSReqs answered with a CertRep. Devices make their own keys; the CA only
 * signs their requests.
 */
@Injectable()
export class ScepService implements OnModuleInit {
  private readonly logger = createLogger('ScepService');
  private server?: ScepServer;

  constructor(
    private readonly authority: DeviceAuthorityService,
    private readonly challenges: ScepChallengeRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.authority.onModuleInit();
    this.server = new ScepServer(this.authority.certificateAuthority);
  }

  /** A fresh challenge for one enrollment profile; only its hash is kept. */
  async newChallenge(now = new Date()): Promise<string> {
    const challenge = randomBytes(CHALLENGE_BYTES).toString('hex');
    await this.challenges.create(
      sha256Hex(challenge),
      new Date(now.getTime() + CHALLENGE_LIFETIME_MS),
    );

    return challenge;
  }

  /** Throws `ENROLLMENT.SCEP_*` for what no CertRep can answer. */
  async answer(operation: string | null, message: Buffer | undefined): Promise<DeviceReply> {
    switch (operation as ScepOperation) {
      case 'GetCACaps':
        return {
          status: 200,
          body: `${SCEP_CA_CAPABILITIES.join('\n')}\n`,
          contentType: 'text/plain',
        };
      case 'GetCACert':
        return {
          status: 200,
          body: this.scep.caCertificate,
          contentType: 'application/x-x509-ca-cert',
        };
      case 'PKIOperation':
        if (message === undefined || message.length === 0) {
          throw new ScepRequestError(
            'ENROLLMENT.SCEP_MESSAGE_UNREADABLE',
            'PKIOperation needs a message',
          );
        }

        return {
          status: 200,
          body: await this.pkiOperation(message),
          contentType: 'application/x-pki-message',
        };
      default:
        throw new ScepRequestError(
          'ENROLLMENT.SCEP_OPERATION_UNSUPPORTED',
          `SCEP operation ${JSON.stringify((operation ?? '').slice(0, 40))} is not offered; this CA answers GetCACaps, GetCACert and PKIOperation`,
        );
    }
  }

  private get scep(): ScepServer {
    if (!this.server) {
      throw new Error('the SCEP server is built at module init; nothing may use it before');
    }

    return this.server;
  }

  /** A CertRep for every message that names a transaction; throws IDENTITY.SCEP_MESSAGE_INVALID else. */
  private async pkiOperation(message: Buffer): Promise<Buffer> {
    const operation = this.scep.readPkiOperation(message);
    if (operation.kind === 'refused') {
      const { address, failInfo, reason } = operation;
      this.logger.warn(
        { transactionId: address.transactionId, failInfo, reason },
        'scep request refused',
      );

      return this.scep.certRepFailure(address, failInfo);
    }

    const { pkcsReq } = operation;
    const refuse = (failInfo: FailInfo, reason: string): Buffer => {
      this.logger.warn(
        {
          transactionId: pkcsReq.transactionId,
          subject: pkcsReq.request.commonName,
          failInfo,
          reason,
        },
        'scep request refused',
      );

      return this.scep.certRepFailure(pkcsReq, failInfo);
    };
    const problem = scepRequestProblem(pkcsReq.request);
    if (problem !== undefined) {
      return refuse('badRequest', `the request asks for ${problem}`);
    }
    const challenge = pkcsReq.request.challengePassword;
    if (challenge === undefined) {
      return refuse('badRequest', 'the request has no challengePassword');
    }

    const outcome = await this.certificateFor(sha256Hex(challenge), pkcsReq);
    if (outcome.kind === 'refuse') {
      return refuse('badRequest', `the challenge is ${outcome.reason}`);
    }

    return this.scep.certRepSuccess(pkcsReq, outcome.certificate);
  }

  /**
   * The certificate the challenge buys this request: issued and recorded with the challenge, or
   * the one recorded before when the same request comes again.
   */
  private async certificateFor(
    challengeHash: string,
    pkcsReq: PkcsReq,
  ): Promise<CertificateOutcome> {
    const { transactionId } = pkcsReq;
    const use = { transactionId, requestHash: sha256Hex(pkcsReq.request.der) };
    let verdict = judgeScepChallenge(await this.challenges.find(challengeHash), use, new Date());
    if (verdict.kind === 'issue') {
      const issued = this.authority.certificateAuthority.issueForRequest(pkcsReq.request);
      if (await this.challenges.consume(challengeHash, use, issued.certificateDer)) {
        this.logger.info(
          {
            transactionId,
            subject: pkcsReq.request.commonName,
            certificateFingerprint: issued.fingerprint,
            serialNumber: issued.serialNumber,
          },
          'scep certificate issued',
        );

        return { kind: 'certificate', certificate: issued.certificateDer };
      }
      // Another request used the challenge between our read and our write: judge again.
      verdict = judgeScepChallenge(await this.challenges.find(challengeHash), use, new Date());
    }

    switch (verdict.kind) {
      case 'refuse':
        return verdict;
      case 'reissue':
        this.logger.info(
          { transactionId, certificateFingerprint: sha256Hex(verdict.certificate) },
          'scep certificate sent again',
        );

        return { kind: 'certificate', certificate: verdict.certificate };
      case 'issue':
        return { kind: 'refuse', reason: 'used' };
    }
  }
}
