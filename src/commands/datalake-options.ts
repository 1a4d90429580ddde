/**
 * The datalake group: its cluster-wide settings (api, scheduler, up), written to the store at
 * start when given, else the cluster keeps what it has. openStoreWithLake reads them.
 */
import { InvalidArgumentError, Option } from 'commander';
import { parseLakeRecords } from '../core/datalake';
import { errorMessage } from '../core/errors';
import { DEFAULTS } from '../core/defaults';
import { parseIntIn } from './parse';
import { roleStore, RoleStore } from './run-role';
import type { StoreFlags } from './store-options';

export const datalakeOptions = (): Option[] => [
  new Option(
    '--datalake <records>',
    "what the datalake records, cluster-wide: all, none or type,type (unset: keep the cluster's; all at first)",
  )
    .env('WIZARD_DATALAKE')
    .argParser((v: string) => {
      try {
        return parseLakeRecords(v, '--datalake');
      } catch (err) {
        throw new InvalidArgumentError(errorMessage(err));
      }
    }),
  new Option(
    '--datalake-retention-days <n>',
    "days the datalake keeps, cluster-wide (unset: keep the cluster's; 30 at first)",
  )
    .env('WIZARD_DATALAKE_RETENTION_DAYS')
    .argParser(parseIntIn('--datalake-retention-days', 1, 36_500)),
  new Option(
    '--datalake-dir <dir>',
    "where the datalake's day files live, a directory per prefix: the scheduler leader (or up) writes them, the API reads them",
  )
    .env('WIZARD_DATALAKE_DIR')
    .default(DEFAULTS.datalakeDir)
    .argParser((v: string) => {
      if (!v.trim()) throw new InvalidArgumentError('--datalake-dir must name a directory');
      return v;
    }),
];

/** open the role's store (roleStore) and write the datalake flags (when given) to it */
export async function openStoreWithLake(
  f: StoreFlags & { datalake?: string; datalakeRetentionDays?: number; datalakeDir?: string },
  role: string,
  claimId = false,
): Promise<RoleStore> {
  const opened = await roleStore(f, role, claimId);
  if (f.datalake !== undefined || f.datalakeRetentionDays !== undefined)
    await opened.store.lake.configure({ records: f.datalake, retentionDays: f.datalakeRetentionDays });
  return opened;
}
