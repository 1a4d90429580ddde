/** Input fuzzing of seed 004's routes (jobs, bots, the datalake, the summary): see test/helpers/fuzz.ts. */
import { fuzzRoutes } from '../helpers/fuzz';
import { BOT_SPECS } from '../helpers/fuzz-specs';

fuzzRoutes('fuzz-bots', BOT_SPECS);
