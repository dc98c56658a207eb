import {
  extractDeviceInformation,
  extractManagedApplications,
  extractSecurityInfo,
} from '@turnaround/protocol';
import type { PlistDict } from '@turnaround/protocol';

import { toJsonFacts } from '../domain/result-summary.js';

interface Extracted {
  value: unknown;
  unreadable: readonly { path: string }[];
}

// Inventory worth passing on, under the key it travels as. Every other result (profile lists
// with signer certificates, certificate lists, bootstrap tokens, bypass codes) stays out of events.
const EXTRACTORS: Readonly<Record<string, [string, (payload: PlistDict) => Extracted]>> = {
  DeviceInformation: ['deviceInformation', extractDeviceInformation],
  SecurityInfo: ['securityInfo', extractSecurityInfo],
  ManagedApplicationList: ['applications', extractManagedApplications],
  InstalledApplicationList: ['applications', extractManagedApplications],
};

export const BYPASS_CODE_REQUEST = 'ActivationLockBypassCode';

export interface ResultFacts {
  facts?: Record<string, unknown>;
  /** Result fields that could not be read (logged, never fatal). */
  unreadable: string[];
}

/**
 * What an Acknowledged result tells about the device. Never throws: a payload the extractors
 * cannot read must not keep the command from finishing (B19).
 */
export function factsOf(requestType: string, payload: PlistDict): ResultFacts {
  const entry = EXTRACTORS[requestType];
  if (!entry) {
    return { unreadable: [] };
  }
  const [key, extract] = entry;
  try {
    const { value, unreadable } = extract(payload);
    const facts = toJsonFacts({ [key]: value });

    return { ...(facts ? { facts } : {}), unreadable: unreadable.map((field) => field.path) };
  } catch (error) {
    return {
      unreadable: [`extraction failed: ${error instanceof Error ? error.message : String(error)}`],
    };
  }
}

/**
 * The code an ActivationLockBypassCode result carries, for escrow and nothing else; undefined
 * when the result has none (the device only has one for 15 days after supervision).
 */
export function bypassCodeOf(payload: PlistDict): string | undefined {
  const code = payload[BYPASS_CODE_REQUEST];

  return typeof code === 'string' && code.trim() !== '' ? code : undefined;
}

/**
 * The facts of an ActivationLockBypassCode result: whether escrow now holds its code, which is
 * what provisioning needs before it can clear Activation Lock. Never the code.
 */
export function withBypassCodeFacts(
  facts: Record<string, unknown> | undefined,
  escrowed: boolean,
): Record<string, unknown> {
  return { ...facts, bypassCodeEscrowed: escrowed };
}
