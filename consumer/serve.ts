/**
 * Serves `FakeOccam` from the installed `@effect-auth/testing` on a free localhost port, prints
 * `{ "url": ... }` on one line, and serves until it is told to stop (SIGTERM or SIGINT).
 */
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Effect from "effect/Effect"

const main = Effect.gen(function*() {
  const username = process.env["OCCAM_USERNAME"] ?? "ada@example.com"
  const password = process.env["OCCAM_PASSWORD"] ?? "consumer-password"
  const fake = yield* FakeOccam.make({ accounts: [{ username, password }] })
  const { url } = yield* NodeFakeServer.serve(fake.server)
  console.log(JSON.stringify({ url }))
  return yield* Effect.never
}).pipe(Effect.scoped)

NodeRuntime.runMain(main)
