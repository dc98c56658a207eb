import { oid, sequence, setOf, tlv, utf8String } from './der.js';
import { Oid } from './oids.js';

/**
 * An X.500 name as Apple's SCEP payload writes its `Subject`: relative distinguished names in
 * order, each a list of `[type, value]` pairs. A type is a short name (C, L, ST, O, OU, CN) or a
 * dotted OID, e.g. `[[['O', 'Example']], [['CN', 'device']]]`.
 */
export type NameAttributes = readonly (readonly (readonly [string, string])[])[];

const SHORT_NAMES: Readonly<Record<string, string>> = {
  C: Oid.countryName,
  L: Oid.localityName,
  ST: Oid.stateOrProvinceName,
  O: Oid.organizationName,
  OU: Oid.organizationalUnitName,
  CN: Oid.commonName,
};

const DOTTED_OID = /^[0-2](?:\.(?:0|[1-9]\d{0,8}))+$/;
// X.520 limits countryName to two letters in a PrintableString.
const COUNTRY = /^[A-Za-z]{2}$/;

/** The DER Name for these attributes. Throws `RangeError` for an unknown type or bad country. */
export function encodeName(rdns: NameAttributes): Buffer {
  return sequence(
    ...rdns.map((rdn) => {
      if (rdn.length === 0) {
        throw new RangeError('a relative distinguished name needs at least one attribute');
      }

      return setOf(...rdn.map(([type, value]) => nameAttribute(type, value)));
    }),
  );
}

function nameAttribute(type: string, value: string): Buffer {
  const id = SHORT_NAMES[type] ?? (DOTTED_OID.test(type) ? type : undefined);
  if (id === undefined) {
    throw new RangeError(
      `unknown name attribute type "${type}"; use C, L, ST, O, OU, CN or an OID`,
    );
  }
  if (id === Oid.countryName) {
    if (!COUNTRY.test(value)) {
      throw new RangeError(`a country name is two letters, not "${value}"`);
    }

    return sequence(oid(id), tlv(0x13, Buffer.from(value, 'latin1')));
  }

  return sequence(oid(id), utf8String(value));
}
