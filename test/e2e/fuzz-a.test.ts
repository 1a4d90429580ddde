/** input fuzzing, share 1 of 2 of the routes (test/helpers/fuzz.ts) */
import { fuzzRoutes } from '../helpers/fuzz';

fuzzRoutes(0, 2);
