/**
 * Help that fits the width (the terminal's; when not on a terminal, $COLUMNS, else 80), and for
 * the roles with many options, help in groups, as git's is:
 *
 *   wizard up --help            the common options, then the names of the other groups
 *   wizard up --help <group>    one group's options (store, security, batch, datalake)
 *   wizard up --help-all        every option, under its group's heading
 *
 * Each group's options are named here, by flag (GROUP_FLAGS); a command folds the groups its short
 * help leaves out (foldGroups), and its other grouped options show under their group's heading.
 * main() takes `--help <group>` and `--help-all` from the arguments (takeHelpRequest) before
 * commander parses them.
 */
import { Command, Help, Option } from 'commander';
import { UsageError } from '../core/errors';
import { outputColumns, wrapLine } from '../client/ui';

/** the option groups: what `--help <group>` is called with, the heading, what the group holds */
export const HELP_GROUPS = {
  store: { heading: 'Store options:', what: 'Redis auth, TLS, Sentinel, shards, durability, timeouts, expiry' },
  security: {
    heading: 'Security options:',
    what: 'API tokens, rate limit, quotas, bounds, queues, CORS, hosts, connections, HTTPS',
  },
  batch: { heading: 'Bot batch options:', what: "seed 004's batches and bots: interval, size, type, timing" },
  datalake: { heading: 'Datalake options:', what: 'what the datalake records, for how long, and where its files live' },
} as const;
export type HelpGroup = keyof typeof HELP_GROUPS;

/** the options of each group, by flag; the others of a command are its common ones */
const GROUP_FLAGS: Record<HelpGroup, string[]> = {
  store: [
    '--shards',
    '--result-ttl-ms',
    '--event-retention-ms',
    '--redis-password-file',
    '--redis-ca',
    '--redis-cert',
    '--redis-key',
    '--redis-sentinel',
    '--redis-master',
    '--redis-sentinel-user',
    '--redis-sentinel-password',
    '--redis-sentinel-password-file',
    '--redis-sentinel-tls',
    '--durability',
    '--durability-timeout-ms',
    '--store-timeout-ms',
  ],
  security: [
    '--api-tokens',
    '--tokens-file',
    '--insecure',
    '--rate-limit-max',
    '--rate-limit-window-ms',
    '--cors-origins',
    '--allowed-hosts',
    '--max-connections',
    '--trust-proxy',
    '--tls-cert',
    '--tls-key',
    '--queues',
    '--max-duration-ms',
    '--max-attempts',
    '--max-delay-ms',
    '--quota-jobs',
    '--quota-cpu-seconds',
    '--quota-streams',
  ],
  batch: [
    '--populate-interval-ms',
    '--batch-size',
    '--job-type',
    '--job-params',
    '--processing-duration-ms',
    '--failure-rate',
    '--bot-queue',
    '--bot-down-after-ms',
    '--heartbeat-interval-ms',
    '--leader-lease-ms',
  ],
  datalake: ['--datalake', '--datalake-retention-days', '--datalake-dir'],
};

const isGroup = (s: string | undefined): s is HelpGroup => s !== undefined && Object.hasOwn(HELP_GROUPS, s);
const groupOf = (o: Option): HelpGroup | undefined =>
  (Object.keys(GROUP_FLAGS) as HelpGroup[]).find((g) => o.long !== undefined && GROUP_FLAGS[g].includes(o.long));

/** the groups each command's short help folds away */
const folded = new WeakMap<Command, HelpGroup[]>();

/** a command whose --help shows its common options and names these groups (see the header); its grouped options get their heading */
export function foldGroups(cmd: Command, groups: HelpGroup[]): Command {
  for (const o of cmd.options) {
    const g = groupOf(o);
    if (g) o.helpGroup(HELP_GROUPS[g].heading);
  }
  folded.set(cmd, groups);
  return cmd.helpOption('-h, --help [group]', 'this help; with a group, only its options');
}

/** what was asked for: a group, every option, or the short help */
let request: { group?: HelpGroup; all?: boolean } = {};

/**
 * the arguments with `--help <group>` and `--help-all` made a plain `--help` (remembered for the
 * help of the command they reach); a word after --help that names no group is left as it was
 */
export function takeHelpRequest(argv: string[]): string[] {
  request = {};
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === '--help-all') {
      request.all = true;
      out.push('--help');
    } else if ((a === '--help' || a === '-h') && isGroup(argv[i + 1])) {
      request.group = argv[++i] as HelpGroup;
      out.push(a);
    } else {
      out.push(a);
    }
  }
  return out;
}

const HELP_ALL = new Option('--help-all', 'every option, under its group');

/** the folded groups this command has options in */
const groupsIn = (cmd: Command, groups: HelpGroup[]) => groups.filter((g) => cmd.options.some((o) => groupOf(o) === g));

/** a heading and items ([term, text]) as help prints them, each item wrapped under its text */
export function helpList(heading: string, items: [string, string][], columns = outputColumns()): string {
  const termWidth = Math.max(...items.map(([t]) => t.length));
  const lines = items.flatMap(([term, text]) =>
    wrapLine(`  ${term.padEnd(termWidth)}  ${text}`, columns, termWidth + 4),
  );
  return ['', ...wrapLine(heading, columns), ...lines].join('\n');
}

/** the least room for an option's text beside its term: with less, the text goes under the term */
const MIN_TEXT_WIDTH = 40;

const help = {
  /** commander wraps nothing narrower than this: on a narrow terminal, text under its term still wraps */
  minWidthToWrap: 20,

  visibleOptions(this: Help, cmd: Command): Option[] {
    const all = Help.prototype.visibleOptions.call(this, cmd);
    const groups = folded.get(cmd);
    if (!groups) return all;
    if (request.all) return [...all, HELP_ALL];
    if (request.group) return all.filter((o) => groupOf(o) === request.group);
    return [...all.filter((o) => !groups.includes(groupOf(o)!)), HELP_ALL];
  },

  formatHelp(this: Help, cmd: Command, helper: Help): string {
    const groups = folded.get(cmd);
    const text = Help.prototype.formatHelp.call(this, cmd, helper);
    if (!groups) return text;
    const have = groupsIn(cmd, groups);
    const name = `wizard ${cmd.name()}`;
    if (request.group && !groupsIn(cmd, Object.keys(HELP_GROUPS) as HelpGroup[]).includes(request.group)) {
      throw new UsageError(
        `--help ${request.group}: ${name} has no ${request.group} options; its groups are ${have.join(', ')} (or --help-all)`,
      );
    }
    if (request.all || request.group) return text;
    const items: [string, string][] = have.map((g) => [
      g,
      `${HELP_GROUPS[g].what} (${cmd.options.filter((o) => groupOf(o) === g).length})`,
    ]);
    return `${text.trimEnd()}\n${helpList(`More options, by group (${name} --help <group>, or --help-all):`, items, helper.helpWidth ?? 80)}\n`;
  },

  /** commander's item, or, when the terms leave the text too little room, the text on lines of its own under its term */
  formatItem(this: Help, term: string, termWidth: number, description: string, helper: Help): string {
    const width = helper.helpWidth ?? 80;
    if (!description || width - termWidth - 4 >= MIN_TEXT_WIDTH)
      return Help.prototype.formatItem.call(this, term, termWidth, description, helper);
    const indent = ' '.repeat(6);
    return `  ${term}\n${helper
      .boxWrap(description, width - indent.length)
      .split('\n')
      .map((l) => indent + l)
      .join('\n')}`;
  },
};

/** fit every command's help to the width, and fold the groups of those that asked (foldGroups) */
export function configureHelp(cmd: Command): void {
  cmd.configureHelp(help);
  cmd.configureOutput({
    getOutHelpWidth: () => outputColumns(process.stdout),
    getErrHelpWidth: () => outputColumns(process.stderr),
  });
}
