import { codePointPrefix } from '../../../shared/src/text';

/** A lone surrogate: with the u flag a pair is one code point, so only a half alone matches. */
const LONE_SURROGATE = /\p{Surrogate}/u;

describe('codePointPrefix', () => {
  it('cuts before a surrogate pair the cut would split, and keeps one that ends at the cut', () => {
    // '😀' is U+1F600, two code units.
    expect(codePointPrefix('ab😀cd', 3)).toBe('ab');
    expect(codePointPrefix('ab😀cd', 4)).toBe('ab😀');
    expect(codePointPrefix('ab😀cd', 5)).toBe('ab😀c');
  });

  it('answers a text no longer than the cut whole, and cuts any other at the cut', () => {
    expect(codePointPrefix('abc', 3)).toBe('abc');
    expect(codePointPrefix('abcd', 3)).toBe('abc');
    expect(codePointPrefix('😀', 1)).toBe('');
    expect(codePointPrefix('abc', 0)).toBe('');
  });

  it('leaves no lone surrogate at the end of any cut of a text of whole characters', () => {
    const text = 'a😀bc𝄞𝄞é中文🇫🇷!'.repeat(3);
    for (let max = 0; max <= text.length + 1; max++) {
      const cut = codePointPrefix(text, max);
      expect(cut.length).toBeGreaterThanOrEqual(Math.min(max, text.length) - 1);
      expect(cut.length).toBeLessThanOrEqual(max);
      expect(text.startsWith(cut)).toBe(true);
      expect(LONE_SURROGATE.test(cut)).toBe(false);
    }
  });
});
