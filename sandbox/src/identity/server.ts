/**
 * Entra ID (login.microsoftonline.com) emulator: the token endpoints our clients call, v1 and v2.
 *
 *   POST /{tenant}/oauth2/v2.0/token   grant_type=client_credentials | refresh_token | password, scope=<resource>/.default
 *   POST /{tenant}/oauth2/token        (v1) grant_type=client_credentials | refresh_token | password, resource=<resource>
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys
 *   GET  /common/discovery/instance    (MSAL instance discovery)
 *
 * The bridge reaches it by pointing its login host at this server (sandbox configuration).
 */
import Fastify, { type FastifyInstance } from "fastify";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { TokenError, TokenService, type TokenServiceOptions } from "./token-service";

export interface IdentityEmulatorOptions extends TokenServiceOptions {
  port?: number;
  host?: string;
  /** Share a token service (and so its signing key) with emulators started in the same process. */
  tokens?: TokenService;
}

export interface IdentityEmulator {
  readonly url: string;
  readonly tokens: TokenService;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

/** `https://org.crm.dynamics.com/.default` → `https://org.crm.dynamics.com`; space-separated scopes allowed. */
export function resourceFromScope(scope: string | undefined): string | undefined {
  if (!scope) return undefined;
  for (const s of scope.split(/\s+/)) {
    if (!/^https?:\/\//i.test(s)) continue; // openid, offline_access, profile
    const u = new URL(s);
    return `${u.protocol}//${u.host}`;
  }
  return undefined;
}

function errorBody(err: TokenError) {
  const code = /AADSTS(\d+)/.exec(err.message)?.[1];
  return {
    error: err.code,
    error_description: `${err.message}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: code ? [Number(code)] : [],
    timestamp: new Date().toISOString(),
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  };
}

export function buildIdentityApp(tokens: TokenService, baseUrl: () => string): FastifyInstance {
  const app = Fastify({ logger: false });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const handleToken = (version: "v1" | "v2") => async (req: { body: unknown }, reply: import("fastify").FastifyReply) => {
    const form = (req.body ?? {}) as Record<string, string | undefined>;
    try {
      const resource = version === "v1" ? form.resource : resourceFromScope(form.scope);
      if (!resource)
        throw new TokenError(
          "invalid_request",
          version === "v1"
            ? "AADSTS50001: The request body must contain the 'resource' parameter."
            : "AADSTS90014: The required field 'scope' is missing from the credential.",
        );
      if (form.grant_type === "client_credentials") {
        const t = tokens.clientCredentials({ clientId: form.client_id, clientSecret: form.client_secret, resource });
        return version === "v1"
          ? {
              token_type: "Bearer",
              expires_in: String(t.expiresIn),
              ext_expires_in: String(t.expiresIn),
              expires_on: String(t.expiresOn),
              not_before: String(t.claims.nbf),
              resource,
              access_token: t.accessToken,
            }
          : { token_type: "Bearer", expires_in: t.expiresIn, ext_expires_in: t.expiresIn, access_token: t.accessToken };
      }
      if (form.grant_type === "refresh_token" || form.grant_type === "password") {
        const t =
          form.grant_type === "refresh_token"
            ? tokens.refresh({ clientId: form.client_id, clientSecret: form.client_secret, refreshToken: form.refresh_token, resource })
            : tokens.password({ clientId: form.client_id, clientSecret: form.client_secret, username: form.username, password: form.password, resource });
        return version === "v1"
          ? {
              token_type: "Bearer",
              scope: "user_impersonation",
              expires_in: String(t.expiresIn),
              ext_expires_in: String(t.expiresIn),
              expires_on: String(t.expiresOn),
              not_before: String(t.claims.nbf),
              resource,
              access_token: t.accessToken,
              refresh_token: t.refreshToken,
            }
          : {
              token_type: "Bearer",
              scope: `${resource}/user_impersonation`,
              expires_in: t.expiresIn,
              ext_expires_in: t.expiresIn,
              access_token: t.accessToken,
              refresh_token: t.refreshToken,
            };
      }
      throw new TokenError(
        "unsupported_grant_type",
        `AADSTS70003: The app requested an unsupported grant type '${form.grant_type ?? ""}'.`,
      );
    } catch (err) {
      if (err instanceof TokenError) {
        return reply.code(err.code === "invalid_client" ? 401 : 400).send(errorBody(err));
      }
      throw err;
    }
  };

  app.post("/:tenant/oauth2/v2.0/token", handleToken("v2"));
  app.post("/:tenant/oauth2/token", handleToken("v1"));

  app.get("/:tenant/v2.0/.well-known/openid-configuration", async (req) => {
    const { tenant } = req.params as { tenant: string };
    const base = `${baseUrl()}/${tenant}`;
    return {
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ["client_secret_post", "private_key_jwt", "client_secret_basic"],
      jwks_uri: `${baseUrl()}/${tenant}/discovery/v2.0/keys`,
      response_modes_supported: ["query", "fragment", "form_post"],
      subject_types_supported: ["pairwise"],
      id_token_signing_alg_values_supported: ["RS256"],
      response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
      scopes_supported: ["openid", "profile", "email", "offline_access"],
      issuer: `${baseUrl()}/${tenant}/v2.0`,
      request_uri_parameter_supported: false,
      userinfo_endpoint: `${baseUrl()}/oidc/userinfo`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
      http_logout_supported: true,
      frontchannel_logout_supported: true,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
      claims_supported: ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "tid"],
      tenant_region_scope: "NA",
      cloud_instance_name: "microsoftonline.com",
      cloud_graph_host_name: "graph.windows.net",
      msgraph_host: "graph.microsoft.com",
      rbac_url: "https://pas.windows.net",
    };
  });

  app.get("/:tenant/discovery/v2.0/keys", async () => tokens.jwks());

  app.get("/common/discovery/instance", async () => {
    const host = new URL(baseUrl()).host;
    return {
      tenant_discovery_endpoint: `${baseUrl()}/{tenant}/v2.0/.well-known/openid-configuration`,
      "api-version": "1.1",
      metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
    };
  });

  return app;
}

export async function startIdentityEmulator(options: IdentityEmulatorOptions = {}): Promise<IdentityEmulator> {
  let url = "";
  const tokens = options.tokens ?? new TokenService(options);
  const app = buildIdentityApp(tokens, () => url);
  await app.listen({ port: options.port ?? 0, host: options.host ?? "127.0.0.1" });
  const addr = app.server.address() as AddressInfo;
  url = `http://${options.host ?? "127.0.0.1"}:${addr.port}`;
  return { url, tokens, app, close: () => app.close() };
}
