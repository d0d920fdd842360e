import { describe, expect, it } from 'vitest';
import { brownBaseTag, tagIn, universalTag } from '../src/data/tagsets.ts';

describe('brownBaseTag', () => {
  it('removes title, headline and cited suffixes, however many, on each compound part', () => {
    expect(brownBaseTag('np-tl')).toBe('np');
    expect(brownBaseTag('nn-tl-hl')).toBe('nn');
    expect(brownBaseTag('nns$-tl-hl')).toBe('nns$');
    expect(brownBaseTag('ppss+bem-tl')).toBe('ppss+bem');
    expect(brownBaseTag('np+hvz-nc')).toBe('np+hvz');
    expect(brownBaseTag('---hl')).toBe('--');
    expect(brownBaseTag('*-tl')).toBe('*');
  });

  it('removes the foreign-word prefix and lower-cases, keeping compounds and negation', () => {
    expect(brownBaseTag('fw-in+nn-tl')).toBe('in+nn');
    expect(brownBaseTag('FW-NN-TL-NC')).toBe('nn');
    expect(brownBaseTag('do*')).toBe('do*');
    expect(brownBaseTag('pp$$')).toBe('pp$$');
  });
});

describe('universalTag', () => {
  it('maps case-insensitively', () => {
    expect(universalTag('np-tl')).toBe('NOUN');
    expect(universalTag('PPSS+BEM')).toBe('PRT');
    expect(universalTag('fw-in+at-tl')).toBe('X');
    expect(universalTag("''")).toBe('.');
    expect(universalTag('vbd')).toBe('VERB');
  });

  it('names a missing tag', () => {
    expect(() => universalTag('xyz')).toThrow(/'xyz'/);
  });

  it('is chosen by tag set', () => {
    expect(tagIn('brown', 'nn-tl')).toBe('nn');
    expect(tagIn('universal', 'nn-tl')).toBe('NOUN');
  });
});
