/**
 * The admin token guards the status page and the admin API: `Authorization: Bearer <token>` (API,
 * CLI) or HTTP Basic with the token as password (a browser's own login prompt). Compared in
 * constant time. Form posts from the status page also carry a token derived from the admin token,
 * so another site cannot make a signed-in browser press a button (CSRF).
 */
import { createHmac } from "node:crypto";
import { constantTimeEquals } from "../webhooks/intake";

export function presentedToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  if (basic) {
    const decoded = Buffer.from(basic[1] as string, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon < 0 ? undefined : decoded.slice(colon + 1);
  }
  return undefined;
}

export function isAdmin(authorization: string | undefined, adminToken: string): boolean {
  return constantTimeEquals(presentedToken(authorization), adminToken);
}

/** The value the status page's forms carry (not the admin token itself). */
export function formToken(adminToken: string): string {
  return createHmac("sha256", adminToken).update("cosell-bridge status page form").digest("base64url");
}
