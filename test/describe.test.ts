import { strict as assert } from "node:assert";
import { inspect } from "node:util";
import fc from "fast-check";
import { DESCRIPTION_MAX_LENGTH, UNREADABLE_PLACEHOLDER, describeThrown, escapeControls } from "../src/describe";
import { ExperimentError, MismatchError } from "../src/errors";
import type { Result } from "../src/types/results";
import { deepArrays, deepChain, hostileErrorInstance, hostileValue, nastyError, revokedProxy, throwingProxy } from "./reliability/hostile";

describe("describeThrown", () => {
  it("describes an error as Name: message", () => {
    assert.equal(describeThrown(new TypeError("boom")), "TypeError: boom");
  });

  it("describes an error with an empty message by its name alone", () => {
    assert.equal(describeThrown(new RangeError()), "RangeError");
  });

  it("names a subclass by its name property, else by its constructor", () => {
    class PaymentError extends Error {}
    assert.equal(describeThrown(new PaymentError("declined")), "Error: declined");
    class Named extends Error {
      override name = "Named";
    }
    assert.equal(describeThrown(new Named("x")), "Named: x");
  });

  it("quotes a thrown string and renders other thrown values", () => {
    assert.equal(describeThrown("text"), '"text"');
    assert.equal(describeThrown(undefined), "undefined");
    assert.equal(describeThrown(null), "null");
    assert.equal(describeThrown(42), "42");
    assert.equal(describeThrown({ code: 1 }), '{"code":1}');
    assert.equal(describeThrown(Symbol("s")), "Symbol(s)");
  });

  it("says the message is unreadable when the message getter throws", () => {
    class E extends Error {
      override get message(): string {
        throw new Error("x");
      }
    }
    assert.equal(describeThrown(new E()), "Error: (message unreadable)");
  });

  it("falls back to the constructor's name when the name getter throws", () => {
    class Hostile extends Error {
      override get name(): string {
        throw new Error("x");
      }
    }
    assert.equal(describeThrown(new Hostile("m")), "Hostile: m");
  });

  it("never calls toString, Symbol.toPrimitive or util.inspect.custom of the value", () => {
    let called = 0;
    const value = {
      n: 1,
      toString(): string {
        called++;
        return "no";
      },
      [Symbol.toPrimitive](): string {
        called++;
        return "no";
      },
      [inspect.custom](): string {
        called++;
        return "no";
      },
    };
    const text = describeThrown(value);
    assert.equal(called, 0);
    assert.ok(text.includes('"n":1'), text);
  });

  it("never calls the toString of an error's non-text message, and says it is unreadable", () => {
    const e = new Error("x");
    let called = 0;
    Object.defineProperty(e, "message", {
      value: {
        toString(): string {
          called++;
          throw new Error("no");
        },
      },
    });
    assert.equal(describeThrown(e), "Error: (message unreadable)");
    assert.equal(called, 0);
  });

  it("describes a revoked Proxy with the placeholder", () => {
    assert.equal(describeThrown(revokedProxy()), UNREADABLE_PLACEHOLDER);
  });

  it("describes a Proxy whose every trap throws without throwing", () => {
    const text = describeThrown(throwingProxy({ a: 1 }));
    assert.equal(typeof text, "string");
    assert.ok(text.length > 0);
  });

  it("describes a null-prototype object by its fields", () => {
    const o = Object.create(null) as Record<string, unknown>;
    o["code"] = "E1";
    assert.equal(describeThrown(o), '{"code":"E1"}');
  });

  it("marks a field whose getter throws and keeps the rest", () => {
    const o = {
      a: 1,
      get b(): never {
        throw new Error("x");
      },
    };
    assert.equal(describeThrown(o), '{"a":1,"b":[Getter threw]}');
  });

  it("bounds the length of a huge message", () => {
    const text = describeThrown(new Error("m".repeat(1_000_000)));
    assert.ok(text.length <= DESCRIPTION_MAX_LENGTH, String(text.length));
    assert.ok(text.endsWith("…"));
  });

  it("bounds a toJSON that returns a fresh object with a toJSON of its own, for ever", () => {
    const make = (): object => ({ toJSON: make });
    const text = describeThrown(make());
    assert.ok(text.length <= DESCRIPTION_MAX_LENGTH);
  });

  it("describes values 10 000 levels deep without overflowing the stack", () => {
    for (const value of [deepChain(10_000), deepArrays(10_000)]) {
      const text = describeThrown(value);
      assert.ok(text.length <= DESCRIPTION_MAX_LENGTH);
      assert.ok(text.startsWith("{") || text.startsWith("["), text.slice(0, 20));
    }
  });

  it("escapes terminal control characters from a message", () => {
    const text = describeThrown(new Error("a\u001b[2Jb\u0007"));
    assert.equal(text, "Error: a\\u001b[2Jb\\u0007");
  });

  it("never throws and stays bounded for generated hostile values", () => {
    fc.assert(
      fc.property(hostileValue(), (recipe) => {
        const text = describeThrown(recipe.build());
        assert.equal(typeof text, "string");
        assert.ok(text.length <= DESCRIPTION_MAX_LENGTH);
      }),
      { numRuns: 400 },
    );
  });
});

describe("escapeControls", () => {
  it("keeps tabs and newlines and escapes the other control characters", () => {
    assert.equal(escapeControls("a\tb\nc\u0000d\u007f"), "a\tb\nc\\u0000d\\u007f");
  });

  it("escapes C1 controls and bidirectional overrides, so a message cannot read reordered", () => {
    assert.equal(escapeControls("id\u202egnp.exe\u2066x\u2069\u0085"), "id\\u202egnp.exe\\u2066x\\u2069\\u0085");
    assert.equal(describeThrown(new Error("total \u202e01 vs 10")), "Error: total \\u202e01 vs 10");
  });
});

describe("ExperimentError", () => {
  it("is built from any thrown value without throwing, its message describing the cause", () => {
    for (let kind = 0; kind < 6; kind++) {
      const cause = hostileErrorInstance(kind);
      const error = new ExperimentError("exp", "runIf", cause);
      assert.ok(error.message.startsWith("experiment 'exp': runIf failed: "), error.message);
      assert.equal(error.cause, cause);
    }
  });

  it("is built from generated hostile causes without throwing", () => {
    fc.assert(
      fc.property(hostileValue(), (recipe) => {
        const cause = recipe.build();
        const error = new ExperimentError("exp", "compare", cause);
        assert.ok(error.message.length < 200 + DESCRIPTION_MAX_LENGTH);
        assert.equal(error.cause, cause);
      }),
      { numRuns: 200 },
    );
  });
});

describe("MismatchError", () => {
  function resultWith(controlError: unknown, candidateValue: unknown): Result<unknown> {
    const observation = { effects: [], leaks: [], durationMs: 1, timedOut: false, isolated: true };
    return {
      experiment: "hostile",
      runId: "r1",
      startedAt: 0,
      context: {},
      servedBy: "control",
      control: { ...observation, name: "control", role: "control", threw: true, error: controlError },
      candidates: [{ ...observation, name: "candidate", role: "candidate", threw: false, value: candidateValue, cleanedValue: candidateValue }],
      matched: false,
      mismatched: true,
      ignored: false,
      outcomes: { candidate: "mismatched" },
      mismatches: [{ candidate: "candidate", kind: "error", diffs: [], summary: "threw X vs returned 1", buckets: [] }],
      noise: [],
    };
  }

  it("describes an error whose stack getter throws by its name and message", () => {
    const e = new TypeError("boom");
    Object.defineProperty(e, "stack", {
      get(): never {
        throw nastyError();
      },
    });
    const error = new MismatchError(resultWith(e, 1));
    assert.ok(error.message.includes("control:\n  threw TypeError: boom\n"), error.message);
  });

  it("is built without throwing whatever the observations hold", () => {
    fc.assert(
      fc.property(hostileValue(), hostileValue(), (thrown, value) => {
        const error = new MismatchError(resultWith(thrown.build(), value.build()));
        assert.ok(error.message.startsWith("experiment 'hostile' observations mismatched:"));
        assert.ok(error.message.length < 20_000);
      }),
      { numRuns: 200 },
    );
  });
});

describe("penumbra's error messages and terminal control characters", () => {
  it("escapes control characters in an ExperimentError's experiment name and detail", () => {
    const error = new ExperimentError("exp\u001b[2J", "publish", new Error("x"), "detail\u0007");
    assert.equal(error.message, "experiment 'exp\\u001b[2J': publish failed: detail\\u0007");
    assert.equal(error.experiment, "exp\u001b[2J", "the property keeps the name as given");
  });
});
