describe("idle probe before context", () => {
  it("measures CPU while idle", async function () {
    this.timeout(10000);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, 2000));
    const d = process.cpuUsage(t0);
    console.log("IDLE CPU ms over 2 s:", (d.user + d.system) / 1000, "active handles:", (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length);
  });
});
