/**
 * The tripwire: blocks or reports the outbound connections, HTTP requests, processes and workers a
 * shadow run starts without declaring them.
 */
export { installTripwire } from "./install";
export type { TripwireError, TripwireMode, TripwireOptions, TripwireTarget } from "./install";
