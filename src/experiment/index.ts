/**
 * The engine's entry point for the rest of penumbra: the public experiment API, and the few engine
 * pieces other folders build on (replay observes behaviours the engine's way; the OpenFeature gate
 * hashes keys as sampling does). Nothing outside `experiment/` imports any other file in it.
 */
export { Experiment, shadow, type Shadowed } from "./experiment";
export { flushAll } from "./tracker";
export { stableFraction } from "./admit";
export { observeInShadow, type Behaviour, type RunScope } from "./observe";
export { resolveOptions, show, type ResolvedOptions } from "./options";
