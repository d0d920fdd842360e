/**
 * The repository is self-contained: no source, script or document sends the reader to notes that are not in it,
 * every `docs/….md` a comment cites exists, and every relative link in the markdown (with its #anchor) resolves.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../..');
const SKIP_DIRS = new Set(['node_modules', '.git', '.gpu', 'runs', 'dist']);
const TEXT = /\.(ts|mjs|js|sh|py|json|md|yml|yaml)$/;

function files(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) files(join(dir, entry.name), out);
    } else if (TEXT.test(entry.name)) out.push(join(dir, entry.name));
  }
  return out;
}

const all = files(root);
const markdown = all.filter((f) => f.endsWith('.md'));

/** Lines of `file` matching `pattern`, as "path:line: text". */
function hits(file: string, pattern: RegExp): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => (pattern.test(line) ? [`${relative(root, file)}:${i + 1}: ${line.trim()}`] : []));
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2, … */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  let fenced = false;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (!heading) continue;
    const slug = heading[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return out;
}

describe('the repository is self-contained', () => {
  it('nothing cites the working notes that live outside the repository', () => {
    // Built from parts so that this file does not match itself.
    const names = ['runtime', 'paper', 'brown', 'gpu', 'design', 'anchors'].map(
      (n) => `${n.toUpperCase()}\\.md`,
    );
    const pattern = new RegExp(`\\b(${names.join('|')})\\b|shared/${'notes'}`);
    expect(all.flatMap((f) => hits(f, pattern))).toEqual([]);
  });

  it('every docs/….md that code, scripts or documents cite exists', () => {
    const missing = all.flatMap((f) =>
      [...readFileSync(f, 'utf8').matchAll(/\bdocs\/[\w./-]+?\.md\b/g)]
        .map((m) => m[0])
        .filter((path) => !existsSync(join(root, path)))
        .map((path) => `${relative(root, f)} cites ${path}`),
    );
    expect(missing).toEqual([]);
  });

  it('every relative markdown link resolves, anchors included', () => {
    const broken: string[] = [];
    for (const file of markdown) {
      const text = readFileSync(file, 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target!)) continue; // https:, mailto:
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = path === '' ? file : join(dirname(file), path);
        if (!existsSync(resolved)) broken.push(`${relative(root, file)}: ${target} (no such file)`);
        else if (anchor && resolved.endsWith('.md') && !anchors(resolved).has(anchor))
          broken.push(`${relative(root, file)}: ${target} (no heading with that anchor)`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('the anchor rule matches GitHub on headings with code and punctuation', () => {
    expect(anchors(join(root, 'docs/runtime.md'))).toContain('which-software-adapter-auto-picks');
    expect(anchors(join(root, 'docs/runtime.md'))).toContain('the-tfjs-gpt-the-end-to-end-peer');
  });
});
