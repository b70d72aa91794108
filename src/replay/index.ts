/** Replaying recorded calls through a control and a candidate, and reading results files back. */
export { replay } from "./replay";
export type { ReplayOptions, ReplayReport } from "./replay";
export { readResults } from "../store/read";
export type { MalformedLine, ReadResultsOptions } from "../store/read";
export type { ProgressStream } from "./progress";
