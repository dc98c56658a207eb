import { planProfileReference, profileDigest, resolveProfile, standingWifiReference } from './profile-reference.js';

const bytes = (text: string): Buffer => Buffer.from(`<plist version="1.0"><dict><key>Password</key><string>${text}</string></dict></plist>`);
const planned = (name: string, payload: Buffer) => ({ name, payload: payload.toString('base64') });

describe('profile references', () => {
  it('names a plan profile by its name and the SHA-256 of its bytes', () => {
    const profile = bytes('one');

    expect(planProfileReference(planned('Office', profile))).toEqual({ source: 'plan', name: 'Office', sha256: profileDigest(profile) });
    expect(profileDigest(Buffer.from('abc'))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('finds the plan profile it names, telling two of one name apart by their bytes', () => {
    const first = bytes('first');
    const second = bytes('second');
    const sources = { plan: { profiles: [planned('Office', first), planned('Office', second)], apps: [] }, wifiProfile: null };

    expect(resolveProfile(sources, planProfileReference(planned('Office', second)))).toEqual(second);
    expect(resolveProfile(sources, planProfileReference(planned('Office', first)))).toEqual(first);
  });

  it('finds nothing once the plan profile was renamed, removed or given other bytes', () => {
    const profile = bytes('kept');
    const reference = planProfileReference(planned('Office', profile));
    const plan = (...profiles: { name: string; payload: string }[]) => ({ plan: { profiles, apps: [] }, wifiProfile: profile.toString('base64') });

    expect(resolveProfile(plan(planned('Office', profile)), reference)).toEqual(profile);
    expect(resolveProfile(plan(planned('Head office', profile)), reference)).toBeNull();
    expect(resolveProfile(plan(), reference)).toBeNull();
    expect(resolveProfile(plan(planned('Office', bytes('changed'))), reference)).toBeNull();
  });

  it('finds the standing Wi-Fi profile only while the configuration holds the same bytes', () => {
    const wifi = bytes('network');
    const reference = standingWifiReference(wifi);
    const noPlan = { profiles: [], apps: [] };

    expect(reference).toEqual({ source: 'standing-wifi', sha256: profileDigest(wifi) });
    expect(resolveProfile({ plan: noPlan, wifiProfile: wifi.toString('base64') }, reference)).toEqual(wifi);
    expect(resolveProfile({ plan: noPlan, wifiProfile: bytes('other network').toString('base64') }, reference)).toBeNull();
    expect(resolveProfile({ plan: noPlan, wifiProfile: null }, reference)).toBeNull();
    // A plan profile with the same bytes is not the standing profile.
    expect(resolveProfile({ plan: { profiles: [planned('Wi-Fi', wifi)], apps: [] }, wifiProfile: null }, reference)).toBeNull();
  });
});
