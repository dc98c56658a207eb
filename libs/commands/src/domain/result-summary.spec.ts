import { errorsFromChain, toJsonFacts } from './result-summary.js';

describe('result summary', () => {
  describe('error chain', () => {
    it('keeps code, domain and description of every level, top error first', () => {
      const chain = [
        {
          ErrorCode: 12021,
          ErrorDomain: 'MCMDMErrorDomain',
          LocalizedDescription: 'Top',
          USEnglishDescription: 'Top',
        },
        { ErrorCode: -909, ErrorDomain: 'NSOSStatusErrorDomain', LocalizedDescription: 'Cause' },
      ];

      expect(errorsFromChain(chain)).toEqual([
        { code: 12021, domain: 'MCMDMErrorDomain', description: 'Top' },
        { code: -909, domain: 'NSOSStatusErrorDomain', description: 'Cause' },
      ]);
    });

    it('falls back to the US English description', () => {
      expect(errorsFromChain([{ USEnglishDescription: 'only english' }])).toEqual([
        { description: 'only english' },
      ]);
    });

    it('leaves out mistyped fields and skips entries that are not dictionaries (B19)', () => {
      const chain = [{ ErrorCode: '12', ErrorDomain: 7, LocalizedDescription: ['x'] }, 'junk', 5];

      expect(errorsFromChain(chain)).toEqual([{}]);
    });

    it('accepts an integer error code decoded as bigint', () => {
      expect(errorsFromChain([{ ErrorCode: 42n }])).toEqual([{ code: 42 }]);
    });

    it('answers no chain with an empty list', () => {
      expect(errorsFromChain(undefined)).toEqual([]);
      expect(errorsFromChain({ ErrorCode: 1 })).toEqual([]);
    });
  });

  describe('facts', () => {
    it('turns NaN and infinities into null (B19)', () => {
      expect(toJsonFacts({ level: Number.NaN, size: Number.POSITIVE_INFINITY, ok: 0.5 })).toEqual({
        level: null,
        size: null,
        ok: 0.5,
      });
    });

    it('keeps big integers exact as strings', () => {
      expect(toJsonFacts({ big: 2n ** 64n, small: 23048830844n })).toEqual({
        big: '18446744073709551616',
        small: 23048830844,
      });
    });

    it('writes dates as ISO strings and drops raw bytes', () => {
      const facts = toJsonFacts({
        at: new Date('2018-01-01T00:00:00Z'),
        certificate: new Uint8Array([1, 2]),
        list: [new Uint8Array([3]), 'kept'],
      });

      expect(facts).toEqual({ at: '2018-01-01T00:00:00.000Z', list: ['kept'] });
    });

    it('survives a JSON round trip unchanged', () => {
      const facts = toJsonFacts({ nested: { a: [1, 'two', true, null, { b: Number.NaN }] } });

      expect(JSON.parse(JSON.stringify(facts))).toEqual(facts);
    });

    it('gives nothing for a value that is not a dictionary', () => {
      expect(toJsonFacts(['a'])).toBeUndefined();
      expect(toJsonFacts('a')).toBeUndefined();
    });
  });
});
