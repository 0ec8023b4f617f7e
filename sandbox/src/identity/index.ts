export * from "./token-service";
export * from "./sign-ins";
export * from "./server";
