import { generateKeyPairSync } from 'node:crypto';

import forge from 'node-forge';

export interface TestIdentity {
  key: forge.pki.rsa.PrivateKey;
  certificate: forge.pki.Certificate;
}

/** A throwaway self-signed RSA identity for tests (node:crypto keygen, fast). */
export function createTestIdentity(commonName = 'Turnaround test signer'): TestIdentity {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = forge.pki.privateKeyFromPem(
    privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  ) as forge.pki.rsa.PrivateKey;
  const certificate = forge.pki.createCertificate();

  certificate.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  certificate.serialNumber = '01';
  certificate.validity.notBefore = new Date(Date.now() - 60_000);
  certificate.validity.notAfter = new Date(Date.now() + 86_400_000);
  certificate.setSubject([{ name: 'commonName', value: commonName }]);
  certificate.setIssuer([{ name: 'commonName', value: commonName }]);
  certificate.sign(key, forge.md.sha256.create());

  return { key, certificate };
}

/** CMS SignedData (DER) with `content` attached, as a signed .mobileconfig is shipped. */
export function signAttached(content: Uint8Array, identity: TestIdentity): Buffer {
  const p7 = forge.pkcs7.createSignedData();

  p7.content = forge.util.createBuffer(Buffer.from(content).toString('latin1'));
  p7.addCertificate(identity.certificate);
  p7.addSigner({
    key: identity.key,
    certificate: identity.certificate,
    digestAlgorithm: forge.pki.oids.sha256,
    authenticatedAttributes: [
      { type: forge.pki.oids.contentType, value: forge.pki.oids.data },
      { type: forge.pki.oids.messageDigest },
      { type: forge.pki.oids.signingTime, value: new Date() as unknown as string },
    ],
  });
  p7.sign();

  return Buffer.from(forge.asn1.toDer(p7.toAsn1()).getBytes(), 'latin1');
}

/** A PKCS#12 (DER) holding the identity's key and certificate. */
export function pkcs12Of(identity: TestIdentity, password: string): Buffer {
  const asn1 = forge.pkcs12.toPkcs12Asn1(identity.key, [identity.certificate], password, {
    algorithm: '3des',
  });

  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'latin1');
}
