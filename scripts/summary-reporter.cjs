// Writes the run's counts to .ci/results.json (or PATCHBAY_TEST_RESULTS, which .ci/run sets per Node)
// and prints a plain "N passed, N failed" line; jest's own summary is for humans and is not parsed.
const fs = require('node:fs');
const path = require('node:path');

class SummaryReporter {
  onRunComplete(_contexts, results) {
    // A suite that failed to load counts as one failure, so a broken file can never pass silently.
    const failed = results.numFailedTests + results.numRuntimeErrorTestSuites;
    const summary = {
      passed: results.numPassedTests,
      failed,
      skipped: results.numPendingTests + results.numTodoTests,
      suites: results.numTotalTestSuites,
      node: process.version,
    };
    const out = process.env.PATCHBAY_TEST_RESULTS || path.join(__dirname, '..', '.ci', 'results.json');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(summary) + '\n');
    process.stdout.write(`\n${summary.passed} passed, ${summary.failed} failed, ${summary.skipped} skipped (Node ${process.version})\n`);
  }
}
module.exports = SummaryReporter;
