import { randomUUID } from 'node:crypto';

import { encodePlistXml, type PlistDict } from '@turnaround/protocol';

import type { RtsConfigurationInput } from './admin-client.js';
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
}

/**
 * A .mobileconfig with one WPA2-Personal network the device joins by itself after the erase:
 * auto-join, no proxy, no enterprise authentication (so nothing waits for a person).
 */
export function buildWifiProfile(network: WifiNetwork): Buffer {
  return configurationProfile(`${PREFIX}.wifi`, `Wi-Fi ${network.ssid}`, [
    {
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

/** The `simulator` RTS configuration: the Wi-Fi to join, one profile and two apps to install. */
export function buildSimulatorConfiguration(seed: string): RtsConfigurationInput {
  const network: WifiNetwork = {
    ssid: 'Turnaround-Simulated',
    password: seededText(
      20,
      'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789',
      seed,
      'wifi',
    ),
  };

  // Profile bytes travel base64-encoded exactly once in JSON; <data> in a plist is the same.
  return {
    wifiProfile: buildWifiProfile(network).toString('base64'),
    plan: {
      profiles: [{ name: 'restrictions', payload: buildRestrictionsProfile().toString('base64') }],
      apps: SIMULATOR_APPS.map((app) => ({ ...app })),
    },
  };
}
