import { ProvisioningError } from './provisioning.errors.js';

/**
 * The OS version a Return to Service configuration wants its devices on before they enroll.
 * With app preservation the device blocks every OS update (restoring the snapshot would undo it),
 * so the `403` software-update-required answer to the ADE enrollment fetch is the only way to move
 * it forward (protocol digest §6, §14).
 */
export interface OsPolicy {
  /** Dotted numeric, optionally with Apple's supplemental suffix: `26`, `26.2.1`, `26.1 (a)`. */
  minimumVersion: string;
  /** The build to ask for (seeding); the device follows `minimumVersion` when they disagree. */
  buildVersion?: string;
  /**
   * Hardware that cannot run `minimumVersion`: product types (`iPad7,5`) or, ending in a comma,
   * a family prefix (`iPad7,`). Such a device is never asked to update: it cannot.
   */
  unsupportedProducts?: string[];
  /** `allow`: unsupported hardware enrolls on the OS it has. `block`: RTS must not start for it. */
  whenUnsupported: 'allow' | 'block';
}

/** What to do with an enrolling device (or one about to start Return to Service). */
export type EnrollmentDecision =
  | { action: 'enroll'; reason?: string }
  | { action: 'enroll'; unsupported: true; reason: string }
  | { action: 'update'; osVersion: string; buildVersion?: string; reason: string }
  | { action: 'block'; reason: string };

/** The device facts the decision needs, as Authenticate or MachineInfo report them. */
export interface EnrollingDevice {
  /** Product type, e.g. `iPad7,5` (MachineInfo `PRODUCT`, Authenticate `ProductName`). */
  product?: string;
  /** e.g. `26.1`, or `26.1 (a)` when the supplemental suffix is already attached. */
  osVersion?: string;
  /** MachineInfo `SUPPLEMENTAL_OS_VERSION_EXTRA`, e.g. `(a)`; appended to a bare `osVersion`. */
  supplementalOsVersionExtra?: string;
}

/** A parsed OS version: numeric parts, and the supplemental letter of a Rapid Security Response. */
export interface OsVersion {
  parts: number[];
  supplemental?: string;
}

// Up to three numeric parts and Apple's supplemental suffix written as "16.1 (a)" in the 403
// schema (mdm/errors/softwareupdate.required.yaml).
const OS_VERSION = /^(\d+(?:\.\d+){0,2})(?: \(([a-z])\))?$/;
// A build such as 23E100, a beta 23A5276f, or a supplemental 20A242a.
const BUILD_VERSION = /^\d+[A-Z]\d+[a-z]*$/;
// A product type (iPad7,5) or a family prefix ending in a comma (iPad7,).
const PRODUCT = /^[A-Za-z]+\d+,\d*$/;
const POLICY_KEYS = ['minimumVersion', 'buildVersion', 'unsupportedProducts', 'whenUnsupported'];

/** Parses `26`, `26.2`, `26.2.1`, `26.1 (a)`; anything else is `null`. */
export function parseOsVersion(text: unknown): OsVersion | null {
  if (typeof text !== 'string') return null;

  const match = OS_VERSION.exec(text);

  if (match === null) return null;

  const parts = (match[1] ?? '').split('.').map(Number);

  if (!parts.every(Number.isSafeInteger)) return null;

  return match[2] === undefined ? { parts } : { parts, supplemental: match[2] };
}

function compareParsed(a: OsVersion, b: OsVersion): -1 | 0 | 1 {
  for (let i = 0; i < Math.max(a.parts.length, b.parts.length); i += 1) {
    const diff = (a.parts[i] ?? 0) - (b.parts[i] ?? 0);

    if (diff !== 0) return diff < 0 ? -1 : 1;
  }

  // A Rapid Security Response comes after its base release: 26.1 < 26.1 (a) < 26.1 (b).
  const left = a.supplemental ?? '';
  const right = b.supplemental ?? '';

  return left === right ? 0 : left < right ? -1 : 1;
}

/**
 * Orders OS versions by numeric part (`26.10` after `26.9`; `26.2` equals `26.2.0`), then by
 * supplemental suffix (`26.1` < `26.1 (a)` < `26.1 (b)` < `26.1.1`). `null` when either is not a
 * version {@link parseOsVersion} reads.
 */
export function compareOsVersions(a: string, b: string): -1 | 0 | 1 | null {
  const left = parseOsVersion(a);
  const right = parseOsVersion(b);

  return left === null || right === null ? null : compareParsed(left, right);
}

function invalid(message: string): ProvisioningError {
  return new ProvisioningError('CONFIGURATION.INVALID', message);
}

function readVersion(value: unknown, path: string): string {
  if (typeof value === 'number') {
    throw invalid(`${path} must be a string such as "26.2": as a number, 26.10 would read as 26.1`);
  }
  if (parseOsVersion(value) === null) {
    throw invalid(`${path} must be a version such as "26", "26.2", "26.2.1" or "26.1 (a)"`);
  }

  return value as string;
}

function readProducts(value: unknown, path: string): string[] {
  if (!Array.isArray(value)) {
    throw invalid(`${path} must be an array of product types such as "iPad7,5" or "iPad7,"`);
  }

  const products = value.map((product, index) => {
    if (typeof product !== 'string' || !PRODUCT.test(product)) {
      throw invalid(
        `${path}[${index}] must be a product type such as "iPad7,5", or a family prefix ` +
          'ending in a comma such as "iPad7,"',
      );
    }

    return product;
  });

  return [...new Set(products)];
}

/**
 * Reads the OS policy of a Return to Service configuration from admin API input; `null` or
 * `undefined` means no policy. `whenUnsupported` defaults to `allow`: hardware the admin listed
 * as unable to update keeps enrolling as it does without a policy. Unknown keys are refused, so a
 * misspelt `minimumVersoin` is not silently ignored. Throws `CONFIGURATION.INVALID`.
 */
export function readOsPolicy(input: unknown, field = 'osPolicy'): OsPolicy | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw invalid(`${field} must be an object with minimumVersion`);
  }

  const raw = input as Record<string, unknown>;
  const unknown = Object.keys(raw).filter((key) => !POLICY_KEYS.includes(key));

  if (unknown.length > 0) {
    throw invalid(
      `${field} has unknown keys ${unknown.join(', ')}; known: ${POLICY_KEYS.join(', ')}`,
    );
  }

  const policy: OsPolicy = {
    minimumVersion: readVersion(raw.minimumVersion, `${field}.minimumVersion`),
    whenUnsupported: 'allow',
  };

  if (raw.buildVersion !== undefined) {
    if (typeof raw.buildVersion !== 'string' || !BUILD_VERSION.test(raw.buildVersion)) {
      throw invalid(`${field}.buildVersion must be a build such as "23E100"`);
    }
    policy.buildVersion = raw.buildVersion;
  }
  if (raw.unsupportedProducts !== undefined) {
    const products = readProducts(raw.unsupportedProducts, `${field}.unsupportedProducts`);

    if (products.length > 0) policy.unsupportedProducts = products;
  }
  if (raw.whenUnsupported !== undefined) {
    if (raw.whenUnsupported !== 'allow' && raw.whenUnsupported !== 'block') {
      throw invalid(`${field}.whenUnsupported must be "allow" or "block"`);
    }
    policy.whenUnsupported = raw.whenUnsupported;
  }

  return policy;
}

/** True when `product` is listed, exactly or under a family prefix such as `iPad7,`. */
export function isUnsupportedProduct(policy: OsPolicy, product: string | undefined): boolean {
  if (product === undefined || product === '') return false;

  const type = product.toLowerCase();

  return (policy.unsupportedProducts ?? []).some((entry) => {
    const listed = entry.toLowerCase();

    return listed.endsWith(',') ? type.startsWith(listed) : type === listed;
  });
}

function deviceVersion(device: EnrollingDevice): string | undefined {
  const extra = device.supplementalOsVersionExtra?.trim().replace(/^\((.*)\)$/, '$1');

  if (device.osVersion === undefined || extra === undefined || extra === '') {
    return device.osVersion;
  }

  return device.osVersion.includes('(') ? device.osVersion : `${device.osVersion} (${extra})`;
}

/**
 * Decides whether an enrolling device must update first (answer `update` with Apple's 403
 * software-update-required, built from `osVersion`/`buildVersion`), may enroll, or must not start
 * Return to Service (`block`).
 *
 * - No policy, or the device is at or above the minimum: `enroll`.
 * - Listed as unsupported hardware and below the minimum (or its version unknown): never asked to
 *   update, since it cannot; `enroll` with `unsupported` under `allow`, `block` under `block`.
 * - Version missing or unreadable: `enroll` with a reason, rather than a 403 that could loop.
 * - Otherwise below the minimum: `update`.
 */
export function decideEnrollment(
  policy: OsPolicy | null,
  device: EnrollingDevice,
): EnrollmentDecision {
  if (policy === null) return { action: 'enroll' };

  const minimum = parseOsVersion(policy.minimumVersion);

  if (minimum === null) {
    // readOsPolicy never lets this through; a stored policy that was edited by hand might.
    return {
      action: 'enroll',
      reason: `the policy minimum ${policy.minimumVersion} is unreadable`,
    };
  }

  const version = deviceVersion(device);
  const current = parseOsVersion(version);
  const atMinimum = current !== null && compareParsed(current, minimum) >= 0;

  if (atMinimum) return { action: 'enroll' };
  if (isUnsupportedProduct(policy, device.product)) {
    const running = current === null ? 'an unknown OS version' : version;

    return policy.whenUnsupported === 'block'
      ? {
          action: 'block',
          reason:
            `${device.product} cannot run ${policy.minimumVersion} (it runs ${running}) and the ` +
            'configuration blocks unsupported hardware',
        }
      : {
          action: 'enroll',
          unsupported: true,
          reason: `${device.product} cannot run ${policy.minimumVersion}; it enrolls on ${running}`,
        };
  }
  if (current === null) {
    return {
      action: 'enroll',
      reason:
        version === undefined
          ? 'the device did not report its OS version; ' +
            `the ${policy.minimumVersion} minimum is not checked`
          : `the OS version ${JSON.stringify(version.slice(0, 40))} is unreadable; ` +
            `the ${policy.minimumVersion} minimum is not checked`,
    };
  }

  const decision: EnrollmentDecision = {
    action: 'update',
    osVersion: policy.minimumVersion,
    reason: `${version} is older than the minimum ${policy.minimumVersion}`,
  };

  if (policy.buildVersion !== undefined) decision.buildVersion = policy.buildVersion;

  return decision;
}
