import { describe, expect, it } from 'vitest';
import { duplicateKeys } from './duplicate-keys.js';

describe('duplicateKeys', () => {
  it.each([
    ['{"a":1,"b":2}', []],
    ['{"site":"dc1","msg":"x","site":"dc1"}', ['site']],
    ['{"a":{"b":1,"b":2},"c":[{"d":1,"d":2}]}', ['a.b', 'c[0].d']],
    ['{"s":"a \\" \\\\ b","n":-1.5e3,"t":true,"z":null,"e":{},"l":[]}', []],
  ])('%s → %j', (text, dups) => {
    expect(duplicateKeys(text)).toEqual(dups);
  });

  it('refuses text that is not JSON', () => {
    expect(() => duplicateKeys('{"a":1,}')).toThrow(/not JSON/);
    expect(() => duplicateKeys('{"a":1} x')).toThrow(/trailing/);
  });
});
