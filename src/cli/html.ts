/**
 * The HTML page of `penumbra report --html`: one self-contained file (uPlot's script and stylesheet
 * inlined, no network at view time, so it can be attached to a ticket or opened from an air-gapped
 * box) with, per experiment and candidate, the summary table, the latency distributions of control
 * and candidate, and the mismatch reasons over time.
 *
 * uPlot because it is small (~50 KB), dependency-free, maintained, and draws on a canvas fast enough
 * for thousands of points. Every piece of data goes into the page as JSON inside a
 * `<script type="application/json">` block (with `<`, `>`, `&` escaped, so no value can close the
 * block) and is parsed by the page; text in the HTML itself is entity-escaped.
 */
import * as fs from "node:fs";
import type { ScorecardSummary } from "../operate/scorecard";
import type { ReportData } from "./report";
import { escapeHtml, scriptJson } from "./escape";
import { segmentsHtml } from "./segments";
import { ms, percent } from "./table";


/** Library code inlined as-is: only a literal `</script` could break out, and it would be neutralised. */
function inlineScript(code: string): string {
  return code.replace(/<\/(script)/gi, "<\\/$1").replace(/<!--/g, "<\\!--");
}

function inlineStyle(css: string): string {
  return css.replace(/<\/(style)/gi, "<\\/$1");
}

/**
 * uPlot's script and stylesheet from `node_modules`, read when a page is rendered (the package is a
 * dependency of penumbra, so it is wherever `require.resolve` finds it).
 *
 * @example
 * ```ts
 * const { js, css } = uplotAssets();
 * ```
 */
export function uplotAssets(): { js: string; css: string } {
  return {
    js: fs.readFileSync(require.resolve("uplot/dist/uPlot.iife.min.js"), "utf8"),
    css: fs.readFileSync(require.resolve("uplot/dist/uPlot.min.css"), "utf8"),
  };
}

const PAGE_CSS = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #fff; margin: 24px auto; max-width: 960px; padding: 0 16px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 32px 0 8px; border-bottom: 1px solid #dde1e8; padding-bottom: 4px; }
h3 { font-size: 14px; margin: 16px 0 4px; color: #475066; }
.meta { color: #5b6478; margin: 0 0 8px; }
.warn { color: #9a4a00; }
table { border-collapse: collapse; margin: 6px 0 10px; }
th, td { text-align: left; padding: 3px 12px 3px 0; vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { color: #475066; font-weight: 600; border-bottom: 1px solid #dde1e8; }
code { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; background: #f3f5f8; padding: 1px 4px; border-radius: 3px; }
.rates span { display: inline-block; margin-right: 18px; }
.rates b { font-variant-numeric: tabular-nums; }
.chart { margin: 4px 0 12px; }
.empty { color: #5b6478; font-style: italic; }
.segment-chart { margin: 4px 0 12px; }
.segment-chart figcaption { color: #475066; margin-bottom: 2px; }
.segment-bars { max-width: 860px; }
tr.few td { color: #8a91a3; }
`;

/** The page's own script: reads the JSON block and draws two charts per candidate. Plain ES2017. */
const RENDER_JS = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("penumbra-data").textContent);
  var palette = ["#d62728", "#ff7f0e", "#9467bd", "#2ca02c", "#8c564b", "#e377c2", "#7f7f7f"];
  var stepped = uPlot.paths && uPlot.paths.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
  function width(el) { return Math.max(320, Math.min(900, el.clientWidth || 900)); }
  function latencyChart(c, el) {
    var h = c.latency, runs = Math.max(1, c.summary.runs);
    var lo = h.control.length, hi = -1;
    for (var i = 0; i < h.control.length; i++) {
      if (h.control[i] > 0 || h.candidate[i] > 0) { if (i < lo) lo = i; if (i > hi) hi = i; }
    }
    if (hi < 0) { el.textContent = "no runs"; el.className += " empty"; return; }
    lo = Math.max(0, lo - 1); hi = Math.min(h.control.length - 1, hi + 1);
    var xs = [], control = [], candidate = [];
    for (var j = lo; j <= hi; j++) {
      xs.push(Math.sqrt(h.edges[j] * h.edges[j + 1]));
      control.push(h.control[j] / runs);
      candidate.push(h.candidate[j] / runs);
    }
    var pct = function (u, v) { return v == null ? "-" : (v * 100).toFixed(1) + "%"; };
    new uPlot({
      width: width(el), height: 260,
      scales: { x: { time: false, distr: 3 }, y: { range: function (u, min, max) { return [0, Math.max(0.01, max * 1.1)]; } } },
      axes: [{ label: "latency (ms, log scale)" }, { label: "share of runs", values: function (u, vals) { return vals.map(function (v) { return (v * 100).toFixed(0) + "%"; }); } }],
      series: [
        { label: "ms", value: function (u, v) { return v == null ? "-" : v.toPrecision(3) + " ms"; } },
        { label: "control", stroke: "#1f77b4", width: 2, fill: "rgba(31,119,180,0.15)", paths: stepped, value: pct },
        { label: "candidate", stroke: "#d62728", width: 2, fill: "rgba(214,39,40,0.12)", paths: stepped, value: pct }
      ]
    }, [xs, control, candidate], el);
  }
  function timelineChart(c, el) {
    var t = c.timeline;
    if (t.runs.length === 0) { el.textContent = "no runs"; el.className += " empty"; return; }
    var n = Math.max(2, t.runs.length), xs = [];
    for (var i = 0; i < n; i++) xs.push((t.startMs + i * t.bucketMs) / 1000);
    function pad(a) { a = a.slice(); while (a.length < n) a.push(0); return a; }
    var series = [{}], cols = [xs];
    if (t.reasons.length === 0) {
      series.push({ label: "mismatched runs", stroke: "#7f7f7f", width: 2 });
      cols.push(pad(t.mismatched));
    }
    t.reasons.forEach(function (r, k) {
      series.push({ label: r.reason, stroke: palette[k % palette.length], width: 2, points: { show: true, size: 5 } });
      cols.push(pad(r.counts));
    });
    series.push({ label: "runs", stroke: "#1f77b4", width: 1, dash: [4, 4], scale: "runs" });
    cols.push(pad(t.runs));
    new uPlot({
      width: width(el), height: 260,
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } }, runs: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: [{}, { label: "mismatched runs per bucket" }, { side: 1, scale: "runs", label: "runs per bucket", grid: { show: false } }],
      series: series
    }, cols, el);
  }
  data.candidates.forEach(function (c, i) {
    latencyChart(c, document.getElementById("latency-" + i));
    timelineChart(c, document.getElementById("timeline-" + i));
  });
  document.body.setAttribute("data-rendered", String(data.candidates.length));
})();
`;

/**
 * Renders the report page. `assets` defaults to uPlot read from `node_modules`.
 *
 * @example
 * ```ts
 * fs.writeFileSync("report.html", renderHtml(await collectReport("results.jsonl", {})));
 * ```
 */
export function renderHtml(data: ReportData, assets: { js: string; css: string } = uplotAssets()): string {
  const sections = data.candidates.map((c, i) => section(c.summary, i, c.timeline.bucketMs, data.segments ?? [])).join("\n");
  const span =
    data.firstStartedAt === undefined || data.lastStartedAt === undefined
      ? ""
      : ` · ${new Date(data.firstStartedAt).toISOString()} – ${new Date(data.lastStartedAt).toISOString()}`;
  const malformed =
    data.malformedCount === 0
      ? ""
      : `<p class="warn">${data.malformedCount} malformed line${data.malformedCount === 1 ? "" : "s"} skipped (first: ${escapeHtml(
          data.malformed
            .slice(0, 20)
            .map((m) => String(m.line))
            .join(", "),
        )}).</p>`;
  const filter = data.experiment === undefined ? "" : ` · experiment <code>${escapeHtml(data.experiment)}</code>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>penumbra report: ${escapeHtml(data.file)}</title>
<style>${inlineStyle(assets.css)}</style>
<style>${PAGE_CSS}</style>
<script>${inlineScript(assets.js)}</script>
</head>
<body>
<h1>penumbra report</h1>
<p class="meta"><code>${escapeHtml(data.file)}</code> · ${data.results} result${data.results === 1 ? "" : "s"}${filter}${span}</p>
${malformed}
${sections || '<p class="empty">No results.</p>'}
<script type="application/json" id="penumbra-data">${scriptJson({ candidates: data.candidates })}</script>
<script>${RENDER_JS}</script>
</body>
</html>
`;
}

function section(s: ScorecardSummary, index: number, bucketMs: number, segments: readonly string[]): string {
  const reasons =
    s.reasons.length === 0
      ? '<p class="empty">No mismatches.</p>'
      : `<table><thead><tr><th>reason</th><th class="num">count</th><th class="num">share</th><th>example</th></tr></thead><tbody>
${s.reasons
  .slice(0, 20)
  .map(
    (r) =>
      `<tr><td><code>${escapeHtml(r.reason)}</code></td><td class="num">${r.count}</td><td class="num">${percent(r.share)}</td><td><code>${escapeHtml(
        r.example.length > 200 ? `${r.example.slice(0, 199)}…` : r.example,
      )}</code></td></tr>`,
  )
  .join("\n")}
</tbody></table>`;
  const latency = (label: string, p: ScorecardSummary["latency"]["control"]): string =>
    `<tr><td>${label}</td><td class="num">${ms(p.p50)}</td><td class="num">${ms(p.p95)}</td><td class="num">${ms(p.p99)}</td></tr>`;
  return `<section class="candidate" data-experiment="${escapeHtml(s.experiment)}" data-candidate="${escapeHtml(s.candidate)}">
<h2>${escapeHtml(s.experiment)} / ${escapeHtml(s.candidate)}</h2>
<p class="rates"><span>runs <b>${s.runs}</b></span><span>skipped <b>${s.skipped}</b></span><span>status match <b>${percent(s.statusMatchRate)}</b></span><span>field match <b>${percent(
    s.fieldMatchRate,
  )}</b></span><span>errors <b>${percent(s.errorRate)}</b></span><span>timeouts <b>${percent(s.timeoutRate)}</b></span><span>leaks <b>${percent(s.leakRate)}</b></span></p>
<table><thead><tr><th>latency (ms)</th><th class="num">p50</th><th class="num">p95</th><th class="num">p99</th></tr></thead><tbody>
${latency("control", s.latency.control)}
${latency("candidate", s.latency.candidate)}
<tr><td>p95 ratio</td><td class="num" colspan="3">${s.latency.p95Ratio.toFixed(2)}×</td></tr>
</tbody></table>
${segmentsHtml(s, segments)}
<h3>Latency distribution, control vs candidate</h3>
<div class="chart" id="latency-${index}"></div>
<h3>Mismatch reasons over time (buckets of ${escapeHtml(duration(bucketMs))})</h3>
<div class="chart" id="timeline-${index}"></div>
<h3>Reasons</h3>
${reasons}
</section>`;
}

function duration(bucketMs: number): string {
  if (bucketMs < 60_000) return `${Math.round(bucketMs / 1000)} s`;
  if (bucketMs < 3_600_000) return `${(bucketMs / 60_000).toFixed(1)} min`;
  return `${(bucketMs / 3_600_000).toFixed(1)} h`;
}
