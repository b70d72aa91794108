/**
 * The `--segments` bar chart in a real headless Chromium (Debian's `chromium`, driven by
 * playwright-core): the bars are drawn, each as long as its mismatch rate on the chart's scale, and
 * the overall line sits at the overall rate. Skipped, saying why, where /usr/bin/chromium is missing.
 * `PENUMBRA_SCREENSHOTS=1` also refreshes docs/segments-screenshot.png.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { BrowserContext } from "playwright-core";
import { openOffline, repoRoot, requireChromium, runCli } from "./report-page";
import { writeSegmentFile } from "./segment-fixtures";

interface Bar {
  value: string;
  rate: number;
  runs: number;
  /** Rendered geometry, CSS pixels. */
  left: number;
  width: number;
  height: number;
  fill: string;
}

/** Per chart: its key, the overall line's x and rate, the axis span, and every bar as rendered. */
const INSPECT = `Array.from(document.querySelectorAll("figure.segment-chart")).map((figure) => {
  const svg = figure.querySelector("svg");
  const axis = svg.querySelector("line.axis").getBoundingClientRect();
  const overall = svg.querySelector("line.overall");
  const scaleText = Array.from(svg.querySelectorAll(":scope > text")).map((t) => t.textContent);
  return {
    key: figure.getAttribute("data-key"),
    axisLeft: axis.left, axisWidth: axis.width,
    overallX: overall.getBoundingClientRect().left, overallRate: Number(overall.getAttribute("data-rate")),
    scaleText,
    bars: Array.from(svg.querySelectorAll("g.segment")).map((g) => {
      const r = g.querySelector("rect.bar").getBoundingClientRect();
      return { value: g.getAttribute("data-value"), rate: Number(g.getAttribute("data-rate")), runs: Number(g.getAttribute("data-runs")),
        left: r.left, width: r.width, height: r.height, fill: g.querySelector("rect.bar").getAttribute("fill") };
    }),
  };
})`;

describe("penumbra report --segments page in headless Chromium", function () {
  this.timeout(60_000);
  let dir: string;
  let context: BrowserContext | undefined;

  before(function () {
    requireChromium(this);
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-segments-browser-"));
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("draws each value's bar to its mismatch rate against the overall line, offline", async () => {
    writeSegmentFile(path.join(dir, "results.jsonl"));
    await runCli(["report", "results.jsonl", "--segments", "region,endpoint", "--html", "report.html"], dir);
    const opened = await openOffline(dir, path.join(dir, "report.html"), { width: 1000, height: 900 });
    context = opened.context;
    const { tab, errors, requests } = opened;
    await tab.waitForSelector('body[data-rendered="1"]', { timeout: 15_000 });

    const charts = (await tab.evaluate(INSPECT)) as Array<{
      key: string;
      axisLeft: number;
      axisWidth: number;
      overallX: number;
      overallRate: number;
      scaleText: string[];
      bars: Bar[];
    }>;
    assert.deepEqual(errors, [], "no script errors on the page");
    assert.deepEqual(
      charts.map((c) => c.key),
      ["region", "endpoint"],
    );
    for (const chart of charts) {
      // The axis's right end is labelled with the scale's top, e.g. "55.0%".
      const top = Number((chart.scaleText.find((t) => /^\d+\.\d%$/.test(t) && t !== "0%") ?? "").replace("%", "")) / 100;
      assert.ok(top > 0, `a scale: ${chart.scaleText.join(" | ")}`);
      const px = (rate: number): number => (rate / top) * chart.axisWidth;
      assert.ok(Math.abs(chart.overallX - chart.axisLeft - px(chart.overallRate)) < 2, `the overall line sits at ${chart.overallRate}`);
      for (const bar of chart.bars) {
        assert.ok(bar.height > 5, `${bar.value}: a visible bar`);
        assert.ok(Math.abs(bar.left - chart.axisLeft) < 1, `${bar.value}: starts at 0`);
        assert.ok(Math.abs(bar.width - px(bar.rate)) < 1.5, `${bar.value}: ${bar.width}px for ${bar.rate}`);
        assert.equal(bar.fill, bar.rate > chart.overallRate ? "#d62728" : "#1f77b4", `${bar.value}: red only above the overall rate`);
      }
    }
    const region = charts[0]?.bars ?? [];
    assert.deepEqual(
      region.map((b) => b.value),
      ["NY", "TX", "CA", "NJ", "OR", "WA", "AK", "(none)"],
    );
    assert.ok((region[0]?.width ?? 0) > (charts[0]?.overallX ?? 0) - (charts[0]?.axisLeft ?? 0), "NY's bar crosses the overall line");
    const label = await tab.textContent('figure[data-key="region"] g.segment title');
    assert.equal(label, "NY: 50.0% of 40 runs, lift 3.68x");
    assert.deepEqual(requests.filter((u) => !u.startsWith("file:")), [], "the page made no network request");

    if (process.env["PENUMBRA_SCREENSHOTS"] === "1") {
      const box = await tab.locator('figure[data-key="region"]').boundingBox();
      if (box !== null) await tab.screenshot({ path: path.join(repoRoot, "docs", "segments-screenshot.png"), clip: { x: 0, y: Math.max(0, box.y - 60), width: 1000, height: box.height + 80 } });
    }
  });
});
