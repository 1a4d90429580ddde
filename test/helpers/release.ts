/**
 * The previous release, built from its git tag for tests that run it beside this version
 * (test/e2e/rolling-upgrade.test.ts). The tag is the newest `v*` tag before HEAD (HEAD^, so a
 * release commit finds the one before it), or WIZARD_PREVIOUS_RELEASE (a tag or a commit). Its
 * tree is taken with `git archive` and built once per commit under
 * node_modules/.cache/wizard-release-<sha>: later runs reuse it. Its node_modules is this
 * checkout's (a symlink) when every package its lock names is in this lock at the same version,
 * else its own (`npm ci --prefer-offline`).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../src/util/package-root';

export interface Release {
  /** the tag (or commit) asked for, and the commit it names */
  name: string;
  sha: string;
  /** its package.json version */
  version: string;
  /** its bin/wizard */
  bin: string;
}

const git = (args: string[]) => execFileSync('git', ['-C', packageRoot(), ...args], { encoding: 'utf8' }).trim();

/** v0.1.0's commit: the release a clone without its tags still has in its history */
const V0_1_0 = 'd5734aa';

/**
 * the release before this checkout: WIZARD_PREVIOUS_RELEASE, or the newest v* tag reachable from
 * HEAD^, or (a clone that came without its tags) v0.1.0's commit
 */
export function previousRelease(): string {
  if (process.env.WIZARD_PREVIOUS_RELEASE) return process.env.WIZARD_PREVIOUS_RELEASE;
  try {
    return git(['describe', '--tags', '--abbrev=0', '--match', 'v[0-9]*', 'HEAD^']);
  } catch {
    try {
      git(['merge-base', '--is-ancestor', V0_1_0, 'HEAD']);
      return V0_1_0;
    } catch {
      // neither a tag nor the commit: a shallow clone
    }
    throw new Error(
      'no release tag (v*) before HEAD: fetch the tags (git fetch --tags; a shallow clone: --unshallow), or set WIZARD_PREVIOUS_RELEASE',
    );
  }
}

type Lock = { packages: Record<string, { version?: string }> };

/** every package the other lock installs is installed here at the same version */
function locksCompatible(theirs: Lock, ours: Lock): boolean {
  return Object.entries(theirs.packages).every(
    ([where, p]) => where === '' || ours.packages[where]?.version === p.version,
  );
}

/** build the release `name` (a tag or commit) once, under node_modules/.cache; answers where it is */
export function buildRelease(name = previousRelease()): Release {
  const root = packageRoot();
  const sha = git(['rev-parse', '--verify', `${name}^{commit}`]);
  const dir = path.join(root, 'node_modules', '.cache', `wizard-release-${sha}`);
  const bin = path.join(dir, 'bin', 'wizard');
  const version = () =>
    (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
  if (fs.existsSync(path.join(dir, '.built'))) return { name, sha, version: version(), bin };

  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  try {
    execFileSync('sh', ['-c', `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, 'sh', root, sha, tmp]);
    const lock = (at: string) => JSON.parse(fs.readFileSync(path.join(at, 'package-lock.json'), 'utf8')) as Lock;
    if (locksCompatible(lock(tmp), lock(root)))
      fs.symlinkSync(path.join(root, 'node_modules'), path.join(tmp, 'node_modules'));
    else
      execFileSync('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: tmp,
        stdio: 'ignore',
        env: { ...process.env, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' },
      });
    execFileSync(
      process.execPath,
      [path.join(tmp, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      {
        cwd: tmp,
        stdio: 'ignore',
      },
    );
    fs.writeFileSync(path.join(tmp, '.built'), `${name} ${sha}\n`);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return { name, sha, version: version(), bin };
}
