/**
 * The entry for the `penumbra/tripwire` subpath: loading it installs the tripwire, so
 * `node --require penumbra/tripwire` (or `--import`) sets it up before the application captures any
 * function the hooks patch. Options come from `PENUMBRA_TRIPWIRE`, e.g.
 * `PENUMBRA_TRIPWIRE=network=report,childProcess=block`; each kind not named is `block`.
 */
import { tripwireOptionsFromEnv } from "./env";
import { installTripwire } from "./install";

const { options, problems } = tripwireOptionsFromEnv(process.env.PENUMBRA_TRIPWIRE);
if (problems.length > 0) {
  // A warning, not a throw: a typo in an experiment setting must not stop the application from
  // starting. The unreadable kinds stay at `block`, the safe side.
  process.emitWarning(
    `penumbra: PENUMBRA_TRIPWIRE has unreadable entries ${problems.join(", ")} (expected kind=mode, kind: network or childProcess, mode: block, report or off); those kinds stay "block"`,
    { type: "PenumbraWarning", code: "PENUMBRA_TRIPWIRE_ENV" },
  );
}

/**
 * Undoes the installation this module made when it was loaded.
 *
 * @example
 * ```ts
 * import { uninstallTripwire } from "penumbra/tripwire";
 * uninstallTripwire(); // e.g. in a test's global teardown
 * ```
 */
export const uninstallTripwire: () => void = installTripwire(options);

export { installTripwire };
export type { TripwireError, TripwireMode, TripwireOptions, TripwireTarget } from "./verdict";
