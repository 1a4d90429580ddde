/**
 * The order test files run in: the slowest first, so that no worker is left alone with a long
 * file at the end of the run. A file's time is the longer of the one jest cached from its last
 * run on this machine and the one test/timings.json gives (seconds, from a full run on a 2-core
 * machine): a run of one file alone, or with fewer fuzz requests or stores, caches a time far
 * shorter than it takes in a full run. A file neither knows counts 5 s. Files that failed in the
 * last run still go first, as in jest's own order.
 */
const path = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;
const timings = require('../timings.json');

const NEW_FILE_S = 5;

class SlowestFirst extends Sequencer {
  time(test) {
    const cached = super.time(test) ?? 0;
    const known = timings[path.relative(test.context.config.rootDir, test.path).split(path.sep).join('/')];
    return Math.max(cached, (known ?? NEW_FILE_S) * 1000);
  }

  sort(tests) {
    const keyed = tests.map((test) => ({ test, failed: this.hasFailed(test), ms: this.time(test) }));
    keyed.sort((a, b) => Number(b.failed) - Number(a.failed) || b.ms - a.ms || (a.test.path < b.test.path ? -1 : 1));
    return keyed.map((k) => k.test);
  }
}

module.exports = SlowestFirst;
