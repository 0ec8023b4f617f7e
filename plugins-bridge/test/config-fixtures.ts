/** The smallest environment `loadConfig` accepts (no real service behind it): tests add or break one variable at a time. */
export const VALID_ENV = {
  BRIDGE_ADMIN_TOKEN: "admin-token-long-enough-0123456789",
  DATAVERSE_URL: "https://contoso.crm.dynamics.com/",
  DATAVERSE_TENANT_ID: "t",
  DATAVERSE_CLIENT_ID: "c",
  DATAVERSE_CLIENT_SECRET: "dataverse-secret-value",
  DATAVERSE_WEBHOOK_KEY: "webhook-key-long-enough-0123456789",
  PARTNER_CENTER_TENANT_ID: "t",
  PARTNER_CENTER_CLIENT_ID: "c",
  PARTNER_CENTER_CLIENT_SECRET: "pc-secret-value",
  PARTNER_CENTER_REFRESH_TOKEN: "refresh-token-value",
  // A test-only key (32 bytes of base64); never use a key that is written down anywhere.
  COSELL_TOKEN_KEY: "dGVzdC1vbmx5LWtleS0wMTIzNDU2Nzg5YWJjZGVmZ2g=",
} as const;
