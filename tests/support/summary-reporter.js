// A jest reporter that adds one line to the default output, and writes it to a file that .ci/run
// prints after `npm test`: how many suites ran and were skipped, how many tests passed, failed and
// were skipped (issue 13: a green run must say that every suite ran). Plain CommonJS because jest
// loads reporters with require, untransformed.
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports -- loaded by jest without a transform */
const fs = require("node:fs");
const path = require("node:path");

/** The default file, relative to jest's rootDir; gitignored. */
const DEFAULT_OUTPUT = "test-artifacts/jest-summary.txt";

/**
 * "suites: 92 ran, 0 skipped; tests: 2017 passed, 0 failed, 3 skipped", with the suites that
 * failed and those that never ran (an interrupted run) only when there are some.
 * @param {import("@jest/test-result").AggregatedResult} r
 */
function summaryLine(r) {
  const ran = r.numPassedTestSuites + r.numFailedTestSuites;
  const suites = [`${ran} ran`, `${r.numPendingTestSuites} skipped`];
  if (r.numFailedTestSuites > 0) suites.push(`${r.numFailedTestSuites} failed`);
  const notRun = r.numTotalTestSuites - ran - r.numPendingTestSuites;
  if (notRun > 0) suites.push(`${notRun} not run`);
  const skippedTests = r.numPendingTests + r.numTodoTests;
  return `suites: ${suites.join(", ")}; tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skippedTests} skipped`;
}

class SummaryReporter {
  /**
   * @param {import("@jest/types").Config.GlobalConfig} globalConfig
   * @param {{ outputFile?: string }} [options]
   */
  constructor(globalConfig, options = {}) {
    this.outputFile = path.resolve(globalConfig.rootDir, options.outputFile ?? DEFAULT_OUTPUT);
  }

  /**
   * @param {unknown} _contexts
   * @param {import("@jest/test-result").AggregatedResult} results
   */
  onRunComplete(_contexts, results) {
    const line = summaryLine(results);
    process.stderr.write(`\n${line}\n`);
    fs.mkdirSync(path.dirname(this.outputFile), { recursive: true });
    fs.writeFileSync(this.outputFile, `${line}\n`);
  }
}

module.exports = SummaryReporter;
module.exports.summaryLine = summaryLine;
module.exports.DEFAULT_OUTPUT = DEFAULT_OUTPUT;
