import type { AggregatedResult } from "@jest/test-result";
import type { Config } from "@jest/types";

declare class SummaryReporter {
  constructor(globalConfig: Pick<Config.GlobalConfig, "rootDir">, options?: { outputFile?: string });
  readonly outputFile: string;
  onRunComplete(contexts: unknown, results: AggregatedResult): void;
}
declare namespace SummaryReporter {
  function summaryLine(results: AggregatedResult): string;
  const DEFAULT_OUTPUT: string;
}
export = SummaryReporter;
