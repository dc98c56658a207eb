import { randomUUID } from 'node:crypto';

import { encodePlistXml, type PlistDict } from '@turnaround/protocol';

import type { OsPolicyInput, RtsConfigurationInput } from './admin-client.js';
import type { Platform } from './hardware.js';
import { seededText } from './random.js';

const PREFIX = 'io.turnaround.simulator';

function uuid(): string {
  return randomUUID().toUpperCase();
}

function configurationProfile(
  identifier: string,
  displayName: string,
  payloads: PlistDict[],
): Buffer {
  return encodePlistXml({
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: uuid(),
    PayloadDisplayName: displayName,
    PayloadOrganization: 'Turnaround simulator',
    PayloadContent: payloads,
  });
}

export interface WifiNetwork {
  ssid: string;
  password: string;
  /**
   * visionOS with app preservation: the headset may join before its first unlock after a cold
   * boot, so a locked Vision Pro still reaches the server (section 11).
   */
  allowJoinBeforeFirstUnlock?: boolean;
}

/**
 * A .mobileconfig with one WPA2-Personal network the device joins by itself after the erase:
 * auto-join, no proxy, no enterprise authentication (so nothing waits for a person). That also
 * keeps it within the AllowJoinBeforeFirstUnlock rules: one payload, no EAP, no hotspot, no QoS
 * marking policy, ProxyType None.
 */
export function buildWifiProfile(network: WifiNetwork): Buffer {
  return configurationProfile(`${PREFIX}.wifi`, `Wi-Fi ${network.ssid}`, [
    {
      ...(network.allowJoinBeforeFirstUnlock ? { AllowJoinBeforeFirstUnlock: true } : {}),
      PayloadType: 'com.apple.wifi.managed',
      PayloadVersion: 1,
      PayloadIdentifier: `${PREFIX}.wifi.network`,
      PayloadUUID: uuid(),
      PayloadDisplayName: network.ssid,
      SSID_STR: network.ssid,
      HIDDEN_NETWORK: false,
      EncryptionType: 'WPA2',
      Password: network.password,
      AutoJoin: true,
      ProxyType: 'None',
    },
  ]);
}

/** A small restrictions profile of the kind a shared fleet carries. */
export function buildRestrictionsProfile(): Buffer {
  return configurationProfile(`${PREFIX}.restrictions`, 'Shared device restrictions', [
    {
      PayloadType: 'com.apple.applicationaccess',
      PayloadVersion: 1,
      PayloadIdentifier: `${PREFIX}.restrictions.payload`,
      PayloadUUID: uuid(),
      PayloadDisplayName: 'Restrictions',
      allowAccountModification: false,
      allowEraseContentAndSettings: false,
      allowExplicitContent: false,
      forceAutomaticDateAndTime: true,
    },
  ]);
}

// Apple's Pages and Numbers: App Store apps every tenant can license.
export const SIMULATOR_APPS = [{ iTunesStoreID: 361309726 }, { iTunesStoreID: 361304891 }];
// Keynote comes and goes with app preservation, so that cycles also remove and download an app.
export const ROTATING_APP = { iTunesStoreID: 361285480 };

export interface SimulatorConfigurationOptions {
  platform?: Platform;
  /** RTS with app preservation. */
  preserveApps?: boolean;
  /** `TemporarySessionTimeout` in seconds (visionOS); null leaves it unmanaged. */
  temporarySessionTimeout?: number | null;
  osPolicy?: OsPolicyInput | null;
  /** The cycle about to run (1-based), to have Keynote come and go: odd cycles add it. */
  rotateAppsFromCycle?: number;
}

/**
 * The `simulator` RTS configuration: the Wi-Fi to join, one profile and two apps to install.
 * With app preservation and rotation, Keynote is in the plan of odd cycles only: the next cycle
 * removes it (kept but not reinstalled), the one after downloads it again.
 */
export function buildSimulatorConfiguration(
  seed: string,
  options: SimulatorConfigurationOptions = {},
): RtsConfigurationInput {
  const network: WifiNetwork = {
    ssid: 'Turnaround-Simulated',
    password: seededText(
      20,
      'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789',
      seed,
      'wifi',
    ),
  };
  const preserveApps = options.preserveApps === true;

  if (preserveApps && options.platform === 'visionos') {
    network.allowJoinBeforeFirstUnlock = true;
  }

  const apps: { iTunesStoreID: number }[] = SIMULATOR_APPS.map((app) => ({ ...app }));

  if (
    preserveApps &&
    options.rotateAppsFromCycle !== undefined &&
    options.rotateAppsFromCycle % 2 === 1
  ) {
    apps.push({ ...ROTATING_APP });
  }

  // Profile bytes travel base64-encoded exactly once in JSON; <data> in a plist is the same.
  const configuration: RtsConfigurationInput = {
    wifiProfile: buildWifiProfile(network).toString('base64'),
    plan: {
      profiles: [{ name: 'restrictions', payload: buildRestrictionsProfile().toString('base64') }],
      apps,
    },
  };

  if (options.preserveApps !== undefined) {
    configuration.preserveApps = preserveApps;
  }
  if (options.temporarySessionTimeout !== undefined) {
    configuration.temporarySessionTimeout = options.temporarySessionTimeout;
  }
  if (options.osPolicy !== undefined) {
    configuration.osPolicy = options.osPolicy;
  }

  return configuration;
}
