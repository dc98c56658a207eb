import { execFileSync } from 'node:child_process';

import { decodePlist, readMachineInfo } from '@turnaround/protocol';

import { createHardware } from './hardware.js';
import { machineInfoOf, MachineInfoSigner, signedMachineInfo } from './machine-info.js';

describe('signedMachineInfo', () => {
  it('is CMS SignedData around the MachineInfo plist, as the service reads it', async () => {
    const hardware = createHardware('visionos', 3, 'spec');
    const body = signedMachineInfo(hardware, await MachineInfoSigner.create('spec device'));
    const info = readMachineInfo(body);

    expect(info).toMatchObject({
      isSigned: true,
      udid: hardware.udid,
      serial: hardware.serialNumber,
      product: 'RealityDevice14,1',
      version: hardware.buildVersion,
      osVersion: hardware.osVersion,
      language: 'en-US',
      mdmCanRequestSoftwareUpdate: true,
    });
  });

  it('carries a signature that verifies over the content with the included certificate', async () => {
    const body = signedMachineInfo(
      createHardware('ios', 0, 'spec'),
      await MachineInfoSigner.create('spec device'),
    );
    // -noverify: the certificate is self-signed (a real device's is Apple-issued); the signature
    // over the content must still hold.
    const content = execFileSync(
      'openssl',
      ['cms', '-verify', '-noverify', '-inform', 'DER', '-binary'],
      { input: body },
    );

    expect(decodePlist(content)).toMatchObject({ PRODUCT: 'iPhone17,1' });
  });

  it('leaves MDM_CAN_REQUEST_SOFTWARE_UPDATE out on tvOS, which cannot be asked to update', () => {
    expect(machineInfoOf(createHardware('tvos', 0, 'spec'))).not.toHaveProperty(
      'MDM_CAN_REQUEST_SOFTWARE_UPDATE',
    );
  });
});
