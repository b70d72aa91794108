/**
 * The report page in a real headless Chromium (Debian's `chromium`, driven by playwright-core): the
 * charts must actually render, offline. Skipped, saying why, where /usr/bin/chromium is not installed.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { BrowserContext } from "playwright-core";
import { writeDemoFile } from "./fixtures";
import { openOffline, repoRoot, requireChromium, runCli } from "./report-page";

const screenshot = path.join(repoRoot, "docs", "report-screenshot.png");

interface CanvasCheck {
  width: number;
  height: number;
  /** Pixels that are neither transparent nor white: something was drawn. */
  inked: number;
}

/** For each uPlot canvas: its size and how many pixels are neither transparent nor white. */
const INSPECT_CANVASES = `Array.from(document.querySelectorAll(".uplot canvas")).map((canvas) => {
  const ctx = canvas.getContext("2d");
  let inked = 0;
  if (ctx !== null && canvas.width > 0 && canvas.height > 0) {
    const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4) {
      const white = data[i] > 245 && data[i + 1] > 245 && data[i + 2] > 245;
      if (data[i + 3] > 0 && !white) inked++;
    }
  }
  return { width: canvas.width, height: canvas.height, inked };
})`;

describe("penumbra report --html in headless Chromium", function () {
  this.timeout(60_000);
  let dir: string;
  let context: BrowserContext | undefined;

  before(function () {
    requireChromium(this);
  });

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "penumbra-browser-"));
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("renders the latency and timeline charts offline (canvases with size and ink) and keeps a screenshot", async () => {
    const file = path.join(dir, "results.jsonl");
    const page = path.join(dir, "report.html");
    writeDemoFile(file);
    // Relative names from the temp dir: the page (and so the committed screenshot) shows no temp path.
    await runCli(["report", "results.jsonl", "--html", "report.html"], dir);
    const opened = await openOffline(dir, page, { width: 1000, height: 1250 });
    context = opened.context;
    const { tab, errors, requests } = opened;
    await tab.waitForSelector('body[data-rendered="2"]', { timeout: 15_000 });
    await tab.waitForFunction('document.querySelectorAll(".uplot canvas").length === 4');

    // Run in the page; a string, since this project compiles without the DOM library.
    const canvases = (await tab.evaluate(INSPECT_CANVASES)) as CanvasCheck[];
    assert.deepEqual(errors, [], "no script errors on the page");
    assert.equal(canvases.length, 4, "two charts for each of the two candidates");
    for (const c of canvases) {
      assert.ok(c.width > 100 && c.height > 100, `a canvas with a real size: ${JSON.stringify(c)}`);
      assert.ok(c.inked > 500, `a canvas with something drawn on it: ${JSON.stringify(c)}`);
    }
    // The legends name what is plotted: both sides, and the top reasons over time.
    const legends = await tab.$$eval(".u-legend .u-label", (labels) => labels.map((l) => String(l.textContent)));
    for (const label of ["control", "candidate", "total", "tax-rounding", "error:TypeError", "runs"]) {
      assert.ok(legends.includes(label), `legend has ${label}: ${legends.join(", ")}`);
    }
    assert.deepEqual(requests.filter((u) => !u.startsWith("file:")), [], "the page made no network request");

    await tab.screenshot({ path: screenshot, fullPage: false, clip: { x: 0, y: 0, width: 1000, height: 1250 } });
    assert.ok(fs.statSync(screenshot).size > 10_000, "the screenshot was written");
  });
});
