/**
 * A typed face for trello's `scientist` 1.1.1, which ships CoffeeScript-compiled JS and no types.
 * Only what the benchmarks call is declared.
 */
import type { EventEmitter } from "node:events";

export interface TrelloExperiment {
  use(block: () => unknown): void;
  try(block: () => unknown): void;
  async(on: boolean): void;
}

export interface TrelloScientist extends EventEmitter {
  science<T>(name: string, setup: (experiment: TrelloExperiment) => void): T;
}

export type TrelloScientistClass = new () => TrelloScientist;

/** `require("scientist")` typed; a plain require because the package has no declarations to import. */
export function loadTrelloScientist(): TrelloScientistClass {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require("scientist") as TrelloScientistClass;
}
