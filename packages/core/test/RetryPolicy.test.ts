import * as RetryPolicy from "@effect-auth/core/RetryPolicy"
import { assert, describe, it } from "@effect/vitest"
import * as Duration from "effect/Duration"

describe("RetryPolicy", () => {
  it("parseRetryAfter reads delta-seconds and HTTP-dates", () => {
    const now = Date.parse("Sun, 22 Nov 2026 12:00:00 GMT")
    assert.strictEqual(RetryPolicy.parseRetryAfter("120", now), 120_000)
    assert.strictEqual(RetryPolicy.parseRetryAfter(" 0 ", now), 0)
    assert.strictEqual(RetryPolicy.parseRetryAfter("Sun, 22 Nov 2026 12:00:07 GMT", now), 7_000)
    assert.strictEqual(RetryPolicy.parseRetryAfter("Sun, 22 Nov 2026 11:00:00 GMT", now), 0)
    assert.strictEqual(RetryPolicy.parseRetryAfter("soon", now), undefined)
    assert.strictEqual(RetryPolicy.parseRetryAfter("-5", now), undefined)
    assert.strictEqual(RetryPolicy.parseRetryAfter(undefined, now), undefined)
  })

  it("retries by grant: throttles always, server errors and resets only when replayable", () => {
    const status = (status: number): RetryPolicy.Signal => ({ _tag: "Status", status, retryAfter: undefined })
    const transport = (reason: "Connect" | "Reset" | "Timeout" | "InvalidRequest"): RetryPolicy.Signal => ({
      _tag: "Transport",
      reason
    })
    const table: Array<[RetryPolicy.Signal, boolean, boolean]> = [
      [status(429), true, true],
      [status(503), true, true],
      [status(408), true, false],
      [status(500), true, false],
      [status(502), true, false],
      [status(504), true, false],
      [status(400), false, false],
      [status(401), false, false],
      [status(404), false, false],
      [status(422), false, false],
      [transport("Connect"), true, true],
      [transport("Reset"), true, false],
      [transport("Timeout"), true, false],
      [transport("InvalidRequest"), false, false]
    ]
    for (const [signal, replayable, singleUse] of table) {
      assert.strictEqual(RetryPolicy.isRetryable("replayable", signal), replayable, JSON.stringify(signal))
      assert.strictEqual(RetryPolicy.isRetryable("single-use", signal), singleUse, JSON.stringify(signal))
    }
  })

  it("make fills defaults and clamps nonsense", () => {
    const policy = RetryPolicy.make({ maxAttempts: 0, jitter: 7, maxDelay: "1 second" })
    assert.strictEqual(policy.maxAttempts, 1)
    assert.strictEqual(policy.jitter, 1)
    assert.strictEqual(Duration.toMillis(policy.maxDelay), 1000)
    assert.deepStrictEqual(policy.baseDelay, RetryPolicy.defaults.baseDelay)
  })
})
