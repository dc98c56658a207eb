import { createHash } from 'node:crypto';

import type { ProvisioningPlan } from './plan.js';

/**
 * A profile an RTS cycle installs, named without its bytes: a plan profile by its name, or the
 * standing Wi-Fi profile. The digest is of the bytes as they were when the command was queued.
 */
export interface ProfileReference {
  source: 'plan' | 'standing-wifi';
  name?: string;
  sha256: string;
}

/** Where a reference's profile can be found again: the cycle's configuration as it is now. */
export interface ProfileSources {
  plan: ProvisioningPlan;
  /** Base64 of the configuration's Wi-Fi profile, or null. */
  wifiProfile: string | null;
}

export function profileDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function planProfileReference(profile: { name: string; payload: string }): ProfileReference {
  return { source: 'plan', name: profile.name, sha256: profileDigest(Buffer.from(profile.payload, 'base64')) };
}

export function standingWifiReference(wifi: Uint8Array): ProfileReference {
  return { source: 'standing-wifi', sha256: profileDigest(wifi) };
}

/**
 * The bytes the reference names, or null when the configuration no longer holds them: a plan
 * profile renamed, removed or given other bytes, or another Wi-Fi profile. Two plan profiles with
 * one name are told apart by their bytes.
 */
export function resolveProfile(sources: ProfileSources, reference: ProfileReference): Buffer | null {
  const candidates =
    reference.source === 'plan'
      ? sources.plan.profiles.filter((profile) => profile.name === reference.name).map((profile) => profile.payload)
      : reference.name === undefined && sources.wifiProfile !== null
        ? [sources.wifiProfile]
        : [];
  for (const candidate of candidates) {
    const bytes = Buffer.from(candidate, 'base64');
    if (profileDigest(bytes) === reference.sha256) {
      return bytes;
    }
  }

  return null;
}
