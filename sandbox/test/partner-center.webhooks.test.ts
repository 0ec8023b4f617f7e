import { verify, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { CommitEvent, DeliveryRecord, Referral, ValidationEvent } from "../src/partner-center";
import { fixture, startHarness, startReceiver, waitFor, type Harness, type Receiver } from "./fixtures/partner-center/harness";

type Json = Record<string, unknown>;
interface ErrorBody {
  code: string;
  description: string;
}
interface Registration {
  SubscriberId: string;
  WebhookUrl: string;
  WebhookEvents: string[];
  SignatureTokenToMsSignatureHeader: boolean;
}

const ALL_REFERRAL_EVENTS = ["referral-created", "referral-updated", "related-referral-created", "related-referral-updated", "test-created"];
const json = { "content-type": "application/json" };

describe("Partner Center emulator: Webhooks API and event delivery", () => {
  let h: Harness;
  let receiver: Receiver;
  beforeAll(async () => {
    h = await startHarness({ validationEventsPerMinute: 2 });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await h.close();
    await receiver.close();
  });
  beforeEach(() => {
    h.pc.reset();
    receiver.received.length = 0;
    receiver.respond = () => 200;
  });

  const register = async (events: string[] = ALL_REFERRAL_EVENTS, extra: Json = {}, url = receiver.url) => {
    const res = await h.api<Registration>("POST", "/webhooks/v1/registration", { WebhookUrl: url, WebhookEvents: events, ...extra });
    if (res.status !== 200) throw new Error(`registration failed: ${res.status} ${res.text}`);
    return res.body;
  };
  const createOwn = async (body: Json = fixture("create-private-deal.json")) => {
    const res = await h.api<Referral>("POST", "/v1.0/engagements/referrals", body);
    if (res.status !== 201) throw new Error(`create failed ${res.text}`);
    return res.body;
  };
  const control = async <T = Json>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> => {
    const res = await fetch(`${h.pc.url}${path}`, { method, headers: body === undefined ? {} : json, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const deliveriesSettled = (n: number) =>
    waitFor(() => {
      const done = h.pc.deliveries().filter((d) => d.status !== "pending");
      return done.length >= n ? done : undefined;
    }, 30_000, `${n} settled deliveries`);

  describe("registration", () => {
    it("answers 404 with the error body while nothing is registered", async () => {
      const res = await h.api<ErrorBody>("GET", "/webhooks/v1/registration");
      expect(res.status).toBe(404);
      expect(res.body).toMatchObject({ code: "NotFound", description: expect.stringMatching(/No webhook registration/) });
    });

    it("creates with the documented body, refuses a second POST (409: use PUT), replaces with PUT, shows it on GET", async () => {
      const body = fixture<{ documented: Json }>("webhook-registration.json").documented;
      const created = await h.api<Registration>("POST", "/webhooks/v1/registration", { ...body, WebhookUrl: receiver.url });
      expect(created.status).toBe(200);
      expect(created.body).toMatchObject({
        SubscriberId: h.pc.partner.organizationId,
        WebhookUrl: receiver.url,
        WebhookEvents: ["referral-created", "referral-updated"],
        SignatureTokenToMsSignatureHeader: false,
      });
      const again = await h.api<ErrorBody>("POST", "/webhooks/v1/registration", { ...body, WebhookUrl: receiver.url });
      expect(again.status).toBe(409);
      expect(again.body.description).toMatch(/use PUT/);
      const replaced = await h.api<Registration>("PUT", "/webhooks/v1/registration", { WebhookUrl: `${receiver.url}?v=2`, WebhookEvents: ALL_REFERRAL_EVENTS });
      expect(replaced.status).toBe(200);
      expect(replaced.body.WebhookEvents).toEqual(ALL_REFERRAL_EVENTS);
      const shown = await h.api<Registration>("GET", "/webhooks/v1/registration");
      expect(shown.body).toMatchObject({ WebhookUrl: `${receiver.url}?v=2`, WebhookEvents: ALL_REFERRAL_EVENTS });
    });

    it("binds the swagger's camelCase and the RC19 body shape too", async () => {
      const rc19 = fixture<{ rc19: Json }>("webhook-registration.json").rc19;
      const res = await h.api<Registration>("POST", "/webhooks/v1/registration", { ...rc19, WebhookUrl: receiver.url });
      expect(res.body.SignatureTokenToMsSignatureHeader).toBe(true);
      const camel = await h.api<Registration>("PUT", "/webhooks/v1/registration", { webhookUrl: receiver.url, webhookEvents: ["referral-created", "referral-created"] });
      expect(camel.body.WebhookEvents).toEqual(["referral-created"]);
    });

    it("refuses PUT with nothing registered, unknown events, bad URLs, missing fields", async () => {
      expect((await h.api("PUT", "/webhooks/v1/registration", { WebhookUrl: receiver.url, WebhookEvents: ["referral-created"] })).status).toBe(404);
      for (const [body, message] of [
        [{ WebhookUrl: receiver.url, WebhookEvents: ["referral-deleted"] }, /Unsupported webhook event/],
        [{ WebhookUrl: "not a url", WebhookEvents: ["referral-created"] }, /absolute http\(s\) URL/],
        [{ WebhookUrl: "ftp://x.example/", WebhookEvents: ["referral-created"] }, /absolute http\(s\) URL/],
        [{ WebhookEvents: ["referral-created"] }, /WebhookUrl is required/],
        [{ WebhookUrl: receiver.url, WebhookEvents: [] }, /at least one event/],
        [{ WebhookUrl: receiver.url }, /WebhookEvents/],
        [[], /registration object/],
      ] as const) {
        const res = await h.api<ErrorBody>("POST", "/webhooks/v1/registration", body);
        expect(res.status).toBe(400);
        expect(res.body.description).toMatch(message);
      }
    });

    it("lists the supported events, including the four referral events and test-created", async () => {
      const res = await h.api<string[]>("GET", "/webhooks/v1/registration/events");
      expect(res.status).toBe(200);
      expect(res.body).toEqual(expect.arrayContaining([...ALL_REFERRAL_EVENTS, "subscription-updated"]));
    });

    it("wants a token for api.partnercenter.microsoft.com (a Referrals-audience token is 401) and accepts app-only", async () => {
      const wrong = await fetch(`${h.pc.url}/webhooks/v1/registration/events`, { headers: { authorization: `Bearer ${h.userToken}` } });
      expect(wrong.status).toBe(401);
      h.tokens.registerClient({ clientId: "events-app", clientSecret: "s" });
      const app = h.tokens.clientCredentials({ clientId: "events-app", clientSecret: "s", resource: "https://api.partnercenter.microsoft.com" }).accessToken;
      const ok = await fetch(`${h.pc.url}/webhooks/v1/registration/events`, { headers: { authorization: `Bearer ${app}` } });
      expect(ok.status).toBe(200);
    });
  });

  describe("signed delivery", () => {
    it("POSTs the documented payload, signed over the raw bytes with the served certificate", async () => {
      await register();
      const r = await createOwn();
      await waitFor(() => receiver.received.length >= 1, 20_000, "a webhook");
      const got = receiver.received[0];
      if (!got) throw new Error("no webhook");
      expect(Object.keys(got.json)).toEqual(["EventName", "ResourceUri", "ResourceName", "AuditUri", "ResourceChangeUtcDate"]);
      expect(got.json).toEqual({
        EventName: "referral-created",
        ResourceUri: `${h.pc.url}/engagements/v1/referrals/${r.id}`,
        ResourceName: "referral",
        AuditUri: null,
        ResourceChangeUtcDate: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}\+00:00$/),
      });
      expect((got.json.ResourceUri as string).split("/").pop()).toBe(r.id);
      expect(got.headers["content-type"]).toBe("application/json");
      expect(got.headers["x-ms-signature-algorithm"]).toBe("rsa-sha256");
      const certUrl = got.headers["x-ms-certificate-url"] as string;
      expect(certUrl).toBe(`${h.pc.url}/_emulator/certificates/pcnotifications-dispatch.microsoft.com.cer`);
      expect(h.pc.certificateUrl).toBe(certUrl);
      const auth = got.headers.authorization as string;
      expect(auth).toMatch(/^Signature [A-Za-z0-9+/]+=*$/);

      const certRes = await fetch(certUrl);
      expect(certRes.headers.get("content-type")).toBe("application/pkix-cert");
      const cert = new X509Certificate(Buffer.from(await certRes.arrayBuffer()));
      expect(cert.subject).toMatch(/CN=pcnotifications-dispatch\.microsoft\.com/);
      expect(cert.subject).toMatch(/O=Microsoft Corporation/);
      expect(cert.issuer).toMatch(/O=Microsoft Corporation/);
      const signature = Buffer.from(auth.split(" ")[1] as string, "base64");
      expect(verify("sha256", got.raw, cert.publicKey, signature)).toBe(true);
      const tampered = Buffer.from(got.raw.toString("utf8").replace("referral-created", "referral-updated"));
      expect(verify("sha256", tampered, cert.publicKey, signature)).toBe(false);

      const pem = await (await fetch(`${certUrl}?format=pem`)).text();
      expect(pem).toBe(h.pc.certificatePem);
      expect(new X509Certificate(pem).fingerprint256).toBe(cert.fingerprint256);
    });

    it("sends the signature in x-ms-signature when the registration asks for it", async () => {
      await register(ALL_REFERRAL_EVENTS, { SignatureTokenToMsSignatureHeader: true });
      await createOwn();
      await waitFor(() => receiver.received.length >= 1);
      const got = receiver.received[0];
      if (!got) throw new Error("no webhook");
      expect(got.headers.authorization).toBeUndefined();
      const token = got.headers["x-ms-signature"] as string;
      expect(token).toMatch(/^Signature /);
      const cert = new X509Certificate(h.pc.certificatePem);
      expect(verify("sha256", got.raw, cert.publicKey, Buffer.from(token.split(" ")[1] as string, "base64"))).toBe(true);
    });

    it("delivers only the events the registration names", async () => {
      await register(["referral-updated"]);
      const r = await createOwn();
      await h.api("PATCH", `/v1.0/engagements/referrals/${r.id}`, [{ op: "replace", path: "/details/notes", value: "x" }]);
      await waitFor(() => receiver.received.length >= 1);
      await deliveriesSettled(1);
      expect(receiver.received.map((w) => w.json.EventName)).toEqual(["referral-updated"]);
      expect(h.pc.deliveries()).toHaveLength(1);
    });

    it("answers the API before the delivery is made (delivery never blocks)", async () => {
      // A receiver that accepts the connection and never answers.
      const silent: Server = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
      try {
        await register(["referral-created"], {}, `http://127.0.0.1:${(silent.address() as AddressInfo).port}/hook`);
        const r = await createOwn();
        const record = h.pc.deliveries().find((d) => d.resourceId === r.id);
        expect(record?.status).toBe("pending");
        expect(record?.attempts).toEqual([]);
      } finally {
        h.pc.reset(); // aborts the hanging attempt
        silent.closeAllConnections();
        await new Promise<void>((resolve) => silent.close(() => resolve()));
      }
    });
  });

  describe("retries and the offline queue", () => {
    it("retries a receiver that fails three times, then records the delivery", async () => {
      await register(["referral-created"]);
      receiver.respond = ({ count }) => (count <= 3 ? 500 : 200);
      const r = await createOwn();
      const [record] = await deliveriesSettled(1);
      expect(record).toMatchObject({ status: "delivered", resourceId: r.id, eventName: "referral-created" });
      expect(record?.attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 200]);
      expect(record?.attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4]);
      expect(receiver.received).toHaveLength(4);
      // every retry is the same signed bytes
      expect(new Set(receiver.received.map((w) => w.raw.toString("base64"))).size).toBe(1);
      expect(new Set(receiver.received.map((w) => w.headers.authorization)).size).toBe(1);
    });

    it("gives up after 10 attempts and moves the event to the offline queue", async () => {
      await register(["referral-created"]);
      receiver.respond = () => 503;
      const delivered: DeliveryRecord[] = [];
      const onDelivery = (d: DeliveryRecord) => delivered.push(d);
      h.pc.events.on("delivery", onDelivery);
      await createOwn();
      const [record] = await deliveriesSettled(1);
      h.pc.events.off("delivery", onDelivery);
      expect(record?.status).toBe("offline");
      expect(record?.attempts).toHaveLength(10);
      expect(record?.attempts.every((a) => a.statusCode === 503)).toBe(true);
      expect(receiver.received).toHaveLength(10);
      expect(delivered.map((d) => d.status)).toEqual(["offline"]);
      const listed = await control<{ value: DeliveryRecord[] }>("GET", "/_emulator/webhook-deliveries?status=offline");
      expect(listed.body.value).toHaveLength(1);
      expect(listed.body.value[0]?.body).toBe(receiver.received[0]?.raw.toString("utf8"));
    });

    it("counts an unreachable receiver's errors as failed attempts (with the error text)", async () => {
      const small = await startHarness({ webhookRetry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
      try {
        const closed = createServer();
        await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
        const port = (closed.address() as AddressInfo).port;
        await new Promise<void>((resolve) => closed.close(() => resolve()));
        await small.api("POST", "/webhooks/v1/registration", { WebhookUrl: `http://127.0.0.1:${port}/gone`, WebhookEvents: ["referral-created"] });
        await small.api("POST", "/v1.0/engagements/referrals", fixture("create-private-deal.json"));
        const record = await waitFor(() => small.pc.deliveries().find((d) => d.status !== "pending"));
        expect(record.status).toBe("offline");
        expect(record.attempts).toHaveLength(3);
        expect(record.attempts.every((a) => a.statusCode === null && typeof a.error === "string" && a.error.length > 0)).toBe(true);
      } finally {
        await small.close();
      }
    });
  });

  describe("validation (test) events", () => {
    it("sends test-created, reports per-attempt results, and limits to 2 a minute", async () => {
      await register(["test-created"]);
      const sent = await h.api<{ correlationId: string }>("POST", "/webhooks/v1/registration/validationEvents");
      expect(sent.status).toBe(200);
      const { correlationId } = sent.body;
      await waitFor(() => receiver.received.length >= 1);
      expect(receiver.received[0]?.json).toMatchObject({
        EventName: "test-created",
        ResourceName: "test",
        ResourceUri: `${h.pc.url}/webhooks/v1/registration/validationEvents/${correlationId}`,
      });
      const status = await waitFor(async () => {
        const s = await h.api<ValidationEvent>("GET", `/webhooks/v1/registration/validationEvents/${correlationId}`);
        return s.body.status === "completed" ? s : undefined;
      });
      expect(status.body).toEqual({
        correlationId,
        partnerId: h.pc.partner.organizationId,
        status: "completed",
        callbackUrl: receiver.url,
        results: [{ responseCode: 200, responseMessage: "OK", systemError: null, dateTimeUtc: expect.any(String) }],
      });
      expect((await h.api("POST", "/webhooks/v1/registration/validationEvents")).status).toBe(200);
      const limited = await h.api<ErrorBody>("POST", "/webhooks/v1/registration/validationEvents");
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(limited.body.code).toBe("TooManyRequests");
    });

    it("records failing attempts, needs test-created registered, and 404s an unknown correlation id", async () => {
      const unlimited = await startHarness({ validationEventsPerMinute: 0, webhookRetry: { attempts: 2, baseDelayMs: 1 } });
      try {
        await unlimited.api("POST", "/webhooks/v1/registration", { WebhookUrl: receiver.url, WebhookEvents: ["referral-created"] });
        const refused = await unlimited.api<ErrorBody>("POST", "/webhooks/v1/registration/validationEvents");
        expect(refused.status).toBe(400);
        expect(refused.body.description).toMatch(/test-created/);
        await unlimited.api("PUT", "/webhooks/v1/registration", { WebhookUrl: receiver.url, WebhookEvents: ["test-created"] });
        receiver.respond = () => 500;
        const ids: string[] = [];
        for (let i = 0; i < 3; i++) ids.push((await unlimited.api<{ correlationId: string }>("POST", "/webhooks/v1/registration/validationEvents")).body.correlationId);
        const failed = await waitFor(async () => {
          const s = await unlimited.api<ValidationEvent>("GET", `/webhooks/v1/registration/validationEvents/${ids[0]}`);
          return s.body.status === "failed" ? s.body : undefined;
        });
        expect(failed.results.map((r) => r.responseCode)).toEqual([500, 500]);
        expect((await unlimited.api("GET", "/webhooks/v1/registration/validationEvents/00000000-0000-4000-8000-000000000000")).status).toBe(404);
      } finally {
        await unlimited.close();
      }
    });
  });

  describe("Microsoft's side: inbound referrals, seller edits, co-sell answers, expiry", () => {
    it("an inbound referral arrives as Microsoft sends it and fires referral-created", async () => {
      await register();
      const res = await control<Referral>("POST", "/_emulator/inbound-referrals", fixture("inbound-co-sell.json"));
      expect(res.status).toBe(201);
      expect(res.body).toMatchObject({
        direction: "Incoming",
        status: "New",
        substatus: "Pending",
        type: "Shared",
        organizationId: h.pc.partner.organizationId,
        inviteContext: { invitedBy: { organizationId: "msft", organizationName: "Microsoft" } },
        customerProfile: { ids: [{ profileType: "Duns", id: "795986822" }] },
      });
      expect(Date.parse(res.body.expirationDateTime as string) - Date.parse(res.body.createdDateTime)).toBe(14 * 86_400_000);
      await waitFor(() => receiver.received.length >= 1);
      expect(receiver.received[0]?.json.EventName).toBe("referral-created");
    });

    it("a Microsoft seller's JSON Patch fires referral-updated, with the same validation as the partner's", async () => {
      await register();
      const commits: CommitEvent[] = [];
      const onCommit = (c: CommitEvent) => commits.push(c);
      h.pc.events.on("commit", onCommit);
      const inbound = (await control<Referral>("POST", "/_emulator/inbound-referrals", fixture("inbound-co-sell.json"))).body;
      const res = await control<Referral>("PATCH", `/_emulator/referrals/${inbound.id}`, [{ op: "replace", path: "/details/dealValue", value: 90000 }]);
      expect(res.status).toBe(200);
      expect(res.body.details.dealValue).toBe(90000);
      const bad = await control<ErrorBody>("PATCH", `/_emulator/referrals/${inbound.id}`, [{ op: "remove", path: "/details/notes" }]);
      expect(bad.status).toBe(400);
      h.pc.events.off("commit", onCommit);
      expect(commits.map((c) => [c.eventName, c.actor])).toEqual([
        ["referral-created", "microsoft"],
        ["referral-updated", "microsoft"],
      ]);
      expect(commits[1]?.at).toBeGreaterThan(commits[0]?.at as number);
      await waitFor(() => receiver.received.length >= 2);
      expect(receiver.received.map((w) => w.json.EventName)).toEqual(["referral-created", "referral-updated"]);
    });

    it("Microsoft accepting then declining a co-sell request creates then updates its related referral", async () => {
      await register();
      const own = await createOwn(fixture("create-shared-referral.json"));
      const seller = { firstName: "Megan", lastName: "Bowen", email: "megan.bowen@microsoft.example", phoneNumber: "0100000000" };
      const accepted = await control<Referral>("POST", `/_emulator/referrals/${own.id}/microsoft-response`, { decision: "accept", microsoftSeller: seller, microsoftCrmId: "7-1A2B3C", notes: "Happy to help" });
      expect(accepted.status).toBe(201);
      expect(accepted.body).toMatchObject({
        engagementId: own.engagementId,
        organizationId: "msft",
        organizationName: "Microsoft",
        status: "Active",
        substatus: "Accepted",
        type: "Shared",
        team: [{ ...seller, contactPreference: null }],
        trackingInfo: { microsoftMsxId: "7-1A2B3C" },
        details: { notes: "Happy to help", dealValue: 120000 },
        customerProfile: { name: "Fabrikam Inc" },
      });
      expect(accepted.body.id).not.toBe(own.id);
      await waitFor(() => receiver.received.some((w) => w.json.EventName === "related-referral-created"));
      const createdEvent = receiver.received.find((w) => w.json.EventName === "related-referral-created");
      expect(createdEvent?.json.ResourceUri).toBe(`${h.pc.url}/engagements/v1/referrals/${accepted.body.id}`);

      // the partner sees it on the engagement but cannot change it
      const related = await h.api<{ value: Referral[] }>("GET", own.links.relatedReferrals.uri as string);
      expect(related.body.value.map((r) => r.organizationId).sort()).toEqual([h.pc.partner.organizationId, "msft"].sort());
      const forbidden = await h.api<ErrorBody>("PATCH", `/v1.0/engagements/referrals/${accepted.body.id}`, [{ op: "replace", path: "/details/notes", value: "x" }]);
      expect(forbidden.status).toBe(403);

      const declined = await control<Referral>("POST", `/_emulator/referrals/${own.id}/microsoft-response`, { decision: "decline", reason: "Customer not in territory", microsoftSeller: seller });
      expect(declined.status).toBe(200);
      expect(declined.body).toMatchObject({ id: accepted.body.id, status: "Closed", substatus: "Declined", statusReason: "Customer not in territory" });
      await waitFor(() => receiver.received.some((w) => w.json.EventName === "related-referral-updated"));
      expect(receiver.received.find((w) => w.json.EventName === "related-referral-updated")?.json.ResourceUri).toBe(
        `${h.pc.url}/engagements/v1/referrals/${accepted.body.id}`,
      );
      const again = await control<ErrorBody>("POST", `/_emulator/referrals/${own.id}/microsoft-response`, { decision: "accept", microsoftSeller: seller });
      expect(again.status).toBe(400);
      expect(again.body.description).toMatch(/terminal/);
      // the partner's own referral is untouched by Microsoft's answer
      expect(h.pc.getReferral(own.id)?.eTag).toBe(own.eTag);
    });

    it("refuses a co-sell answer on a private deal, on Microsoft's own referral, and a malformed answer", async () => {
      const own = await createOwn();
      const seller = { firstName: "A", lastName: "B", email: "a@microsoft.example" };
      const priv = await control<ErrorBody>("POST", `/_emulator/referrals/${own.id}/microsoft-response`, { decision: "accept", microsoftSeller: seller });
      expect(priv.status).toBe(400);
      expect(priv.body.description).toMatch(/not shared with Microsoft/);
      const shared = await createOwn(fixture("create-shared-referral.json"));
      const ms = (await control<Referral>("POST", `/_emulator/referrals/${shared.id}/microsoft-response`, { decision: "accept", microsoftSeller: seller })).body;
      expect((await control("POST", `/_emulator/referrals/${ms.id}/microsoft-response`, { decision: "accept", microsoftSeller: seller })).status).toBe(400);
      const malformed = await control<ErrorBody>("POST", `/_emulator/referrals/${shared.id}/microsoft-response`, { decision: "maybe", microsoftSeller: seller });
      expect(malformed.status).toBe(400);
      expect(malformed.body.description).toMatch(/decision/);
      expect((await control("POST", "/_emulator/referrals/00000000-0000-4000-8000-000000000000/microsoft-response", { decision: "accept", microsoftSeller: seller })).status).toBe(404);
    });

    it("expires referrals left unanswered past their expirationDateTime, and nothing else", async () => {
      await register(["referral-updated"]);
      const past = (await control<Referral>("POST", "/_emulator/inbound-referrals", { ...fixture<Json>("inbound-co-sell.json"), expirationDateTime: "2020-01-01T00:00:00Z" })).body;
      const future = (await control<Referral>("POST", "/_emulator/inbound-referrals", fixture("inbound-co-sell.json"))).body;
      const accepted = (await control<Referral>("POST", "/_emulator/inbound-referrals", { ...fixture<Json>("inbound-co-sell.json"), status: "Active", expirationDateTime: "2020-01-01T00:00:00Z" })).body;
      const due = await control<{ expired: string[] }>("POST", "/_emulator/expire-due", {});
      expect(due.body.expired).toEqual([past.id]);
      expect(h.pc.getReferral(past.id)).toMatchObject({ status: "Closed", substatus: "Expired" });
      expect(h.pc.getReferral(future.id)?.status).toBe("New");
      expect(h.pc.getReferral(accepted.id)?.status).toBe("Active");
      await waitFor(() => receiver.received.length >= 1);
      expect(receiver.received[0]?.json).toMatchObject({ EventName: "referral-updated", ResourceUri: `${h.pc.url}/engagements/v1/referrals/${past.id}` });

      const later = await control<{ expired: string[] }>("POST", "/_emulator/expire-due", { asOf: "2100-01-01T00:00:00Z" });
      expect(later.body.expired).toEqual([future.id]);
      const forced = await control<Referral>("POST", `/_emulator/referrals/${accepted.id}/expire`);
      expect(forced.body).toMatchObject({ status: "Closed", substatus: "Expired" });
      const terminal = await control<ErrorBody>("POST", `/_emulator/referrals/${accepted.id}/expire`);
      expect(terminal.status).toBe(400);
      expect(terminal.body.description).toMatch(/Closed\/Expired/);
      expect((await control("POST", "/_emulator/expire-due", { asOf: "soon" })).status).toBe(400);
    });
  });

  describe("faults", () => {
    it("injects 500/503 without applying the request, and leaves /_emulator alone", async () => {
      const set = await control<Json>("PUT", "/_emulator/faults", { errorRate: 1, seed: 7 });
      expect(set.body).toMatchObject({ errorRate: 1, seed: 7 });
      const res = await h.api<ErrorBody>("POST", "/v1.0/engagements/referrals", fixture("create-private-deal.json"));
      expect([500, 503]).toContain(res.status);
      expect(res.body.code).toMatch(/InternalServerError|ServiceUnavailable/);
      expect((await control<{ referrals: number }>("GET", "/_emulator/health")).body.referrals).toBe(0);
      expect((await control("POST", "/_emulator/inbound-referrals", fixture("inbound-co-sell.json"))).status).toBe(201);
    });

    it("throttles with 429 + Retry-After and the documented body", async () => {
      await control("PUT", "/_emulator/faults", { throttleRate: 1, retryAfterSeconds: 3 });
      const res = await h.api<Json>("GET", "/v1.0/engagements/referrals");
      expect(res.status).toBe(429);
      expect(res.headers.get("retry-after")).toBe("3");
      expect(res.body).toEqual({ statusCode: 429, message: "Rate limit is exceeded. Try again in 3 seconds." });
    });

    it("holds a 'timed out' request until the client gives up", async () => {
      await control("PUT", "/_emulator/faults", { timeoutRate: 1, timeoutHoldMs: 60_000 });
      await expect(fetch(`${h.pc.url}/v1.0/engagements/referrals`, { headers: { authorization: `Bearer ${h.userToken}` }, signal: AbortSignal.timeout(300) })).rejects.toThrow();
    });

    it("adds latency and still answers", async () => {
      await control("PUT", "/_emulator/faults", { latencyMs: 20 });
      expect((await h.api("GET", "/v1.0/engagements/referrals")).status).toBe(200);
    });

    it("drops webhooks (no attempt at all) or delays them (still delivered)", async () => {
      await register(["referral-created"]);
      await control("PUT", "/_emulator/faults", { webhookDropRate: 1 });
      await createOwn();
      const [dropped] = await deliveriesSettled(1);
      expect(dropped).toMatchObject({ status: "dropped", attempts: [] });
      expect(receiver.received).toHaveLength(0);
      await control("PUT", "/_emulator/faults", { webhookDelayRate: 1, webhookDelayMaxMs: 50, seed: 3 });
      await createOwn();
      const settled = await deliveriesSettled(2);
      expect(settled[1]).toMatchObject({ status: "delivered" });
      expect(settled[1]?.delayedMs).toBeGreaterThanOrEqual(0);
      expect(receiver.received).toHaveLength(1);
    });

    it("refuses invalid fault settings and resets them with the emulator", async () => {
      const bad = await control<ErrorBody>("PUT", "/_emulator/faults", { errorRate: 2 });
      expect(bad.status).toBe(400);
      expect(bad.body.description).toMatch(/errorRate/);
      const unknown = await control<ErrorBody>("PUT", "/_emulator/faults", { chaos: true });
      expect(unknown.status).toBe(400);
      await control("PUT", "/_emulator/faults", { errorRate: 0.5 });
      expect((await control("POST", "/_emulator/reset")).status).toBe(204);
      expect((await control<Json>("GET", "/_emulator/faults")).body.errorRate).toBe(0);
    });
  });

  describe("sandbox control", () => {
    it("keeps a commit log with sub-millisecond, increasing timestamps, readable since a seq", async () => {
      const a = await createOwn();
      await h.api("PATCH", `/v1.0/engagements/referrals/${a.id}`, [{ op: "replace", path: "/name", value: "renamed" }]);
      const all = await control<{ value: CommitEvent[] }>("GET", "/_emulator/changes");
      expect(all.body.value.map((c) => c.eventName)).toEqual(["referral-created", "referral-updated"]);
      const [first, second] = all.body.value;
      expect(second?.at).toBeGreaterThan(first?.at as number);
      expect(Math.abs((first?.at as number) - Date.parse(a.createdDateTime))).toBeLessThan(1);
      const since = await control<{ value: CommitEvent[] }>("GET", `/_emulator/changes?since=${first?.seq}`);
      expect(since.body.value.map((c) => c.seq)).toEqual([second?.seq]);
    });

    it("lists and clears deliveries, reads a referral without auth, and shows a referral page", async () => {
      await register(["referral-created"]);
      const r = await createOwn({ ...fixture<Json>("create-private-deal.json"), name: "<script>alert(1)</script>" });
      await deliveriesSettled(1);
      const listed = await control<{ value: DeliveryRecord[] }>("GET", `/_emulator/webhook-deliveries?resourceId=${r.id}`);
      expect(listed.body.value).toHaveLength(1);
      expect((await control("DELETE", "/_emulator/webhook-deliveries")).status).toBe(204);
      expect((await control<{ value: DeliveryRecord[] }>("GET", "/_emulator/webhook-deliveries")).body.value).toEqual([]);
      expect((await control<Referral>("GET", `/_emulator/referrals/${r.id}`)).body.id).toBe(r.id);
      const page = await fetch(h.pc.referralLink(r.id));
      expect(page.headers.get("content-type")).toMatch(/text\/html/);
      const html = await page.text();
      expect(html).toContain("&lt;script&gt;");
      expect(html).not.toContain("<script>");
    });

    it("reset forgets referrals, the registration and deliveries", async () => {
      await register();
      await createOwn();
      h.pc.reset();
      expect((await h.api("GET", "/webhooks/v1/registration")).status).toBe(404);
      expect((await h.api<{ value: unknown[] }>("GET", "/v1.0/engagements/referrals")).body.value).toEqual([]);
      expect(h.pc.deliveries()).toHaveLength(0);
      expect(h.pc.changes()).toHaveLength(0);
    });
  });
});

describe("Partner Center emulator: options", () => {
  it("uses publicUrl in links, ResourceUri and the certificate URL, and referralLinkBase for seller links", async () => {
    const h = await startHarness({ publicUrl: "https://pc.sandbox.example/", referralLinkBase: "https://partner.sandbox.example/referrals/" });
    try {
      const r = (await h.api<Referral>("POST", "/v1.0/engagements/referrals", fixture("create-private-deal.json"))).body;
      expect(r.links.self.uri).toBe(`https://pc.sandbox.example/v1.0/engagements/referrals/${r.id}`);
      expect(h.pc.certificateUrl).toBe("https://pc.sandbox.example/_emulator/certificates/pcnotifications-dispatch.microsoft.com.cer");
      expect(h.pc.referralLink(r.id)).toBe(`https://partner.sandbox.example/referrals/${r.id}`);
    } finally {
      await h.close();
    }
  });

  it("accepts app-only tokens on referrals only when told to", async () => {
    const h = await startHarness({ allowAppOnlyReferrals: true });
    try {
      h.tokens.registerClient({ clientId: "app", clientSecret: "s" });
      const app = h.tokens.clientCredentials({ clientId: "app", clientSecret: "s", resource: "https://api.partner.microsoft.com" }).accessToken;
      expect((await h.api("GET", "/v1.0/engagements/referrals", undefined, { authorization: `Bearer ${app}` })).status).toBe(200);
    } finally {
      await h.close();
    }
  });
});
