/**
 * Entra ID (login.microsoftonline.com) emulator: the token endpoints our clients call, v1 and v2.
 *
 *   POST /{tenant}/oauth2/v2.0/token   grant_type=client_credentials | refresh_token | password, scope=<resource>/.default
 *   POST /{tenant}/oauth2/token        (v1) grant_type=client_credentials | refresh_token | password, resource=<resource>
 *                                      | urn:ietf:params:oauth:grant-type:device_code | authorization_code (v2)
 *   POST /{tenant}/oauth2/v2.0/devicecode   device-code sign-in (RFC 8628)
 *   GET  /{tenant}/oauth2/v2.0/authorize    authorization-code sign-in (PKCE), redirect to a loopback URI
 *   GET  /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/discovery/v2.0/keys
 *   GET  /common/discovery/instance    (MSAL instance discovery)
 *   /_emulator/…                       no auth: test control (approve or decline a sign-in, consent)
 *
 * The bridge reaches it by pointing its login host at this server (sandbox configuration).
 */
import Fastify, { type FastifyInstance } from "fastify";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { SignInControlError, SignInService, type SignInServiceOptions, type TokenSet } from "./sign-ins";
import { resourceFromScope, TokenError, TokenService, type TokenServiceOptions } from "./token-service";

export const DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";
/** What MSAL sends for the same grant; Entra accepts both. */
const MSAL_DEVICE_CODE_GRANT = "device_code";

export interface IdentityEmulatorOptions extends TokenServiceOptions {
  port?: number;
  host?: string;
  /** Share a token service (and so its signing key) with emulators started in the same process. */
  tokens?: TokenService;
  /** Device-code interval and lifetime, the user a sign-in is approved for by default. */
  signIns?: SignInServiceOptions;
}

export interface IdentityEmulator {
  readonly url: string;
  readonly tokens: TokenService;
  readonly signIns: SignInService;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

const ApproveBody = z
  .object({
    userPrincipalName: z.string().min(3).optional(),
    tenantId: z.string().min(1).optional(),
    mfa: z.boolean().optional(),
  })
  .strict();
const ConsentBody = z.object({ granted: z.boolean() }).strict();

function errorBody(err: TokenError) {
  const code = /AADSTS(\d+)/.exec(err.message)?.[1];
  return {
    error: err.code,
    error_description: `${err.message}\r\nTrace ID: ${randomUUID()}\r\nCorrelation ID: ${randomUUID()}\r\nTimestamp: ${new Date().toISOString()}`,
    error_codes: code ? [Number(code)] : [],
    ...(err.suberror ? { suberror: err.suberror } : {}),
    timestamp: new Date().toISOString(),
    trace_id: randomUUID(),
    correlation_id: randomUUID(),
  };
}

const v2TokenBody = (t: TokenSet) => ({
  token_type: "Bearer",
  scope: t.scope,
  expires_in: t.expiresIn,
  ext_expires_in: t.expiresIn,
  access_token: t.accessToken,
  refresh_token: t.refreshToken,
  id_token: t.idToken,
  client_info: t.clientInfo,
});

export function buildIdentityApp(tokens: TokenService, baseUrl: () => string, signIns: SignInService = new SignInService(tokens)): FastifyInstance {
  const app = Fastify({ logger: false });
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const handleToken = (version: "v1" | "v2") => async (req: { body: unknown }, reply: import("fastify").FastifyReply) => {
    const form = (req.body ?? {}) as Record<string, string | undefined>;
    try {
      if (version === "v2" && (form.grant_type === DEVICE_CODE_GRANT || form.grant_type === MSAL_DEVICE_CODE_GRANT))
        return v2TokenBody(signIns.redeemDeviceCode({ clientId: form.client_id, clientSecret: form.client_secret, deviceCode: form.device_code }));
      if (version === "v2" && form.grant_type === "authorization_code")
        return v2TokenBody(
          signIns.redeemAuthorizationCode({
            clientId: form.client_id,
            clientSecret: form.client_secret,
            code: form.code,
            redirectUri: form.redirect_uri,
            codeVerifier: form.code_verifier,
          }),
        );
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

  app.post("/:tenant/oauth2/v2.0/devicecode", async (req, reply) => {
    const { tenant } = req.params as { tenant: string };
    const form = (req.body ?? {}) as Record<string, string | undefined>;
    try {
      return signIns.startDeviceCode({ tenant, clientId: form.client_id, scope: form.scope, verificationUri: `${baseUrl()}/devicelogin` });
    } catch (err) {
      if (err instanceof TokenError) return reply.code(400).send(errorBody(err));
      throw err;
    }
  });

  // The sign-in page a browser lands on: here it only says the sign-in waits for the control.
  app.get("/:tenant/oauth2/v2.0/authorize", async (req, reply) => {
    const { tenant } = req.params as { tenant: string };
    const q = req.query as Record<string, string | undefined>;
    try {
      const signIn = signIns.startAuthorization({
        tenant,
        clientId: q.client_id,
        responseType: q.response_type,
        redirectUri: q.redirect_uri,
        scope: q.scope,
        state: q.state,
        codeChallenge: q.code_challenge,
        codeChallengeMethod: q.code_challenge_method,
        nonce: q.nonce,
        responseMode: q.response_mode,
      });
      return reply
        .header("x-emulator-sign-in", signIn.id)
        .type("text/html; charset=utf-8")
        .send(
          `<!doctype html><title>Sign in (sandbox)</title><p>Sign-in <code>${signIn.id}</code> is waiting. Approve it with <code>POST /_emulator/sign-ins/${signIn.id}/approve</code>, then follow the redirect (or POST the form) it answers with.</p>`,
        );
    } catch (err) {
      if (err instanceof TokenError) return reply.code(400).send(errorBody(err));
      throw err;
    }
  });

  app.get("/devicelogin", async (_req, reply) =>
    reply
      .type("text/html; charset=utf-8")
      .send("<!doctype html><title>Enter code (sandbox)</title><p>Approve a device code with <code>POST /_emulator/sign-ins/{user_code}/approve</code>.</p>"),
  );

  // ---- Sandbox control (no auth; never part of the real service) -------------------------------
  const control = <T>(f: () => T) => {
    try {
      return { ok: true as const, value: f() };
    } catch (err) {
      if (err instanceof SignInControlError) return { ok: false as const, status: err.status, error: err.message };
      throw err;
    }
  };
  app.get("/_emulator/sign-ins", async () => ({ value: signIns.list() }));
  app.get("/_emulator/sign-ins/:id", async (req, reply) => {
    const found = signIns.find((req.params as { id: string }).id);
    return found ?? reply.code(404).send({ error: "No such sign-in." });
  });
  app.post("/_emulator/sign-ins/:id/approve", async (req, reply) => {
    const body = ApproveBody.safeParse(req.body ?? {});
    if (!body.success) return reply.code(400).send({ error: `Invalid approval: ${body.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; ")}` });
    const r = control(() => signIns.approve((req.params as { id: string }).id, body.data));
    return r.ok ? r.value : reply.code(r.status).send({ error: r.error });
  });
  app.post("/_emulator/sign-ins/:id/decline", async (req, reply) => {
    const r = control(() => signIns.decline((req.params as { id: string }).id));
    return r.ok ? r.value : reply.code(r.status).send({ error: r.error });
  });
  app.post("/_emulator/sign-ins/:id/expire", async (req, reply) => {
    const r = control(() => signIns.expire((req.params as { id: string }).id));
    return r.ok ? r.value : reply.code(r.status).send({ error: r.error });
  });
  app.put("/_emulator/clients/:clientId/consent", async (req, reply) => {
    const { clientId } = req.params as { clientId: string };
    const body = ConsentBody.safeParse(req.body);
    if (!body.success) return reply.code(400).send({ error: "The body must be {\"granted\": true|false}." });
    if (!tokens.getClient(clientId)) return reply.code(404).send({ error: `No client '${clientId}'.` });
    signIns.setConsent(clientId, body.data.granted);
    return { clientId, granted: body.data.granted };
  });

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
  const signIns = new SignInService(tokens, options.signIns);
  const app = buildIdentityApp(tokens, () => url, signIns);
  await app.listen({ port: options.port ?? 0, host: options.host ?? "127.0.0.1" });
  const addr = app.server.address() as AddressInfo;
  url = `http://${options.host ?? "127.0.0.1"}:${addr.port}`;
  return { url, tokens, signIns, app, close: () => app.close() };
}
