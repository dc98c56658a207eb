import { createHmac, hkdfSync } from 'node:crypto';

import type { ProvisioningPlan } from './plan.js';

/**
 * A profile an RTS cycle installs, named without its bytes: a plan profile by its name, or the
 * standing Wi-Fi profile. The digest is of the bytes as they were when the command was queued.
 */
export interface ProfileReference {
  source: 'plan' | 'standing-wifi';
  name?: string;
  digest: string;
}

/** Where a reference's profile can be found again: the cycle's configuration as it is now. */
export interface ProfileSources {
  plan: ProvisioningPlan;
  /** Base64 of the configuration's Wi-Fi profile, or null. */
  wifiProfile: string | null;
}

/**
 * The key of profile digests, derived from the installation's API key. A plain hash of a Wi-Fi
 * profile, whose every other byte an attacker can guess, would let anyone who reads the events
 * test password guesses offline; a keyed one cannot be computed without the key. Changing the API
 * key makes commands queued before it refused as changed, which is the safe side.
 */
export function profileReferenceKey(apiKey: string): Buffer {
  return Buffer.from(hkdfSync('sha256', apiKey, 'turnaround', 'profile reference digest', 32));
}

/** Lower-case hex HMAC-SHA-256 of the profile bytes. */
export function profileDigest(bytes: Uint8Array, key: Uint8Array): string {
  return createHmac('sha256', key).update(bytes).digest('hex');
}

export function planProfileReference(profile: { name: string; payload: string }, key: Uint8Array): ProfileReference {
  return { source: 'plan', name: profile.name, digest: profileDigest(Buffer.from(profile.payload, 'base64'), key) };
}

export function standingWifiReference(wifi: Uint8Array, key: Uint8Array): ProfileReference {
  return { source: 'standing-wifi', digest: profileDigest(wifi, key) };
}

/**
 * The bytes the reference names, or null when the configuration no longer holds them: a plan
 * profile renamed, removed or given other bytes, or another Wi-Fi profile. Two plan profiles with
 * one name are told apart by their bytes.
 */
export function resolveProfile(sources: ProfileSources, reference: ProfileReference, key: Uint8Array): Buffer | null {
  const candidates =
    reference.source === 'plan'
      ? sources.plan.profiles.filter((profile) => profile.name === reference.name).map((profile) => profile.payload)
      : reference.name === undefined && sources.wifiProfile !== null
        ? [sources.wifiProfile]
        : [];
  for (const candidate of candidates) {
    const bytes = Buffer.from(candidate, 'base64');
    if (profileDigest(bytes, key) === reference.digest) {
      return bytes;
    }
  }

  return null;
}
