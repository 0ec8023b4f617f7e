import { dataverseClientFor } from "../../PartnerCenterSection/services/dataverse";
import { once, sectionServices } from "../../PartnerCenterSection/services/sectionServices";
import { fakeWebApi } from "../__mocks__/fakeWebApi";

test("the catalogue is read once however many views ask", async () => {
  const webAPI = fakeWebApi({ solutions: [{ cosell_name: "A", cosell_solutioncode: "SOL-1-A" }] });
  const services = sectionServices(dataverseClientFor(webAPI));
  await Promise.all([services.loadCatalogue(), services.loadCatalogue()]);
  await services.loadCatalogue();
  expect(webAPI.calls.filter((c) => c.entity === "cosell_solution")).toHaveLength(1);
});

test("a failed read is retried by the next caller", async () => {
  const load = jest.fn().mockRejectedValueOnce(new Error("network")).mockResolvedValueOnce("ok");
  const get = once(load);
  await expect(get()).rejects.toThrow("network");
  await expect(get()).resolves.toBe("ok");
  expect(load).toHaveBeenCalledTimes(2);
});
