/**
 * Per-environment deployment settings: solution/settings/<env>.json, validated with zod. No secret
 * lives in the file: it names the environment variable that holds the client secret.
 */
import { readFileSync } from "node:fs";
import { ENVIRONMENT_VARIABLES, EnvironmentVariableType } from "@cosell/contract";
import { z } from "zod";

export const DEPLOY_ENVIRONMENTS = ["staging", "production"] as const;
export type DeployEnvironment = (typeof DEPLOY_ENVIRONMENTS)[number];

const schemaNames = ENVIRONMENT_VARIABLES.map((v) => v.schemaName) as [string, ...string[]];

const httpsOrLocal = z
  .string()
  .url()
  .refine((u) => /^https:\/\//i.test(u) || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/i.test(u), {
    message: "must be https:// (http:// only for a local sandbox)",
  });

export const DeploySettingsSchema = z
  .object({
    environment: z.enum(DEPLOY_ENVIRONMENTS),
    /** The environment's URL, e.g. https://contoso-staging.crm.dynamics.com */
    dataverseUrl: httpsOrLocal,
    tenantId: z.string().min(1),
    clientId: z.string().min(1),
    /** Name of the process environment variable that holds the client secret. */
    clientSecretEnv: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, "an environment variable name, e.g. COSELL_DEPLOY_CLIENT_SECRET"),
    /** Entra ID login host; the real one unless a sandbox is used. */
    loginUrl: httpsOrLocal.default("https://login.microsoftonline.com"),
    /** Values of the solution's environment variables in this environment (schema name → value). */
    environmentVariables: z.partialRecord(z.enum(schemaNames), z.string()).default({}),
    overwriteUnmanagedCustomizations: z.boolean().default(false),
    publishWorkflows: z.boolean().default(true),
    pollIntervalSeconds: z.number().positive().max(60).default(5),
    timeoutMinutes: z.number().positive().max(240).default(60),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const v of ENVIRONMENT_VARIABLES) {
      const value = s.environmentVariables[v.schemaName];
      if (value !== undefined && v.type === EnvironmentVariableType.Boolean && value !== "yes" && value !== "no")
        ctx.addIssue({ code: "custom", path: ["environmentVariables", v.schemaName], message: 'a Yes/No variable takes "yes" or "no"' });
    }
  });

export type DeploySettings = z.infer<typeof DeploySettingsSchema>;

export class SettingsError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SettingsError";
  }
}

export function parseDeploySettings(json: unknown, source: string, expected?: DeployEnvironment): DeploySettings {
  const r = DeploySettingsSchema.safeParse(json);
  if (!r.success)
    throw new SettingsError(
      `${source}:\n${r.error.issues.map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`).join("\n")}`,
      { cause: r.error },
    );
  if (expected && r.data.environment !== expected)
    throw new SettingsError(`${source}: says environment "${r.data.environment}", but --env ${expected} was asked for`);
  return r.data;
}

export function readDeploySettings(file: string, expected?: DeployEnvironment): DeploySettings {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new SettingsError(`${file}: cannot read JSON settings (copy solution/settings/${expected ?? "<env>"}.example.json)`, { cause: err });
  }
  return parseDeploySettings(json, file, expected);
}
