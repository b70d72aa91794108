/**
 * A flag file every process of a fleet reads, in flagd's JSON format (so flagd itself, its
 * `fractional` rollouts and its tooling read the same file), written atomically and watched.
 *
 * Why not `@openfeature/flagd-provider` in offline mode: its file resolver polls every 5 s, not
 * configurable (issue 15). This provider evaluates with `@openfeature/flagd-core`, flagd's own rules
 * engine, and watches the file's FOLDER with `fs.watch`: an atomic writer replaces the file by
 * rename, which a watch on the file itself stops seeing after the first replacement. A 1 s stat poll
 * backs the watch up on file systems where `fs.watch` is silent (network mounts, some containers).
 */
import { watch, type FSWatcher } from "node:fs";
import { mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import * as path from "node:path";
import { FlagdCore } from "@openfeature/flagd-core";
import {
  OpenFeatureEventEmitter,
  ProviderEvents,
  type EvaluationContext,
  type JsonValue,
  type Logger,
  type Provider,
  type ResolutionDetails,
} from "@openfeature/server-sdk";

/**
 * What {@link flagdFile} returns.
 *
 * @example
 * ```ts
 * const flags: FlagdFile = flagdFile("/etc/shop/flags.json");
 * await OpenFeature.setProviderAndWait(flags.provider);
 * ```
 */
export interface FlagdFile {
  /** An OpenFeature server provider over the file; sees a change within ~100 ms. */
  readonly provider: Provider;
  /** Writes one flag (true / false, or a fraction 0..1 of admitted calls), atomically. */
  set(flagKey: string, value: boolean | number): Promise<void>;
  /** Stops watching and waits for writes in progress. Idempotent. */
  close(): Promise<void>;
}

/** A flagd flag definition, as far as this module writes it. */
interface FlagDefinition {
  state: "ENABLED" | "DISABLED";
  variants: Record<string, JsonValue>;
  defaultVariant: string;
  targeting?: JsonValue;
  metadata?: Record<string, JsonValue>;
}

const EMPTY = JSON.stringify({ flags: {} });
const SCHEMA = "https://flagd.dev/schema/v0/flags.json";
/** True for JSON text that is an object whose `flags`, if present, is an object (not an array). */
function isFlagDocument(text: string): boolean {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    return false;
  }
  const isObject = (value: unknown): boolean => typeof value === "object" && value !== null && !Array.isArray(value);
  if (!isObject(document)) return false;
  const flags = (document as { flags?: unknown }).flags;
  return flags === undefined || isObject(flags);
}

/** The backstop poll: only matters where fs.watch says nothing. */
const POLL_MS = 1_000;

// flagd-core logs through this; a bad file is kept out by setConfigurations throwing, reported below.
const quiet: Logger = { error: () => undefined, warn: () => undefined, info: () => undefined, debug: () => undefined };

let temporaries = 0;

/**
 * Opens a flag file in flagd's JSON format: an OpenFeature provider over it, and an atomic `set`.
 *
 * `set(key, true | false)` writes a boolean flag (`variants: { on: true, off: false }`);
 * `set(key, 0.05)` writes a number flag whose value is the admitted fraction, the form
 * `openFeatureGate` reads (`variants: { admitted: 0.05 }`). Other flags and fields in the file are
 * kept; the flag's own `targeting` is dropped, so "off" is off for every context. Writes go to a
 * temporary file in the same folder, are flushed, then renamed over the file: a reader (this
 * provider, flagd, another process) sees the old file or the new one, never half of one. Writers in
 * different processes do not lock: the last rename wins.
 *
 * A missing file means no flags (every evaluation `FLAG_NOT_FOUND`, which `openFeatureGate` treats
 * as off). A file that is not valid flagd JSON is ignored and the last good configuration stays.
 *
 * @example
 * ```ts
 * import { OpenFeature } from "@openfeature/server-sdk";
 * import { flagdFile } from "penumbra/fleet";
 * import { openFeatureGate } from "penumbra/openfeature";
 *
 * const flags = flagdFile("/var/run/shop/flags.json");
 * await OpenFeature.setProviderAndWait(flags.provider);
 * const enabled = openFeatureGate(OpenFeature.getClient(), { flagKey: "checkout.total-v2" });
 * await flags.set("checkout.total-v2", 0.05); // every process admits 5% within ~100 ms
 * ```
 */
export function flagdFile(file: string): FlagdFile {
  if (typeof file !== "string" || file === "") throw new TypeError(`flagdFile: path must be a non-empty string, got ${String(file)}`);
  const target = path.resolve(file);
  const folder = path.dirname(target);
  const base = path.basename(target);
  const core = new FlagdCore(undefined, quiet);
  const events = new OpenFeatureEventEmitter();
  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  let loadedStamp = "";
  let reloading: Promise<void> | undefined;
  let again = false;
  let writes: Promise<void> = Promise.resolve();
  let closed = false;

  const stamp = async (): Promise<string> => {
    try {
      const s = await stat(target);
      return `${s.ino}:${s.mtimeMs}:${s.size}`;
    } catch {
      return "missing";
    }
  };

  const load = async (): Promise<void> => {
    const before = await stamp();
    let text: string;
    try {
      text = await readFile(target, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") return;
      text = EMPTY;
    }
    // flagd-core takes `[]`, `42`, `true` or `{"flags": 5}` for a file with no flags (every flag gone):
    // only an object whose `flags`, when present, is an object is a flag file.
    if (!isFlagDocument(text)) return;
    let changed: string[];
    try {
      changed = core.setConfigurations(text);
    } catch {
      return; // not flagd JSON (a half-edited file): keep the last good configuration
    }
    loadedStamp = before;
    if (changed.length > 0) events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed });
  };

  // Coalesces bursts of watch events (a rename fires several) into one read, and never loses the last.
  const reload = (): Promise<void> => {
    if (reloading !== undefined) {
      again = true;
      return reloading;
    }
    reloading = (async () => {
      do {
        again = false;
        await load();
      } while (again && !closed);
    })().finally(() => {
      reloading = undefined;
    });
    return reloading;
  };

  const stopWatching = (): void => {
    watcher?.close();
    watcher = undefined;
    if (poll !== undefined) clearInterval(poll);
    poll = undefined;
  };

  const provider: Provider = {
    metadata: { name: "penumbra flagd file" },
    runsOn: "server",
    hooks: [],
    events,
    async initialize(): Promise<void> {
      await mkdir(folder, { recursive: true });
      if (poll === undefined && !closed) {
        // The poll first, and on its own: it is the backstop when the watch cannot start (inotify
        // watches exhausted) or dies (its folder removed), so neither may take it down.
        poll = setInterval(() => {
          void stamp().then((now) => (now !== loadedStamp ? reload() : undefined));
        }, POLL_MS);
        poll.unref();
        try {
          const started = watch(folder, { persistent: false }, (_event, name) => {
            if (name === null || name === base) void reload();
          });
          started.on("error", () => {
            started.close();
            if (watcher === started) watcher = undefined;
          });
          watcher = started;
        } catch {
          watcher = undefined; // ENOSPC, EPERM, …: the poll alone sees changes, within a second
        }
      }
      await reload();
    },
    async onClose(): Promise<void> {
      stopWatching();
    },
    resolveBooleanEvaluation: (key: string, fallback: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> =>
      Promise.resolve(core.resolveBooleanEvaluation(key, fallback, context, quiet)),
    resolveStringEvaluation: (key: string, fallback: string, context: EvaluationContext): Promise<ResolutionDetails<string>> =>
      Promise.resolve(core.resolveStringEvaluation(key, fallback, context, quiet)),
    resolveNumberEvaluation: (key: string, fallback: number, context: EvaluationContext): Promise<ResolutionDetails<number>> =>
      Promise.resolve(core.resolveNumberEvaluation(key, fallback, context, quiet)),
    resolveObjectEvaluation: <T extends JsonValue>(key: string, fallback: T, context: EvaluationContext): Promise<ResolutionDetails<T>> =>
      Promise.resolve(core.resolveObjectEvaluation(key, fallback, context, quiet)),
  };

  const write = async (flagKey: string, value: boolean | number): Promise<void> => {
    let document: { flags?: Record<string, FlagDefinition> } & Record<string, unknown>;
    try {
      document = JSON.parse(await readFile(target, "utf8")) as typeof document;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") {
        // Never overwrite a file a person is editing, or one that is not ours to parse.
        throw new Error(`flagdFile: ${target} is not readable flagd JSON (${(error as Error).message}); not overwritten`);
      }
      document = { $schema: SCHEMA, flags: {} };
    }
    if (typeof document !== "object" || document === null || Array.isArray(document)) {
      throw new Error(`flagdFile: ${target} does not hold a flagd JSON object; not overwritten`);
    }
    const flags = typeof document.flags === "object" && document.flags !== null ? document.flags : {};
    const previous = flags[flagKey];
    const definition: FlagDefinition =
      typeof value === "boolean"
        ? { state: "ENABLED", variants: { on: true, off: false }, defaultVariant: value ? "on" : "off" }
        : { state: "ENABLED", variants: { admitted: value }, defaultVariant: "admitted" };
    if (previous?.metadata !== undefined) definition.metadata = previous.metadata;
    document.flags = { ...flags, [flagKey]: definition };
    await mkdir(folder, { recursive: true });
    const temporary = path.join(folder, `.${base}.${process.pid}.${++temporaries}.tmp`);
    try {
      const handle = await open(temporary, "w");
      try {
        await handle.writeFile(`${JSON.stringify(document, null, 2)}\n`);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    // This process sees its own write at once, without waiting for the watch event (or the poll).
    if (poll !== undefined) await reload();
  };

  return {
    provider,
    set(flagKey: string, value: boolean | number): Promise<void> {
      if (typeof flagKey !== "string" || flagKey === "") {
        return Promise.reject(new TypeError(`flagdFile.set: flagKey must be a non-empty string, got ${String(flagKey)}`));
      }
      if (typeof value !== "boolean" && !(typeof value === "number" && value >= 0 && value <= 1)) {
        return Promise.reject(new TypeError(`flagdFile.set: value must be a boolean or a fraction in 0..1, got ${String(value)}`));
      }
      // One write at a time from this process: each reads the file the previous one left.
      const next = writes.then(() => write(flagKey, value));
      writes = next.catch(() => undefined);
      return next;
    },
    async close(): Promise<void> {
      closed = true;
      stopWatching();
      await writes;
      await reloading;
    },
  };
}
