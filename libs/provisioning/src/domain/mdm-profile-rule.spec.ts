import { mdmProfileNeed } from './mdm-profile-rule.js';

describe('mdmProfileNeed (B01)', () => {
  it('needs MDMProfileData for a device not enrolled through ADE', () => {
    expect(mdmProfileNeed(false, null)).toEqual({ required: true, because: 'not-ade' });
  });

  it('needs it while the ADE status is unknown, because a missing profile strands the device', () => {
    expect(mdmProfileNeed(null, null)).toEqual({ required: true, because: 'ade-unknown' });
  });

  it('needs it when the ADE profile has a configuration_web_url or an authenticated url', () => {
    expect(mdmProfileNeed(true, { configurationWebUrl: 'https://sso.example.test/enroll' })).toEqual({ required: true, because: 'configuration-web-url' });
    expect(mdmProfileNeed(true, { urlRequiresAuthentication: true })).toEqual({ required: true, because: 'authenticated-url' });
  });

  it('leaves it out for ADE with a plain url', () => {
    expect(mdmProfileNeed(true, {})).toEqual({ required: false });
    expect(mdmProfileNeed(true, null)).toEqual({ required: false });
  });
});
