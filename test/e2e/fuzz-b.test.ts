/** input fuzzing, share 2 of 2 of the routes (test/helpers/fuzz.ts) */
import { fuzzRoutes } from '../helpers/fuzz';

fuzzRoutes(1, 2);
