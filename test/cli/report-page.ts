/**
 * The report page in a real headless Chromium (Debian's `chromium`, driven by playwright-core), for the
 * browser tests of `penumbra report --html`: one way to skip without Chromium (saying why), run the
 * built CLI, and open the written page offline, with every non-file request refused and recorded.
 */
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";
export const repoRoot = path.resolve(__dirname, "..", "..");
const cli = path.join(repoRoot, "dist", "cli", "main.js");

/** In a `before` hook: skips the suite, saying why, where Chromium is missing; the CLI must be built. */
export function requireChromium(context: Mocha.Context): void {
  if (!fs.existsSync(CHROMIUM)) {
    // A skip that says nothing reads as a pass: the reason goes to the output with the skip.
    console.log(`    skipped: ${CHROMIUM} is not installed (\`apt-get install chromium\`, as CI's .ci/run does, to run this test)`);
    context.skip();
  }
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first`);
}

/** Runs the built CLI in `cwd` (relative names, so the page shows no temp path). */
export function runCli(args: readonly string[], cwd: string): Promise<void> {
  return new Promise<void>((resolve, reject) =>
    execFile(process.execPath, [cli, ...args], { cwd }, (error) => (error ? reject(error) : resolve())),
  );
}

/** An open report page: the tab, its browser (to close), its script errors and every request it made. */
export interface OfflinePage {
  context: BrowserContext;
  tab: Page;
  errors: string[];
  requests: string[];
}

/** Opens `file` in a fresh Chromium profile under `dir`; anything but `file:` URLs is aborted and recorded. */
export async function openOffline(dir: string, file: string, viewport: { width: number; height: number }): Promise<OfflinePage> {
  // A fresh profile directory per run: playwright passes it as --user-data-dir.
  const context = await chromium.launchPersistentContext(path.join(dir, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport,
  });
  const requests: string[] = [];
  // Anything but the page itself would be the network the page promises not to need.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    requests.push(url);
    return url.startsWith("file:") ? route.continue() : route.abort();
  });
  const tab = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  tab.on("pageerror", (error) => errors.push(String(error)));
  await tab.goto(pathToFileURL(file).href);
  return { context, tab, errors, requests };
}
