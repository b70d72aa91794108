/**
 * The tripwire: blocks or reports what a shadow run sends out of the process without declaring it:
 * connections, socket writes, HTTP/1 and HTTP/2 requests, fetch, UDP, DNS queries, processes,
 * workers and their handles.
 */
export { installTripwire } from "./install";
export type { TripwireError, TripwireMode, TripwireOptions, TripwireTarget } from "./verdict";
