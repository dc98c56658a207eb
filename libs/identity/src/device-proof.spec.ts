import { CertificateAuthority, createCertificateAuthority } from './certificate-authority.js';
import { deviceProofOf, identifyDevice } from './device-proof.js';
import { IdentityError } from './identity.errors.js';
import { RequestSigner } from './request-signer.js';
import { SignatureVerifier } from './signature-verifier.js';

const material = createCertificateAuthority({ commonName: 'Proof Test CA' });
const authority = new CertificateAuthority(material);
const verifier = new SignatureVerifier(material.certificatePem);
const body = Buffer.from('<plist version="1.0"><dict/></plist>');

function codeOf(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    if (error instanceof IdentityError) {
      return error.code;
    }
    throw error;
  }

  return 'no error';
}

describe('deviceProofOf', () => {
  it('reads the forwarded certificate only from the header the operator named', () => {
    const headers = { 'mdm-signature': 'SIG', 'x-client-cert': 'CERT' };

    expect(deviceProofOf(headers)).toEqual({ signature: 'SIG' });
    expect(deviceProofOf(headers, 'x-client-cert')).toEqual({
      signature: 'SIG',
      forwardedCertificate: 'CERT',
    });
  });

  it('takes an empty header (nginx without a client certificate) as none', () => {
    expect(deviceProofOf({ 'x-client-cert': '' }, 'x-client-cert')).toEqual({});
  });
});

describe('identifyDevice', () => {
  it('knows the device by the forwarded certificate when the request is unsigned', async () => {
    const device = await authority.issueDeviceIdentity({ commonName: 'device' });
    const proof = { forwardedCertificate: encodeURIComponent(device.certificatePem) };

    expect(identifyDevice(verifier, proof, body).fingerprint).toBe(device.fingerprint);
  });

  it('accepts a signature sent along by the same certificate', async () => {
    const device = await authority.issueDeviceIdentity({ commonName: 'device' });
    const proof = {
      forwardedCertificate: device.certificatePem,
      signature: new RequestSigner(device).sign(body),
    };

    expect(identifyDevice(verifier, proof, body).fingerprint).toBe(device.fingerprint);
  });

  it('refuses a signature by another device than the forwarded certificate', async () => {
    const device = await authority.issueDeviceIdentity({ commonName: 'device' });
    const other = await authority.issueDeviceIdentity({ commonName: 'other' });
    const proof = {
      forwardedCertificate: device.certificatePem,
      signature: new RequestSigner(other).sign(body),
    };

    expect(codeOf(() => identifyDevice(verifier, proof, body))).toBe('IDENTITY.SIGNATURE_INVALID');
  });

  it('refuses a forwarded certificate of another CA', async () => {
    const foreign = new CertificateAuthority(createCertificateAuthority({ commonName: 'Other CA' }));
    const device = await foreign.issueDeviceIdentity({ commonName: 'device' });

    expect(
      codeOf(() => identifyDevice(verifier, { forwardedCertificate: device.certificatePem }, body)),
    ).not.toBe('no error');
  });

  it('falls back to the signature alone, and refuses a request with neither', async () => {
    const device = await authority.issueDeviceIdentity({ commonName: 'device' });
    const signature = new RequestSigner(device).sign(body);

    expect(identifyDevice(verifier, { signature }, body).fingerprint).toBe(device.fingerprint);
    expect(codeOf(() => identifyDevice(verifier, {}, body))).toBe('IDENTITY.SIGNATURE_MISSING');
  });
});
