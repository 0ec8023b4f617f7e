/** The one-line summary .ci/run prints after `npm test` (issue 13). */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { AggregatedResult } from "@jest/test-result";
import SummaryReporter, { summaryLine } from "./summary-reporter";

/** The counts the reporter reads; the rest of an aggregated result does not matter to it. */
function results(counts: Partial<AggregatedResult>): AggregatedResult {
  const zero = {
    numTotalTestSuites: 0,
    numPassedTestSuites: 0,
    numFailedTestSuites: 0,
    numPendingTestSuites: 0,
    numRuntimeErrorTestSuites: 0,
    numTotalTests: 0,
    numPassedTests: 0,
    numFailedTests: 0,
    numPendingTests: 0,
    numTodoTests: 0,
  };
  return { ...zero, ...counts } as AggregatedResult;
}

describe("summaryLine", () => {
  test("a green run: suites that ran and were skipped, tests passed, failed and skipped", () => {
    const r = results({ numTotalTestSuites: 95, numPassedTestSuites: 92, numPendingTestSuites: 3, numPassedTests: 2017, numPendingTests: 2, numTodoTests: 1 });
    expect(summaryLine(r)).toBe("suites: 92 ran, 3 skipped; tests: 2017 passed, 0 failed, 3 skipped");
  });

  test("failed suites (a suite that did not load included) count as ran, and are named", () => {
    const r = results({ numTotalTestSuites: 4, numPassedTestSuites: 2, numFailedTestSuites: 2, numRuntimeErrorTestSuites: 1, numPassedTests: 10, numFailedTests: 1 });
    expect(summaryLine(r)).toBe("suites: 4 ran, 0 skipped, 2 failed; tests: 10 passed, 1 failed, 0 skipped");
  });

  test("an interrupted run says how many suites never ran", () => {
    const r = results({ numTotalTestSuites: 10, numPassedTestSuites: 3, numPassedTests: 30 });
    expect(summaryLine(r)).toBe("suites: 3 ran, 0 skipped, 7 not run; tests: 30 passed, 0 failed, 0 skipped");
  });
});

test("the reporter writes the line to its file (relative to jest's rootDir) and to stderr", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cosell-summary-"));
  const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    const reporter = new SummaryReporter({ rootDir: dir }, { outputFile: "nested/summary.txt" });
    reporter.onRunComplete(new Set(), results({ numTotalTestSuites: 1, numPassedTestSuites: 1, numPassedTests: 5 }));
    const line = "suites: 1 ran, 0 skipped; tests: 5 passed, 0 failed, 0 skipped";
    expect(fs.readFileSync(path.join(dir, "nested/summary.txt"), "utf8")).toBe(`${line}\n`);
    expect(stderr).toHaveBeenCalledWith(`\n${line}\n`);
  } finally {
    stderr.mockRestore();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("the default file is under test-artifacts/, which git ignores", () => {
  expect(new SummaryReporter({ rootDir: "/repo" }).outputFile).toBe(path.join("/repo", SummaryReporter.DEFAULT_OUTPUT));
  expect(SummaryReporter.DEFAULT_OUTPUT).toBe("test-artifacts/jest-summary.txt");
  expect(fs.readFileSync(path.resolve(__dirname, "../../.gitignore"), "utf8").split("\n")).toContain("test-artifacts/");
});
