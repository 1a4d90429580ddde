import fs from 'node:fs';
import path from 'node:path';

let root: string | null = null;

/** the folder holding wizard's package.json, whether running from src/ (tests) or dist/ */
export function packageRoot(): string {
  if (root) return root;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`package.json not found above ${__dirname}`);
    dir = up;
  }
  root = dir;
  return dir;
}

/** a file shipped with the package, by its path from the package root */
export function assetPath(...parts: string[]): string {
  return path.join(packageRoot(), ...parts);
}

let version: string | null = null;

/** wizard's version: its package.json's */
export function packageVersion(): string {
  version ??= (JSON.parse(fs.readFileSync(assetPath('package.json'), 'utf8')) as { version: string }).version;
  return version;
}
