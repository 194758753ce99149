import * as NodeRedisServer from "@effect-auth/testing/NodeRedisServer"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Soak from "../soak/Soak.js"

// The short form of `npm run soak`: 8 processes sharing one identity on one Redis, a normal run
// and a run in which the lease holder is killed mid-refresh. It asserts the coordination the
// Redis store promises (no refresh token presented twice, one refresh per expiry, one login)
// and prints the rest of the figures: requests that carried an expired token and failed caller
// requests depend on how busy the machine is, and `npm run soak` reports them in SOAK.md.

const installed = NodeRedisServer.isInstalled()
if (!installed) {
  if (process.env.CI !== undefined && process.env.CI !== "") throw new Error("CI needs redis-server for the soak")
  console.log("soak skipped: no redis-server on PATH")
}

const base = { processes: 8, lifetime: 2_000, duration: 5_000, faultAt: 2_000, partitionFor: 5_000 }

/** One short run, its figures printed, and what every run must show: the processes served callers. */
const soak = (fault: Soak.Fault, reporting: number) =>
  Effect.tap(Soak.run({ ...base, fault }), (result) =>
    Effect.sync(() => {
      console.log(Soak.table([result]))
      assert.strictEqual(result.reported, reporting)
      assert.isAbove(result.callerRequests, 0)
    }))

describe.skipIf(!installed)("soak (short form of npm run soak)", () => {
  it.live(
    "8 processes, one identity: one refresh per expiry, no refresh token presented twice, one login",
    () =>
      Effect.map(soak("none", 8), (result) => {
        assert.isAtLeast(result.tokenExpiries, 2)
        assert.strictEqual(result.reuseRejections, 0)
        assert.isAtMost(result.mostRefreshesOfOneToken, 1)
        assert.strictEqual(result.loginsSent, 1)
      }),
    60_000
  )

  it.live(
    "the lease holder killed mid-refresh: the others take over, callers keep being served",
    () =>
      Effect.map(soak("kill-holder", 7), (result) => {
        assert.strictEqual(result.killed.length, 1)
        // The killed holder's refresh either reached the server (its token spent, the answer lost:
        // one rejection when a survivor presents it, then one login starts a new family) or died
        // with its socket (the survivor's refresh with the same token succeeds).
        assert.isAtMost(result.reuseRejections, 1)
        assert.isAtMost(result.loginsSent, 2)
        assert.isAtMost(result.mostRefreshesOfOneToken, 2)
      }),
    60_000
  )
})
