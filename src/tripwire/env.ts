/**
 * The preload's options, read from `PENUMBRA_TRIPWIRE` (`network=report,childProcess=block`): a
 * preload is given no arguments, so the environment is the only way to start in report mode.
 */
import type { TripwireMode, TripwireOptions } from "./verdict";

const KINDS: Readonly<Record<string, "network" | "childProcess">> = {
  network: "network",
  childprocess: "childProcess",
  child_process: "childProcess",
};
const MODES: readonly string[] = ["block", "report", "off"];

/**
 * What the preload installs for a `PENUMBRA_TRIPWIRE` value, and what in it could not be read.
 * An unreadable entry leaves its kind at the default, `block`: a typo must not open the tripwire.
 *
 * @internal
 * @example
 * ```ts
 * tripwireOptionsFromEnv("network=report"); // { options: { network: "report" }, problems: [] }
 * ```
 */
export function tripwireOptionsFromEnv(text: string | undefined): { options: TripwireOptions; problems: string[] } {
  const options: TripwireOptions = {};
  const problems: string[] = [];
  if (text === undefined || text.trim() === "") return { options, problems };
  for (const entry of text.split(",")) {
    const part = entry.trim();
    if (part === "") continue;
    const [rawKey, rawValue, ...extra] = part.split("=");
    const key = KINDS[(rawKey ?? "").trim().toLowerCase()];
    const value = (rawValue ?? "").trim().toLowerCase();
    if (key === undefined || extra.length > 0 || !MODES.includes(value)) {
      problems.push(JSON.stringify(part));
      continue;
    }
    options[key] = value as TripwireMode;
  }
  return { options, problems };
}
