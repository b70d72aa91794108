/**
 * The entry for the `penumbra/tripwire` subpath: loading it installs the tripwire with its
 * defaults (block network and processes in shadow runs), so `node --require penumbra/tripwire`
 * sets it up before the application captures any function the hooks patch.
 */
import { installTripwire } from "./install";

/**
 * Undoes the installation this module made when it was loaded.
 *
 * @example
 * ```ts
 * import { uninstallTripwire } from "penumbra/tripwire";
 * uninstallTripwire(); // e.g. in a test's global teardown
 * ```
 */
export const uninstallTripwire: () => void = installTripwire();

export { installTripwire };
export type { TripwireError, TripwireMode, TripwireOptions, TripwireTarget } from "./install";
