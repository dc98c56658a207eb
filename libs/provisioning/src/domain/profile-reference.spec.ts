import { planProfileReference, profileDigest, profileReferenceKey, resolveProfile, standingWifiReference } from './profile-reference.js';

const KEY = profileReferenceKey('an api key of this installation');

const bytes = (text: string): Buffer => Buffer.from(`<plist version="1.0"><dict><key>Password</key><string>${text}</string></dict></plist>`);
const planned = (name: string, payload: Buffer) => ({ name, payload: payload.toString('base64') });

describe('profile references', () => {
  it('names a plan profile by its name and a keyed digest of its bytes', () => {
    const profile = bytes('one');

    expect(planProfileReference(planned('Office', profile), KEY)).toEqual({ source: 'plan', name: 'Office', digest: profileDigest(profile, KEY) });
    // RFC 4231 test case 2: HMAC-SHA-256 itself, not a hash anyone could recompute.
    expect(profileDigest(Buffer.from('what do ya want for nothing?'), Buffer.from('Jefe'))).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });

  it('derives another key, and so other digests, from another API key', () => {
    const profile = bytes('one');

    expect(profileDigest(profile, profileReferenceKey('another api key'))).not.toBe(profileDigest(profile, KEY));
    expect(resolveProfile({ plan: { profiles: [planned('Office', profile)], apps: [] }, wifiProfile: null }, planProfileReference(planned('Office', profile), profileReferenceKey('another api key')), KEY)).toBeNull();
  });

  it('finds the plan profile it names, telling two of one name apart by their bytes', () => {
    const first = bytes('first');
    const second = bytes('second');
    const sources = { plan: { profiles: [planned('Office', first), planned('Office', second)], apps: [] }, wifiProfile: null };

    expect(resolveProfile(sources, planProfileReference(planned('Office', second), KEY), KEY)).toEqual(second);
    expect(resolveProfile(sources, planProfileReference(planned('Office', first), KEY), KEY)).toEqual(first);
  });

  it('finds nothing once the plan profile was renamed, removed or given other bytes', () => {
    const profile = bytes('kept');
    const reference = planProfileReference(planned('Office', profile), KEY);
    const plan = (...profiles: { name: string; payload: string }[]) => ({ plan: { profiles, apps: [] }, wifiProfile: profile.toString('base64') });

    expect(resolveProfile(plan(planned('Office', profile)), reference, KEY)).toEqual(profile);
    expect(resolveProfile(plan(planned('Head office', profile)), reference, KEY)).toBeNull();
    expect(resolveProfile(plan(), reference, KEY)).toBeNull();
    expect(resolveProfile(plan(planned('Office', bytes('changed'))), reference, KEY)).toBeNull();
  });

  it('finds the standing Wi-Fi profile only while the configuration holds the same bytes', () => {
    const wifi = bytes('network');
    const reference = standingWifiReference(wifi, KEY);
    const noPlan = { profiles: [], apps: [] };

    expect(reference).toEqual({ source: 'standing-wifi', digest: profileDigest(wifi, KEY) });
    expect(resolveProfile({ plan: noPlan, wifiProfile: wifi.toString('base64') }, reference, KEY)).toEqual(wifi);
    expect(resolveProfile({ plan: noPlan, wifiProfile: bytes('other network').toString('base64') }, reference, KEY)).toBeNull();
    expect(resolveProfile({ plan: noPlan, wifiProfile: null }, reference, KEY)).toBeNull();
    // A plan profile with the same bytes is not the standing profile.
    expect(resolveProfile({ plan: { profiles: [planned('Wi-Fi', wifi)], apps: [] }, wifiProfile: null }, reference, KEY)).toBeNull();
  });
});
