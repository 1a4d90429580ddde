/** The client group: the flags of commands that talk to the API over HTTP (submit, status, bot, …). */
import { Option } from 'commander';
import { DEFAULT_API_URL } from '../client/http';
import { parseUrl, readFileFlag } from './parse';

export const apiOption = () =>
  new Option('--api <url>', 'API base URL')
    .env('WIZARD_API_URL')
    .default(DEFAULT_API_URL)
    .argParser(parseUrl('--api', ['http', 'https']));

/** the client's trust for an HTTPS API with its own CA (or set NODE_EXTRA_CA_CERTS) */
export const caOption = () =>
  new Option('--ca <file>', 'CA certificate (PEM) to trust for an HTTPS --api').env('WIZARD_CA');

/** the PEM of --ca, or undefined */
export const caFromFlags = (f: { ca?: string }): string | undefined => (f.ca ? readFileFlag('--ca', f.ca) : undefined);

export const jsonOption = () => new Option('--json', 'machine-readable output on stdout, nothing else there');

export const wideOption = () =>
  new Option('--wide', 'whole ids in tables (they are shortened, as git shortens commits)');
