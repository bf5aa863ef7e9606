// Prints the run's totals as one plain line, `tests: N passed, N failed, N skipped`, as the very
// last line of the output (at process exit, after jest's own summary): CI reads that line to
// tell a run that tested something from one that tested nothing.
export default class SummaryReporter {
  onRunComplete(_contexts, results) {
    const {
      numPassedTests: passed,
      numFailedTests: failed,
      numPendingTests: skipped,
      numTodoTests: todo,
    } = results;
    const broken = results.numRuntimeErrorTestSuites;
    process.once('exit', () => {
      process.stdout.write(`tests: ${passed} passed, ${failed + broken} failed, ${skipped + todo} skipped\n`);
    });
  }
}
