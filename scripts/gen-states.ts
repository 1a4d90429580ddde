/** Write the console's copy of the job states (src/roles/api/public/states.js) from src/core/states.ts. */
import fs from 'node:fs';
import path from 'node:path';
import { statesScript } from '../src/core/states';

const file = path.join(__dirname, '..', '..', 'src', 'roles', 'api', 'public', 'states.js');
fs.writeFileSync(file, statesScript());
console.log(`wrote ${path.relative(process.cwd(), file)}`);
