// One jest run for the whole repository (`npm test`). Projects split by environment:
//   node    — unit, contract and end-to-end suites (real HTTP servers on port 0, SQLite, PostgreSQL)
//   pcf     — the PCF control's view model and React components under jsdom
//   browser — real Chromium through playwright-core against the sandbox (tests/browser)
const tsJest = [
  "ts-jest",
  {
    // Type checking is `npm run typecheck`; here we only transpile, which keeps the suites fast.
    tsconfig: "<rootDir>/tsconfig.base.json",
    diagnostics: false,
  },
];

const tsJestForEsm = ["ts-jest", { tsconfig: { allowJs: true, module: "commonjs", esModuleInterop: true }, diagnostics: false }];

/** @type {import('jest').Config} */
const common = {
  transform: { "^.+\\.tsx?$": tsJest, "^.+\\.js$": tsJestForEsm },
  // ESM-only packages (libraries.md, trap 2): jest 30 on Node 20 cannot require them, so they are
  // transpiled to CommonJS like our own sources.
  transformIgnorePatterns: ["/node_modules/(?!(p-limit|yocto-queue)/)"],
  moduleFileExtensions: ["ts", "tsx", "js", "json"],
  testPathIgnorePatterns: ["/node_modules/", "/dist/", "/out/"],
};

module.exports = {
  testTimeout: 60_000,
  // The default output, plus one line of suites and tests run and skipped, also written to
  // test-artifacts/jest-summary.txt for .ci/run to print after `npm test`.
  reporters: ["default", ["<rootDir>/tests/support/summary-reporter.js", { outputFile: "test-artifacts/jest-summary.txt" }]],
  projects: [
    {
      ...common,
      displayName: "node",
      testEnvironment: "node",
      roots: [
        "<rootDir>/contract",
        "<rootDir>/sandbox",
        "<rootDir>/plugins-bridge",
        "<rootDir>/solution",
        "<rootDir>/webresources",
        "<rootDir>/tests",
      ],
      testMatch: ["**/*.test.ts"],
      testPathIgnorePatterns: [...common.testPathIgnorePatterns, "<rootDir>/tests/browser/"],
    },
    {
      ...common,
      displayName: "pcf",
      testEnvironment: "jsdom",
      roots: ["<rootDir>/pcf"],
      testMatch: ["**/*.test.ts", "**/*.test.tsx"],
      transform: {
        "^.+\\.tsx?$": ["ts-jest", { tsconfig: "<rootDir>/pcf/tsconfig.test.json", diagnostics: false }],
      },
    },
    {
      ...common,
      displayName: "browser",
      testEnvironment: "node",
      roots: ["<rootDir>/tests/browser"],
      testMatch: ["**/*.test.ts"],
    },
  ],
};
