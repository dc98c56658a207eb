import { createPublicKey, generateKeyPairSync, KeyObject, X509Certificate } from 'node:crypto';

import { CertificateAuthority, createCertificateAuthority } from './certificate-authority.js';
import {
  basicConstraintsExtension,
  buildCertificate,
  distinguishedName,
  keyUsageExtension,
  KeyUsageBit,
  summarizeCertificate,
  toPem,
} from './certificate.js';
import { buildCertificationRequest } from './certification-request.js';
import { ContentCipherName } from './cms-algorithms.js';
import { Asn1Node, parseAsn1 } from './der.js';
import { buildEnvelopedData } from './enveloped-data.js';
import { IdentityError } from './identity.errors.js';
import { Oid } from './oids.js';
import { RequestSigner } from './request-signer.js';
import { buildPkcsReq, PkcsReqMessage, readCaCertificates, readCertRep } from './scep-client.js';
import {
  messageTypeAttribute,
  nonceAttribute,
  SCEP_MESSAGE_TYPES,
  transactionIdAttribute,
} from './scep-message.js';
import { PkcsReq, PkiOperation, ScepServer } from './scep-server.js';
import { buildSignedData } from './signed-data.js';
import { SignatureVerifier } from './signature-verifier.js';
import { encodeName } from './x500-name.js';

const rsaKey = (): KeyObject => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

const authority = new CertificateAuthority(createCertificateAuthority({ commonName: 'SCEP CA' }));
const server = new ScepServer(authority);
const deviceKey = rsaKey();
const subject = encodeName([[['O', 'Turnaround']], [['CN', 'device identity 1']]]);

function pkcsReq(overrides: Partial<Parameters<typeof buildPkcsReq>[0]> = {}): PkcsReqMessage {
  return buildPkcsReq({
    key: deviceKey,
    caCertificate: authority.certificateDer,
    subject,
    challenge: 'c0ffee',
    ...overrides,
  });
}

function accepted(operation: PkiOperation): PkcsReq {
  if (operation.kind !== 'pkcs-req') {
    throw new Error(`refused: ${operation.failInfo} ${operation.reason}`);
  }

  return operation.pkcsReq;
}

function refusal(operation: PkiOperation): [string, string] {
  return operation.kind === 'refused' ? [operation.failInfo, operation.reason] : ['accepted', ''];
}

function codeOf(run: () => unknown): string {
  try {
    run();

    return 'no error';
  } catch (error) {
    return error instanceof IdentityError ? error.code : `${(error as Error).name}: ${error}`;
  }
}

/** Flips one bit in the middle of the primitive value at `path` (child indexes from the root). */
function flipped(bytes: Buffer, path: number[]): Buffer {
  let node: Asn1Node = parseAsn1(bytes);
  for (const index of path) {
    node = index < 0 ? node.children[node.children.length + index] : node.children[index];
  }
  const copy = Buffer.from(bytes);
  copy[Math.floor((node.contentStart + node.contentEnd) / 2)] ^= 0x01;

  return copy;
}

// Where things sit in a ContentInfo holding SignedData or EnvelopedData.
const ENCAPSULATED_CONTENT = [1, 0, 2, 1, 0];
const SIGNATURE = [1, 0, -1, 0, -1];
const ENCRYPTED_CONTENT_KEY = [1, 0, 1, 0, 3];

/** A PKCSReq put together by hand, for requests the client would never build. */
function handmade(parts: { csr?: Buffer; envelope?: Buffer; attributes?: Buffer[] }): Buffer {
  const signer = buildPkcsReq({ key: deviceKey, caCertificate: authority.certificateDer, subject });
  const csr = parts.csr ?? buildCertificationRequest({ subject, key: deviceKey });

  return buildSignedData({
    content: parts.envelope ?? buildEnvelopedData(csr, authority.certificateDer, 'aes-128-cbc'),
    certificates: [signer.signerCertificate],
    signer: {
      key: deviceKey,
      certificate: summarizeCertificate(signer.signerCertificate),
      hash: 'sha256',
      attributes: parts.attributes ?? [
        messageTypeAttribute(SCEP_MESSAGE_TYPES.PKCSReq),
        transactionIdAttribute('T-1'),
        nonceAttribute(Oid.scepSenderNonce, Buffer.alloc(16, 1)),
      ],
    },
  });
}

describe('ScepServer with the SCEP client', () => {
  it.each<ContentCipherName>(['aes-128-cbc', 'aes-256-cbc', 'des-ede3-cbc'])(
    'reads a PKCSReq encrypted with %s and issues a certificate the client can open',
    (cipher) => {
      const sent = pkcsReq({ cipher });
      const request = accepted(server.readPkiOperation(sent.message));

      expect(request).toMatchObject({
        transactionId: sent.transactionId,
        senderNonce: sent.senderNonce,
        cipher,
        hash: 'sha256',
      });
      expect(request.request.challengePassword).toBe('c0ffee');
      expect(request.request.subject.equals(subject)).toBe(true);
      expect(request.request.commonName).toBe('device identity 1');

      const issued = authority.issueForRequest(request.request);
      const reply = readCertRep(server.certRepSuccess(request, issued.certificateDer), sent, {
        key: deviceKey,
        caCertificate: authority.certificateDer,
      });

      expect(reply).toEqual({ status: 'SUCCESS', certificate: issued.certificateDer });
    },
  );

  it('issues a client certificate for the requested key and subject, chained to the CA', () => {
    const request = accepted(server.readPkiOperation(pkcsReq().message));
    const certificate = new X509Certificate(
      authority.issueForRequest(request.request).certificateDer,
    );

    expect(certificate.subject).toBe('O=Turnaround\nCN=device identity 1');
    expect(certificate.verify(new X509Certificate(authority.certificateDer).publicKey)).toBe(true);
    expect(certificate.checkPrivateKey(deviceKey)).toBe(true);
    expect(certificate.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(certificate.ca).toBe(false);
  });

  it('gives a certificate that signs Mdm-Signature headers the verifier accepts', () => {
    const request = accepted(server.readPkiOperation(pkcsReq().message));
    const issued = authority.issueForRequest(request.request);
    const signer = new RequestSigner({
      certificatePem: issued.certificatePem,
      privateKeyPem: deviceKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    const body = Buffer.from('<plist/>');

    expect(
      new SignatureVerifier(authority.certificatePem).verify(signer.sign(body), body),
    ).toMatchObject({
      fingerprint: issued.fingerprint,
      subject: 'device identity 1',
    });
  });

  it('answers a refusal with a signed FAILURE the client reads with its failInfo', () => {
    const sent = pkcsReq();
    const request = accepted(server.readPkiOperation(sent.message));
    const reply = server.certRepFailure(request, 'badRequest');

    expect(
      readCertRep(reply, sent, { key: deviceKey, caCertificate: authority.certificateDer }),
    ).toEqual({
      status: 'FAILURE',
      failInfo: 'badRequest',
    });
  });

  it('serves its CA certificate and reads it back from GetCACert', () => {
    expect(readCaCertificates(server.caCertificate)).toEqual([authority.certificateDer]);
  });

  it('refuses a CA whose key cannot receive RSA key transport', () => {
    const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const name = distinguishedName({ commonName: 'EC CA' });
    const ecCertificate = buildCertificate({
      issuerName: name,
      subjectName: name,
      notBefore: new Date(),
      notAfter: new Date(Date.now() + 86_400_000),
      subjectPublicKeyInfo: createPublicKey(ecKey).export({ type: 'spki', format: 'der' }),
      extensions: [basicConstraintsExtension(true), keyUsageExtension([KeyUsageBit.keyCertSign])],
      signingKey: ecKey,
    });
    const ecAuthority = new CertificateAuthority({
      certificatePem: toPem(ecCertificate, 'CERTIFICATE'),
      privateKeyPem: ecKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });

    expect(codeOf(() => new ScepServer(ecAuthority))).toBe('IDENTITY.MATERIAL_INVALID');
  });
});

describe('ScepServer with hostile PKIOperation messages', () => {
  const message = pkcsReq().message;

  it('never throws anything but SCEP_MESSAGE_INVALID for a truncated message', () => {
    const outcomes = new Set<string>();
    for (let length = 0; length < message.length; length += 7) {
      const cut = message.subarray(0, length);
      let outcome: string;
      try {
        outcome = refusal(server.readPkiOperation(cut))[0];
      } catch (error) {
        outcome = error instanceof IdentityError ? error.code : `crash: ${error}`;
      }
      outcomes.add(outcome);
    }

    expect([...outcomes]).toEqual(['IDENTITY.SCEP_MESSAGE_INVALID']);
  });

  it('refuses a request encrypted to another CA: badMessageCheck', () => {
    const other = new CertificateAuthority(createCertificateAuthority({ commonName: 'Other CA' }));
    const sent = pkcsReq({ caCertificate: other.certificateDer });

    expect(refusal(server.readPkiOperation(sent.message))).toEqual([
      'badMessageCheck',
      'the envelope is not addressed to this certificate',
    ]);
  });

  it('refuses a message whose signature or content was changed: badMessageCheck', () => {
    expect(refusal(server.readPkiOperation(flipped(message, SIGNATURE)))).toEqual([
      'badMessageCheck',
      'the message signature does not hold',
    ]);
    expect(refusal(server.readPkiOperation(flipped(message, ENCAPSULATED_CONTENT)))).toEqual([
      'badMessageCheck',
      'the message signature does not hold',
    ]);
  });

  it('refuses an envelope whose content key does not unwrap, without an error of its own', () => {
    const csr = buildCertificationRequest({ subject, key: deviceKey });
    const envelope = buildEnvelopedData(csr, authority.certificateDer, 'aes-128-cbc');
    const [failInfo, reason] = refusal(
      server.readPkiOperation(handmade({ envelope: flipped(envelope, ENCRYPTED_CONTENT_KEY) })),
    );

    // A bad padding yields a random content key (no padding oracle): the content then fails to
    // decrypt or, once in about 256 times, decrypts to bytes that are no PKCS#10.
    expect([failInfo, reason]).toEqual(
      failInfo === 'badMessageCheck'
        ? ['badMessageCheck', 'the envelope cannot be decrypted']
        : ['badRequest', expect.stringContaining('the PKCS#10 request is malformed')],
    );
  });

  it('refuses a signed message whose envelope is cut short: badMessageCheck', () => {
    const csr = buildCertificationRequest({ subject, key: deviceKey });
    const envelope = buildEnvelopedData(csr, authority.certificateDer, 'aes-128-cbc');

    for (const length of [0, 1, 40, Math.floor(envelope.length / 2), envelope.length - 1]) {
      const [failInfo, reason] = refusal(
        server.readPkiOperation(handmade({ envelope: envelope.subarray(0, length) })),
      );

      expect([failInfo, reason.startsWith('the envelope is malformed')]).toEqual([
        'badMessageCheck',
        true,
      ]);
    }
  });

  it('refuses a request whose PKCS#10 is not signed by its key: badMessageCheck', () => {
    const csr = buildCertificationRequest({ subject, key: deviceKey, challengePassword: 'c0ffee' });
    csr[csr.length - 3] ^= 0x01;

    expect(refusal(server.readPkiOperation(handmade({ csr })))).toEqual([
      'badMessageCheck',
      'the request is not signed by the key it asks to certify',
    ]);
  });

  it('refuses an envelope that holds no PKCS#10: badRequest', () => {
    expect(
      refusal(server.readPkiOperation(handmade({ csr: Buffer.from('not a request') })))[0],
    ).toBe('badRequest');
  });

  it('refuses messages other than PKCSReq: badRequest', () => {
    const poll = handmade({
      attributes: [
        messageTypeAttribute(SCEP_MESSAGE_TYPES.CertPoll),
        transactionIdAttribute('T-1'),
        nonceAttribute(Oid.scepSenderNonce, Buffer.alloc(16, 1)),
      ],
    });

    expect(refusal(server.readPkiOperation(poll))).toEqual([
      'badRequest',
      'messageType 20 is not supported; this CA answers PKCSReq (19)',
    ]);
  });

  it('cannot answer a message without transactionID or senderNonce: SCEP_MESSAGE_INVALID', () => {
    const anonymous = handmade({ attributes: [messageTypeAttribute(SCEP_MESSAGE_TYPES.PKCSReq)] });

    expect(codeOf(() => server.readPkiOperation(anonymous))).toBe('IDENTITY.SCEP_MESSAGE_INVALID');
    expect(codeOf(() => server.readPkiOperation(Buffer.from('garbage')))).toBe(
      'IDENTITY.SCEP_MESSAGE_INVALID',
    );
  });
});

describe('readCertRep', () => {
  const sent = pkcsReq();
  const request = accepted(server.readPkiOperation(sent.message));
  const reply = server.certRepSuccess(
    request,
    authority.issueForRequest(request.request).certificateDer,
  );
  const read = (bytes: Buffer, message = sent, caCertificate = authority.certificateDer) =>
    codeOf(() => readCertRep(bytes, message, { key: deviceKey, caCertificate }));

  it('refuses a reply for another transaction or nonce', () => {
    expect(read(reply, { ...sent, transactionId: 'other' })).toBe('IDENTITY.SCEP_MESSAGE_INVALID');
    expect(read(reply, { ...sent, senderNonce: Buffer.alloc(16) })).toBe(
      'IDENTITY.SCEP_MESSAGE_INVALID',
    );
  });

  it('refuses a reply that another CA signed, or that was changed', () => {
    const other = new CertificateAuthority(createCertificateAuthority({ commonName: 'Other CA' }));
    const changed = Buffer.from(reply);
    changed[changed.length - 5] ^= 0x01;

    expect(read(reply, sent, other.certificateDer)).toBe('IDENTITY.SCEP_MESSAGE_INVALID');
    expect(read(changed)).toBe('IDENTITY.SCEP_MESSAGE_INVALID');
    expect(read(reply.subarray(0, reply.length - 1))).toBe('IDENTITY.SCEP_MESSAGE_INVALID');
  });

  it('refuses a SUCCESS whose certificate is for another key', () => {
    const stranger = authority.issueCertificate({
      commonName: 'stranger',
      publicKey: createPublicKey(rsaKey()),
    });

    expect(read(server.certRepSuccess(request, stranger.certificateDer))).toBe(
      'IDENTITY.SCEP_MESSAGE_INVALID',
    );
  });
});
