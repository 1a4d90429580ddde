/**
 * The order test files run in: the slowest first, so that no worker is left alone with a long
 * file at the end of the run. A file's time is the one jest cached from its last run on this
 * machine, else the one test/timings.json gives (seconds, from a full run on a 2-core machine),
 * else 5 s (a new file). Files that failed in the last run still go first, as jest's own order does.
 */
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const timings = require('../timings.json');

const NEW_FILE_S = 5;

class SlowestFirst extends Sequencer {
  time(test) {
    const cached = super.time(test);
    if (cached != null) return cached;
    const known = timings[path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/')];
    return (known ?? NEW_FILE_S) * 1000;
  }

  sort(tests) {
    const keyed = tests.map((test) => ({ test, failed: this.hasFailed(test), ms: this.time(test) }));
    keyed.sort((a, b) => Number(b.failed) - Number(a.failed) || b.ms - a.ms || (a.test.path < b.test.path ? -1 : 1));
    return keyed.map((k) => k.test);
  }
}

module.exports = SlowestFirst;
