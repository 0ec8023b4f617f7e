export * from "./token-service";
export * from "./server";
