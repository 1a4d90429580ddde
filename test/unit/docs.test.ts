/**
 * The docs hold together: README.md and every page under docs/ have no heading twice (outside
 * code), and every relative link among them resolves, to a file that exists and, with an
 * #anchor, to a heading of that file as GitHub names it.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const DOCS = path.join(ROOT, 'docs');
const PAGES = [
  'README.md',
  ...fs
    .readdirSync(DOCS)
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f)),
];

/** the lines of a Markdown file outside fenced code blocks, with their line numbers */
function proseLines(text: string): { line: string; n: number }[] {
  const out: { line: string; n: number }[] = [];
  let fence: string | null = null;
  text.split('\n').forEach((line, i) => {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (open && open[1][0] === fence[0] && open[1].length >= fence.length && line.trim() === open[1]) fence = null;
      return;
    }
    if (open) {
      fence = open[1];
      return;
    }
    out.push({ line, n: i + 1 });
  });
  return out;
}

/** GitHub's anchor for a heading: its text as rendered, lower case, punctuation dropped, spaces as hyphens */
export function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // links and images: their text
    .replace(/<[^>]+>/g, '') // inline HTML
    .replace(/`([^`]*)`/g, '$1') // code spans: their content
    .replace(/(\*\*|__|\*|_)(?=\S)([^*_]*?\S)\1/g, '$2'); // emphasis
  return text
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

function headings(file: string): { text: string; slug: string; n: number }[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  return proseLines(text)
    .map(({ line, n }) => ({ m: /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line), n }))
    .filter((h): h is { m: RegExpExecArray; n: number } => h.m !== null)
    .map(({ m, n }) => ({ text: m[1], slug: slug(m[1]), n }));
}

/** a file's anchors as GitHub makes them: a repeated slug gets -1, -2, … */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const h of headings(file)) {
    const count = seen.get(h.slug) ?? 0;
    out.add(count === 0 ? h.slug : `${h.slug}-${count}`);
    seen.set(h.slug, count + 1);
  }
  return out;
}

/** every link and image target in a file's prose (not in code), with its line */
function links(file: string): { target: string; n: number }[] {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const out: { target: string; n: number }[] = [];
  for (const { line, n } of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], n });
    for (const m of prose.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/g)) out.push({ target: m[1], n });
  }
  return out;
}

const external = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

describe.each(PAGES)('%s', (file) => {
  test('no heading repeats', () => {
    const bySlug = new Map<string, number[]>();
    for (const h of headings(file)) bySlug.set(h.slug, [...(bySlug.get(h.slug) ?? []), h.n]);
    const repeated = [...bySlug]
      .filter(([, lines]) => lines.length > 1)
      .map(([s, lines]) => `#${s} on lines ${lines.join(', ')}`);
    expect(repeated).toEqual([]);
  });

  test('every relative link and anchor resolves', () => {
    const broken: string[] = [];
    for (const { target, n } of links(file)) {
      if (external(target)) continue;
      const [rawPath, anchor] = target.split('#', 2) as [string, string | undefined];
      const pathPart = decodeURIComponent(rawPath);
      const resolved = pathPart === '' ? file : path.join(path.dirname(file), pathPart);
      if (!fs.existsSync(path.join(ROOT, resolved))) {
        broken.push(`line ${n}: ${target} (no file ${resolved})`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchors(resolved).has(decodeURIComponent(anchor))) {
        broken.push(`line ${n}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });
});

test('the README is a short entry: at most 300 lines, with a map of every page under docs/', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  expect(readme.split('\n').length).toBeLessThanOrEqual(300);
  const linked = new Set(links('README.md').map(({ target }) => target.split('#')[0]));
  const unlinked = PAGES.filter((p) => p !== 'README.md' && !linked.has(p));
  expect(unlinked).toEqual([]);
});

test('slugs follow GitHub: code spans kept, punctuation dropped, spaces as hyphens', () => {
  expect(slug("One clock: Redis's")).toBe('one-clock-rediss');
  expect(slug('The abacus: a running sum shared by every API node (seed 003)')).toBe(
    'the-abacus-a-running-sum-shared-by-every-api-node-seed-003',
  );
  expect(slug('`wizard up` and `--redis_url`')).toBe('wizard-up-and---redis_url');
  expect(slug('Deploying: compose and Kubernetes')).toBe('deploying-compose-and-kubernetes');
});
