import {
  JsonReader,
  definedOnly,
  describeJsonType,
  parseJsonInput,
  requireJsonObject,
  type JsonObject,
} from './json-access.js';
import { ProtocolError } from './protocol.errors.js';

const CODE = 'DDM.MALFORMED';

/** The declaration groups of the `management.declarations` status item. */
export const DECLARATION_KINDS = ['activations', 'configurations', 'assets', 'management'] as const;

export type DeclarationKind = (typeof DECLARATION_KINDS)[number];

/** Why a declaration is invalid, or why a status item could not be reported. */
export interface DeclarativeStatusReason {
  code: string;
  description?: string;
  details?: JsonObject;
  raw: JsonObject;
}

/** One declaration as the device reports it in `management.declarations`. */
export interface DeclarationStatus {
  identifier: string;
  serverToken?: string;
  active?: boolean;
  /** As given: `valid`, `invalid` or `unknown`. */
  valid?: string;
  reasons: DeclarativeStatusReason[];
  raw: JsonObject;
}

/** Counts of one declaration group; a flag the device left out counts in neither column. */
export interface DeclarationKindSummary {
  count: number;
  valid: number;
  invalid: number;
  active: number;
  inactive: number;
  declarations: DeclarationStatus[];
}

export type DeclarationsSummary = Record<DeclarationKind, DeclarationKindSummary>;

/** The `management.client-capabilities` status item. */
export interface DeclarativeClientCapabilities {
  /** Protocol versions, e.g. `['1.0.0']`. */
  supportedVersions: string[];
  supportedPayloads?: JsonObject;
  supportedFeatures?: JsonObject;
  raw: JsonObject;
}

/** An entry of the report's `Errors`: a status item the device could not report. */
export interface DeclarativeStatusError {
  /** The status item's key path, e.g. `device.operating-system.version`. */
  path: string;
  /** A one-line summary of the reasons, for logs and people. */
  error: string;
  reasons: DeclarativeStatusReason[];
  raw: JsonObject;
}

/** A decoded declarative-management status report (the `Data` of an Endpoint=status check-in). */
export interface DeclarativeStatusReport {
  /** As the device sent it: nested objects by key path segment. */
  statusItems: JsonObject;
  errors: DeclarativeStatusError[];
  /** iOS 17 / macOS 14: true on the periodic report that repeats every subscribed item. */
  fullReport?: boolean;
  /** Present when the report carries `management.declarations`. */
  declarations?: DeclarationsSummary;
  /** Present when the report carries `management.client-capabilities`. */
  clientCapabilities?: DeclarativeClientCapabilities;
  raw: JsonObject;
}

// Declaration reasons use lower-case keys, the report's Errors capitalised ones (Apple's
// StatusReport schema). A reason written wholly in the other spelling is read in that one.
const REASON_KEYS = {
  lower: ['code', 'description', 'details'],
  upper: ['Code', 'Description', 'Details'],
} as const;

function readReason(
  entry: JsonObject,
  context: string,
  spelling: keyof typeof REASON_KEYS,
): DeclarativeStatusReason {
  const other = spelling === 'lower' ? 'upper' : 'lower';
  const useOther =
    !Object.hasOwn(entry, REASON_KEYS[spelling][0]) && Object.hasOwn(entry, REASON_KEYS[other][0]);
  const [code, description, details] = REASON_KEYS[useOther ? other : spelling];
  const r = new JsonReader(entry, CODE, context);

  return definedOnly<DeclarativeStatusReason>(
    { code: r.requiredString(code), raw: entry },
    { description: r.optionalString(description), details: r.optionalObject(details) },
  );
}

function readDeclaration(entry: JsonObject, context: string): DeclarationStatus {
  const r = new JsonReader(entry, CODE, context);

  return definedOnly<DeclarationStatus>(
    {
      identifier: r.requiredString('identifier'),
      reasons:
        r.optionalObjectArray('reasons', (reason, index) =>
          readReason(reason, `${context}.reasons[${index}]`, 'lower'),
        ) ?? [],
      raw: entry,
    },
    {
      serverToken: r.optionalString('server-token'),
      active: r.optionalBoolean('active'),
      valid: r.optionalString('valid'),
    },
  );
}

function summarise(declarations: DeclarationStatus[]): DeclarationKindSummary {
  return {
    count: declarations.length,
    valid: declarations.filter((d) => d.valid === 'valid').length,
    invalid: declarations.filter((d) => d.valid === 'invalid').length,
    active: declarations.filter((d) => d.active === true).length,
    inactive: declarations.filter((d) => d.active === false).length,
    declarations,
  };
}

function readDeclarations(object: JsonObject): DeclarationsSummary {
  const r = new JsonReader(object, CODE, 'DDM status report management.declarations');
  const kind = (name: DeclarationKind): DeclarationKindSummary =>
    summarise(
      r.optionalObjectArray(name, (entry, index) =>
        readDeclaration(entry, `DDM status report management.declarations.${name}[${index}]`),
      ) ?? [],
    );

  return {
    activations: kind('activations'),
    configurations: kind('configurations'),
    assets: kind('assets'),
    management: kind('management'),
  };
}

function readClientCapabilities(object: JsonObject): DeclarativeClientCapabilities {
  const r = new JsonReader(object, CODE, 'DDM status report management.client-capabilities');

  return definedOnly<DeclarativeClientCapabilities>(
    { supportedVersions: r.optionalStringArray('supported-versions') ?? [], raw: object },
    {
      supportedPayloads: r.optionalObject('supported-payloads'),
      supportedFeatures: r.optionalObject('supported-features'),
    },
  );
}

function readError(entry: JsonObject, index: number): DeclarativeStatusError {
  const context = `DDM status report Errors[${index}]`;
  const r = new JsonReader(entry, CODE, context);
  const reasons =
    r.optionalObjectArray('Reasons', (reason, i) =>
      readReason(reason, `${context}.Reasons[${i}]`, 'upper'),
    ) ?? [];
  const error =
    reasons
      .map((reason) =>
        reason.description === undefined ? reason.code : `${reason.code}: ${reason.description}`,
      )
      .join('; ') || 'no reason given';

  return { path: r.requiredString('StatusItem'), error, reasons, raw: entry };
}

/**
 * Reads a declarative-management status report: the JSON a device sends as the `Data` of a
 * DeclarativeManagement check-in with Endpoint `status`. Accepts the UTF-8 bytes (a BOM is
 * dropped) or the text. Apple's pretty-printing (`"key" : value`, empty arrays over several
 * lines) is ordinary JSON whitespace.
 *
 * Status items stay as sent in `statusItems`; `management.declarations` and
 * `management.client-capabilities` are also summarised when present (incremental reports carry
 * only the items that changed). An absent `Errors` reads as empty.
 *
 * Throws `DDM.MALFORMED` for text that is not UTF-8 JSON, a root or `StatusItems` that is not an
 * object, or a known member of the wrong type (the message names its path).
 */
export function readDeclarativeStatusReport(json: Uint8Array | string): DeclarativeStatusReport {
  const what = 'DDM status report';
  const raw = requireJsonObject(parseJsonBytes(json, what), CODE, what);
  const r = new JsonReader(raw, CODE, what);
  const statusItems = r.requiredObject('StatusItems');
  const management = new JsonReader(statusItems, CODE, `${what} StatusItems`).optionalObject(
    'management',
  );
  const m =
    management === undefined ? undefined : new JsonReader(management, CODE, `${what} management`);
  const declarations = m?.optionalObject('declarations');
  const capabilities = m?.optionalObject('client-capabilities');

  return definedOnly<DeclarativeStatusReport>(
    { statusItems, errors: r.optionalObjectArray('Errors', readError) ?? [], raw },
    {
      fullReport: r.optionalBoolean('FullReport'),
      declarations: declarations === undefined ? undefined : readDeclarations(declarations),
      clientCapabilities:
        capabilities === undefined ? undefined : readClientCapabilities(capabilities),
    },
  );
}

// Only text and bytes are accepted: a report always arrives as check-in `Data`, and an object
// handed in here would be a caller's mistake that parseJsonInput would silently let through.
function parseJsonBytes(json: unknown, what: string): unknown {
  if (typeof json !== 'string' && !(json instanceof Uint8Array)) {
    throw new ProtocolError(
      CODE,
      `${what} must be JSON bytes or text, got ${describeJsonType(json)}`,
    );
  }

  return parseJsonInput(json, CODE, what);
}
