import { PlistError, type PlistErrorCode } from './protocol.errors.js';
import type { PlistDict, PlistLimits, PlistValue } from './plist-types.js';

// A strict, single-pass reader for Apple XML plists. It builds no DOM and never expands a DTD:
// a DOCTYPE with an internal subset is refused, and only the five predefined entities plus numeric
// character references are decoded. Anything outside the plist grammar is an error, never guessed.

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;

const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;
const INTEGER_RE = /^[+-]?\d+$/;
const REAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?Z$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const WHITESPACE_RE = /[\t\n\r ]+/g;
const NAME_START_RE = /[A-Za-z_:]/;
const ATTRIBUTE_NAME_RE = /^[A-Za-z_:][\w.:-]*\s*$/;

interface StartTag {
  name: string;
  selfClosing: boolean;
}

function isXmlWhitespace(c: number): boolean {
  return c === SPACE || c === LF || c === TAB || c === CR;
}

function isAllowedXmlChar(cp: number): boolean {
  return (
    cp === 0x9 ||
    cp === 0xa ||
    cp === 0xd ||
    (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) ||
    (cp >= 0x10000 && cp <= 0x10ffff)
  );
}

function excerpt(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

export function readXmlPlist(source: string, limits: PlistLimits): PlistValue {
  return new XmlPlistReader(source, limits).readDocument();
}

class XmlPlistReader {
  private pos = 0;
  private objects = 0;
  // Position of the next '&' at or after `pos`; cached so text scanning stays linear.
  private nextAmp: number;

  constructor(
    private readonly src: string,
    private readonly limits: PlistLimits,
  ) {
    this.nextAmp = src.indexOf('&');
  }

  readDocument(): PlistValue {
    const s = this.src;

    if (s.charCodeAt(0) === 0xfeff) this.pos = 1;
    if (s.startsWith('<?xml', this.pos)) this.readXmlDeclaration();

    let sawDoctype = false;

    for (;;) {
      this.skipMisc();
      if (!s.startsWith('<!DOCTYPE', this.pos)) break;
      if (sawDoctype) this.fail('PLIST.MALFORMED', 'the document has two DOCTYPE declarations');
      this.readDoctype();
      sawDoctype = true;
    }

    if (this.pos >= s.length) this.fail('PLIST.MALFORMED', 'the document has no root element');
    if (s.charCodeAt(this.pos) !== LT) {
      this.fail('PLIST.MALFORMED', 'the body is not an XML plist (expected "<plist>")');
    }

    const root = this.readStartTag();
    let value: PlistValue;

    if (root.name === 'plist') {
      if (root.selfClosing) this.fail('PLIST.MALFORMED', '<plist/> holds no value');
      this.skipInsignificant();
      if (s.startsWith('</', this.pos)) this.fail('PLIST.MALFORMED', '<plist> holds no value');
      value = this.readValue(this.readStartTag(), 0);
      this.skipInsignificant();
      if (!s.startsWith('</', this.pos)) {
        this.fail('PLIST.MALFORMED', '<plist> must hold exactly one value');
      }
      this.readEndTag('plist');
    } else {
      // Accept a bare root value too: some generators drop the <plist> wrapper.
      value = this.readValue(root, 0);
    }

    this.skipMisc();
    if (this.pos < s.length) {
      this.fail('PLIST.MALFORMED', 'unexpected content after the root element');
    }

    return value;
  }

  private readValue(tag: StartTag, depth: number): PlistValue {
    if (++this.objects > this.limits.maxObjects) {
      this.fail(
        'PLIST.TOO_MANY_OBJECTS',
        `the plist holds more than ${this.limits.maxObjects} values`,
      );
    }

    switch (tag.name) {
      case 'dict':
        return this.readDict(tag, depth + 1);
      case 'array':
        return this.readArray(tag, depth + 1);
      case 'string':
        return tag.selfClosing ? '' : this.readText('string');
      case 'integer':
        return this.parseInteger(tag.selfClosing ? '' : this.readText('integer'));
      case 'real':
        return this.parseReal(tag.selfClosing ? '' : this.readText('real'));
      case 'true':
      case 'false':
        if (!tag.selfClosing && this.readText(tag.name).trim() !== '') {
          this.fail('PLIST.MALFORMED', `<${tag.name}> must be empty`);
        }

        return tag.name === 'true';
      case 'date':
        return this.parseDate(tag.selfClosing ? '' : this.readText('date'));
      case 'data':
        return this.parseData(tag.selfClosing ? '' : this.readText('data'));
      case 'key':
        return this.fail('PLIST.MALFORMED', '<key> is only allowed inside <dict>');
      default:
        return this.fail('PLIST.MALFORMED', `unknown plist element <${tag.name}>`);
    }
  }

  private readDict(tag: StartTag, depth: number): PlistDict {
    this.checkDepth(depth);

    const dict: PlistDict = {};

    if (tag.selfClosing) return dict;

    const s = this.src;

    for (;;) {
      this.skipInsignificant();
      if (s.startsWith('</', this.pos)) break;

      const keyTag = this.readStartTag();

      if (keyTag.name !== 'key') {
        this.fail('PLIST.MALFORMED', `<dict> expects <key>, found <${keyTag.name}>`);
      }

      const key = keyTag.selfClosing ? '' : this.readText('key');

      if (key === '__proto__') {
        this.fail('PLIST.FORBIDDEN_KEY', 'the key "__proto__" is refused');
      }
      if (Object.hasOwn(dict, key)) {
        this.fail('PLIST.MALFORMED', `<dict> repeats the key "${excerpt(key)}"`);
      }

      this.skipInsignificant();
      if (s.startsWith('</', this.pos)) {
        this.fail('PLIST.MALFORMED', `<dict> key "${excerpt(key)}" has no value`);
      }

      const valueTag = this.readStartTag();

      if (valueTag.name === 'key') {
        this.fail('PLIST.MALFORMED', `<dict> key "${excerpt(key)}" has no value`);
      }

      dict[key] = this.readValue(valueTag, depth);
    }

    this.readEndTag('dict');

    return dict;
  }

  private readArray(tag: StartTag, depth: number): PlistValue[] {
    this.checkDepth(depth);

    const array: PlistValue[] = [];

    if (tag.selfClosing) return array;

    const s = this.src;

    for (;;) {
      this.skipInsignificant();
      if (s.startsWith('</', this.pos)) break;
      array.push(this.readValue(this.readStartTag(), depth));
    }

    this.readEndTag('array');

    return array;
  }

  private checkDepth(depth: number): void {
    if (depth > this.limits.maxDepth) {
      this.fail('PLIST.TOO_DEEP', `containers are nested deeper than ${this.limits.maxDepth}`);
    }
  }

  // Reads character data up to `</name>`: entity references, CDATA sections and comments included.
  private readText(name: string): string {
    const s = this.src;
    let out = '';

    for (;;) {
      const lt = s.indexOf('<', this.pos);

      if (lt < 0) this.fail('PLIST.MALFORMED', `<${name}> is not closed`);
      if (this.nextAmp !== -1 && this.nextAmp < this.pos) {
        this.nextAmp = s.indexOf('&', this.pos);
      }
      out +=
        this.nextAmp !== -1 && this.nextAmp < lt
          ? this.decodeEntities(this.pos, lt)
          : s.slice(this.pos, lt);
      this.pos = lt;

      if (s.charCodeAt(lt + 1) === SLASH) {
        this.readEndTag(name);

        return out;
      }
      if (s.startsWith('<![CDATA[', lt)) {
        const end = s.indexOf(']]>', lt + 9);

        if (end < 0) this.fail('PLIST.MALFORMED', 'a CDATA section is not closed');
        out += s.slice(lt + 9, end);
        this.pos = end + 3;
        continue;
      }
      if (s.startsWith('<!--', lt)) {
        this.skipComment();
        continue;
      }

      this.fail('PLIST.MALFORMED', `<${name}> may hold only text`);
    }
  }

  private decodeEntities(from: number, to: number): string {
    const s = this.src;
    let out = '';
    let start = from;
    let amp = s.indexOf('&', from);

    while (amp !== -1 && amp < to) {
      out += s.slice(start, amp);

      const semi = s.indexOf(';', amp);

      if (semi < 0 || semi > to || semi - amp > 12) {
        this.pos = amp;
        this.fail('PLIST.MALFORMED', 'a "&" does not start an entity reference (write "&amp;")');
      }

      out += this.decodeEntity(s.slice(amp + 1, semi), amp);
      start = semi + 1;
      amp = s.indexOf('&', start);
    }

    this.nextAmp = amp;

    return out + s.slice(start, to);
  }

  private decodeEntity(name: string, at: number): string {
    switch (name) {
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'amp':
        return '&';
      case 'quot':
        return '"';
      case 'apos':
        return "'";
    }

    let cp = Number.NaN;

    if (/^#x[0-9A-Fa-f]{1,6}$/.test(name)) cp = parseInt(name.slice(2), 16);
    else if (/^#[0-9]{1,7}$/.test(name)) cp = parseInt(name.slice(1), 10);

    if (Number.isNaN(cp)) {
      this.pos = at;
      this.fail(
        'PLIST.MALFORMED',
        `unknown entity "&${excerpt(name)};" (only &lt; &gt; &amp; &quot; &apos; and numeric ` +
          'references are allowed)',
      );
    }
    if (!isAllowedXmlChar(cp)) {
      this.pos = at;
      this.fail('PLIST.MALFORMED', `"&${name};" is not a character XML allows`);
    }

    return String.fromCodePoint(cp);
  }

  private readStartTag(): StartTag {
    const s = this.src;

    if (s.charCodeAt(this.pos) !== LT) {
      this.fail(
        'PLIST.MALFORMED',
        `unexpected text "${excerpt(s.slice(this.pos, this.pos + 40))}"`,
      );
    }
    if (s.charCodeAt(this.pos + 1) === 0x21 /* ! */) this.refuseDeclaration();

    let i = this.pos + 1;

    while (i < s.length) {
      const c = s.charCodeAt(i);

      if (c === GT || c === SLASH || isXmlWhitespace(c)) break;
      i++;
    }

    const name = s.slice(this.pos + 1, i);

    if (name === '' || !NAME_START_RE.test(name[0] ?? '')) {
      this.fail('PLIST.MALFORMED', 'malformed start tag');
    }

    // Attributes (such as version="1.0") are read past but ignored.
    for (;;) {
      while (i < s.length && isXmlWhitespace(s.charCodeAt(i))) i++;
      if (i >= s.length) break;

      const c = s.charCodeAt(i);

      if (c === GT) {
        this.pos = i + 1;

        return { name, selfClosing: false };
      }
      if (c === SLASH) {
        if (s.charCodeAt(i + 1) !== GT) break;
        this.pos = i + 2;

        return { name, selfClosing: true };
      }

      const eq = s.indexOf('=', i);

      if (eq < 0 || !ATTRIBUTE_NAME_RE.test(s.slice(i, eq))) break;

      let q = eq + 1;

      while (q < s.length && isXmlWhitespace(s.charCodeAt(q))) q++;

      const quote = s[q];

      if (quote !== '"' && quote !== "'") break;

      const close = s.indexOf(quote, q + 1);

      if (close < 0 || s.slice(q + 1, close).includes('<')) break;
      i = close + 1;
    }

    return this.fail('PLIST.MALFORMED', `malformed <${name}> tag`);
  }

  private readEndTag(name: string): void {
    const s = this.src;
    let i = this.pos + 2;

    if (s.startsWith(name, i)) {
      i += name.length;
      while (i < s.length && isXmlWhitespace(s.charCodeAt(i))) i++;
      if (s.charCodeAt(i) === GT) {
        this.pos = i + 1;

        return;
      }
    }

    this.fail('PLIST.MALFORMED', `expected </${name}>`);
  }

  private readXmlDeclaration(): void {
    const end = this.src.indexOf('?>', this.pos);

    if (end < 0) this.fail('PLIST.MALFORMED', 'the XML declaration is not closed');

    const declaration = this.src.slice(this.pos, end);
    const encoding = /encoding\s*=\s*["']([^"']*)["']/.exec(declaration)?.[1];

    if (encoding !== undefined && !/^utf-?8$/i.test(encoding)) {
      this.fail(
        'PLIST.UNSUPPORTED_FORMAT',
        `the XML declaration names encoding "${excerpt(encoding)}"; only UTF-8 is accepted`,
      );
    }

    this.pos = end + 2;
  }

  private readDoctype(): void {
    const s = this.src;
    let quote = 0;

    for (let i = this.pos + 9; i < s.length; i++) {
      const c = s.charCodeAt(i);

      if (quote !== 0) {
        if (c === quote) quote = 0;
      } else if (c === 0x22 || c === 0x27) {
        quote = c;
      } else if (c === 0x5b /* [ */) {
        this.pos = i;
        this.fail(
          'PLIST.FORBIDDEN_DTD',
          'a DOCTYPE with an internal subset is refused; entity declarations are never expanded',
        );
      } else if (c === GT) {
        this.pos = i + 1;

        return;
      }
    }

    this.fail('PLIST.MALFORMED', 'the DOCTYPE declaration is not closed');
  }

  private refuseDeclaration(): never {
    const s = this.src;

    if (/^<!(?:ENTITY|DOCTYPE|ELEMENT|ATTLIST|NOTATION)/.test(s.slice(this.pos, this.pos + 10))) {
      this.fail('PLIST.FORBIDDEN_DTD', 'DTD declarations are refused');
    }

    return this.fail('PLIST.MALFORMED', 'unexpected markup declaration');
  }

  // Whitespace and comments between elements.
  private skipInsignificant(): void {
    const s = this.src;

    for (;;) {
      while (this.pos < s.length && isXmlWhitespace(s.charCodeAt(this.pos))) this.pos++;
      if (!s.startsWith('<!--', this.pos)) return;
      this.skipComment();
    }
  }

  // Whitespace, comments and processing instructions outside the root element.
  private skipMisc(): void {
    const s = this.src;

    for (;;) {
      this.skipInsignificant();
      if (!s.startsWith('<?', this.pos)) return;
      if (s.startsWith('<?xml', this.pos) && isXmlWhitespace(s.charCodeAt(this.pos + 5))) {
        this.fail('PLIST.MALFORMED', 'the XML declaration must come first');
      }

      const end = s.indexOf('?>', this.pos);

      if (end < 0) this.fail('PLIST.MALFORMED', 'a processing instruction is not closed');
      this.pos = end + 2;
    }
  }

  private skipComment(): void {
    const end = this.src.indexOf('-->', this.pos + 4);

    if (end < 0) this.fail('PLIST.MALFORMED', 'a comment is not closed');
    this.pos = end + 3;
  }

  private parseInteger(text: string): number | bigint {
    const t = text.trim();

    if (!INTEGER_RE.test(t)) {
      this.fail('PLIST.MALFORMED', `<integer> holds "${excerpt(t)}", which is not an integer`);
    }
    if (t.length <= 16) {
      const n = Number(t);

      if (Number.isSafeInteger(n)) return n === 0 ? 0 : n;
    }

    // Bound the digit count before BigInt() so a huge literal cannot cost quadratic time.
    const digits = t.replace(/^[+-]?0*/, '');

    if (digits.length > 20) {
      this.fail('PLIST.MALFORMED', `<integer> ${excerpt(t)} is outside the 64-bit range`);
    }

    const value = BigInt(t);

    if (value < INT64_MIN || value > UINT64_MAX) {
      this.fail('PLIST.MALFORMED', `<integer> ${t} is outside the 64-bit range`);
    }

    return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  }

  private parseReal(text: string): number {
    const t = text.trim();

    switch (t.toLowerCase()) {
      case 'nan':
      case '+nan':
      case '-nan':
        return Number.NaN;
      case 'inf':
      case '+inf':
      case 'infinity':
      case '+infinity':
        return Number.POSITIVE_INFINITY;
      case '-inf':
      case '-infinity':
        return Number.NEGATIVE_INFINITY;
    }

    if (!REAL_RE.test(t)) {
      this.fail('PLIST.MALFORMED', `<real> holds "${excerpt(t)}", which is not a number`);
    }

    return Number(t);
  }

  private parseDate(text: string): Date {
    const t = text.trim();
    const m = DATE_RE.exec(t);

    if (m !== null) {
      const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number) as [
        number,
        number,
        number,
        number,
        number,
        number,
      ];
      const ms = m[7] === undefined ? 0 : Math.floor(Number(`0${m[7]}`) * 1000);
      const date = new Date(0);

      date.setUTCFullYear(y, mo - 1, d);
      date.setUTCHours(h, mi, sec, ms);

      // The setters roll 2024-02-30 over to March; comparing the fields back catches it.
      if (
        date.getUTCFullYear() === y &&
        date.getUTCMonth() === mo - 1 &&
        date.getUTCDate() === d &&
        date.getUTCHours() === h &&
        date.getUTCMinutes() === mi &&
        date.getUTCSeconds() === sec
      ) {
        return date;
      }
    }

    return this.fail('PLIST.MALFORMED', `<date> holds "${excerpt(t)}", not YYYY-MM-DDTHH:MM:SSZ`);
  }

  private parseData(text: string): Uint8Array {
    const compact = text.replace(WHITESPACE_RE, '');

    if (!BASE64_RE.test(compact) || compact.length % 4 === 1) {
      this.fail('PLIST.MALFORMED', '<data> is not valid base64');
    }

    // Copy out of Buffer's shared pool so callers own plain, independent bytes.
    return new Uint8Array(Buffer.from(compact, 'base64'));
  }

  private fail(code: PlistErrorCode, reason: string): never {
    let line = 1;
    let column = 1;

    for (let i = 0; i < this.pos && i < this.src.length; i++) {
      if (this.src.charCodeAt(i) === LF) {
        line++;
        column = 1;
      } else {
        column++;
      }
    }

    throw new PlistError(code, `XML plist rejected at line ${line}, column ${column}: ${reason}`);
  }
}
