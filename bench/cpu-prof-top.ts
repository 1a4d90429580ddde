/**
 * node dist/bench/cpu-prof-top.js [--skip-ms=MS] FILE.cpuprofile... [TOP]: the functions with the most self time in
 * a V8 CPU profile (`node --cpu-prof`), and the same time summed by where the code lives (a
 * package under node_modules, a directory of this repository, Node's own internals, the garbage
 * collector, idle). Prints one JSON object per file. Idle time is left out of the percentages:
 * they are shares of the time the process was busy. --skip-ms leaves out the profile's first MS
 * milliseconds (a process's start: loading its modules).
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** where a function's code lives: `bullmq`, `src/store`, `node:internal`, `(garbage collector)` … */
function placeOf(url: string, name: string): string {
  if (!url) return name.startsWith('(') ? name : '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url.split('/')[0];
  const own = /\/dist\/((?:src|bench|test)(?:\/[^/]+)?)\//.exec(url);
  return own ? own[1] : url;
}

export function summarise(profile: Profile, top = 25, skipMs = 0) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  let at = 0;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    if (at >= skipMs * 1000) self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const fns = new Map<string, { us: number; place: string }>();
  const places = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const place = placeOf(url, functionName);
    const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    fns.set(key, { us: (fns.get(key)?.us ?? 0) + us, place });
    places.set(place, (places.get(place) ?? 0) + us);
  }
  const pct = (us: number) => Math.round((us / busy) * 1000) / 10;
  const sorted = <T>(m: Map<string, T>, us: (v: T) => number) => [...m].sort((a, b) => us(b[1]) - us(a[1]));
  return {
    wall_ms: Math.round((profile.endTime - profile.startTime) / 1000 - skipMs),
    busy_ms: Math.round(busy / 1000),
    by_place_pct: Object.fromEntries(
      sorted(places, (v) => v)
        .slice(0, 15)
        .map(([k, v]) => [k, pct(v)]),
    ),
    top_self_pct: sorted(fns, (v) => v.us)
      .slice(0, top)
      .map(([k, v]) => `${pct(v.us)}% ${k}`),
  };
}

if (require.main === module) {
  const skip = process.argv.find((a) => a.startsWith('--skip-ms='));
  const args = process.argv.slice(2).filter((a) => a !== skip);
  const top = /^\d+$/.test(args[args.length - 1] ?? '') ? Number(args.pop()) : 25;
  for (const file of args) {
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
    process.stdout.write(
      JSON.stringify({ file, ...summarise(profile, top, Number(skip?.split('=')[1] ?? 0)) }, null, 2) + '\n',
    );
  }
}
