/**
 * @file Plots render headless in Node (no canvas, no browser) to well-formed SVG carrying the titles, axis
 * labels and series names, with awkward characters escaped.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { barChartSvg, groupedBarChartSvg, lossCurveSvg, writeSvg } from '../src/io/index.ts';

const ENTITY = /&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;

/** A small XML well-formedness check: balanced tags, quoted attributes, escaped `&` and `<`, one root. */
function expectWellFormedXml(xml: string): void {
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[A-Za-z_][\w:.-]*="[^"<]*")*)\s*(\/?)>/y;
  const text = /[^<]*/y;
  const stack: string[] = [];
  let roots = 0;
  let i = 0;
  while (i < xml.length) {
    text.lastIndex = i;
    const t = text.exec(xml)![0];
    if (ENTITY.test(t)) throw new Error(`unescaped & in text near ${i}: ${t.slice(0, 60)}`);
    if (stack.length === 0 && t.trim() !== '') throw new Error(`text outside the root at ${i}`);
    i += t.length;
    if (i >= xml.length) break;
    tag.lastIndex = i;
    const m = tag.exec(xml);
    if (!m) throw new Error(`malformed markup at ${i}: ${xml.slice(i, i + 80)}`);
    const [, closing, name, attrs, selfClosing] = m;
    if (ENTITY.test(attrs)) throw new Error(`unescaped & in attributes of <${name}>`);
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${i}`);
    } else {
      if (stack.length === 0) roots++;
      if (!selfClosing) stack.push(name);
    }
    i += m[0].length;
  }
  expect(stack).toEqual([]);
  expect(roots).toBe(1);
}

/** The text content of every <text> element, unescaped. */
const texts = (svg: string) =>
  [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) =>
    m[1].replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&amp;', '&'),
  );

describe('plots', () => {
  it('has a well-formedness check that catches broken markup', () => {
    expectWellFormedXml('<svg a="1"><g/><text>a &amp; b</text></svg>');
    for (const bad of [
      '<svg><g></svg>',
      '<svg>a & b</svg>',
      '<svg a=1></svg>',
      '<svg></svg><svg></svg>',
      '<svg>',
    ]) {
      expect(() => expectWellFormedXml(bad), bad).toThrow();
    }
  });

  it('draws one line per series with axis titles and a legend', async () => {
    const svg = await lossCurveSvg(
      [
        {
          name: 'train <bpe & char>',
          points: [0, 1, 2, 3].map((s) => ({ step: s * 10, loss: 4 / (s + 1) })),
        },
        {
          name: 'validation',
          points: [
            { step: 10, loss: 2.5 },
            { step: 30, loss: Number.NaN },
          ],
        },
        { name: 'empty', points: [] },
      ],
      'Loss "tiny" model',
    );
    expect(svg.startsWith('<svg')).toBe(true);
    expectWellFormedXml(svg);
    const t = texts(svg);
    for (const s of ['Loss "tiny" model', 'step', 'loss', 'series', 'train <bpe & char>', 'validation']) {
      expect(t).toContain(s);
    }
    expect(svg.match(/class="mark-line role-mark/g)).toHaveLength(2);
  });

  it('supports a log-scale loss axis', async () => {
    const svg = await lossCurveSvg(
      [{ name: 'run', points: [1, 10, 100].map((s) => ({ step: s, loss: 100 / s })) }],
      'log',
      {
        logY: true,
      },
    );
    expectWellFormedXml(svg);
    expect(texts(svg)).toEqual(expect.arrayContaining(['1', '10', '100']));
  });

  it('draws bars in the given order with error bars where given', async () => {
    const svg = await barChartSvg(
      [
        { group: 'zeta', value: 0.81, error: 0.02 },
        { group: 'alpha & co', value: 0.74 },
        { group: 'mid', value: 0.9, error: 0.05 },
      ],
      { title: 'POS accuracy', yLabel: 'accuracy', xLabel: 'tokenizer' },
    );
    expectWellFormedXml(svg);
    const t = texts(svg);
    for (const s of ['POS accuracy', 'accuracy', 'tokenizer']) expect(t).toContain(s);
    const groups = t.filter((s) => ['zeta', 'alpha & co', 'mid'].includes(s));
    expect(groups).toEqual(['zeta', 'alpha & co', 'mid']);
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(3);
    expect(svg.match(/aria-roledescription="errorbar"/g)).toHaveLength(2);
  });

  it('draws grouped bars, one color per series, on a log axis when asked', async () => {
    const svg = await groupedBarChartSvg(
      [
        { group: '512³', series: 'ours', value: 24 },
        { group: '512³', series: 'tfjs <wasm>', value: 30 },
        { group: '1024³', series: 'ours', value: 32 },
        { group: '1024³', series: 'tfjs <wasm>', value: 0.9 },
        { group: '1024³', series: 'skipped', value: 0 },
      ],
      { title: 'matmul', yLabel: 'GFLOP/s', logY: true },
    );
    expectWellFormedXml(svg);
    const t = texts(svg);
    expect(t.filter((s) => ['512³', '1024³'].includes(s))).toEqual(['512³', '1024³']);
    for (const s of ['ours', 'tfjs <wasm>', 'GFLOP/s']) expect(t).toContain(s);
    // A zero cannot sit on a log axis: that bar is left out, not drawn at a made-up height.
    expect(svg.match(/aria-roledescription="bar"/g)).toHaveLength(4);
    expect(t).not.toContain('skipped');
  });

  it('writes the SVG file atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reprise-io-plot-'));
    try {
      const svg = await barChartSvg([{ group: 'a', value: 1 }], { title: 't', yLabel: 'y' });
      writeSvg(join(dir, 'bars.svg'), svg);
      expect(readFileSync(join(dir, 'bars.svg'), 'utf8')).toBe(svg);
      expect(readdirSync(dir)).toEqual(['bars.svg']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
