/**
 * `penumbra/fleet`: one experiment over many processes. The numbers are aggregated by Prometheus
 * (`penumbra/prometheus` in every process), judged by {@link fleetGuardrail}, and the switch is a
 * flag file every process reads through OpenFeature ({@link flagdFile} + `openFeatureGate`).
 * Architecture, queries and arithmetic: docs/fleet.md.
 *
 * Needs `@openfeature/server-sdk` and `@openfeature/flagd-core` (optional peer dependencies).
 */
export { flagdFile, type FlagdFile } from "./fleet/flagd-file";
export {
  fleetGuardrail,
  type FleetGuardrail,
  type FleetGuardrailOptions,
  type FleetTripEvent,
  type FleetVerdict,
} from "./fleet/guardrail";
export { fleetQueries, type FleetQueries } from "./fleet/queries";
