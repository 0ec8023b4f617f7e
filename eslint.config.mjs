// ESLint flat config for the whole repository. Form scripts and the PCF control add Microsoft's
// Power Apps checker rules (paCheckerHosted) in their own blocks below.
import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";
import powerApps from "@microsoft/eslint-plugin-power-apps";

export default tseslint.config(
  {
    ignores: [
      "**/node_modules/**",
      "**/dist/**",
      "**/out/**",
      "**/generated/**",
      "coverage/**",
      "test-artifacts/**",
      "stubs/**",
      "jest.config.js",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    files: ["webresources/src/**/*.ts", "pcf/PartnerCenterSection/**/*.{ts,tsx}"],
    plugins: { "@microsoft/power-apps": powerApps },
    languageOptions: { globals: { ...globals.browser, Xrm: "readonly", ComponentFramework: "readonly" } },
    rules: { ...powerApps.configs.paCheckerHosted.rules },
  },
);
