/** Prometheus's own linter (`promtool check metrics`) on a /metrics text. */
import { spawnSync } from 'node:child_process';

const PROMTOOL = process.env.WIZARD_PROMTOOL ?? '/usr/bin/promtool';

export function promtool(text: string): { code: number | null; output: string } {
  const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error)
    throw new Error(`cannot run ${PROMTOOL} (apt-get install prometheus, or set WIZARD_PROMTOOL): ${r.error.message}`);
  return { code: r.status, output: r.stdout + r.stderr };
}
