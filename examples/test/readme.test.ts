// The "Testing your application with the fakes" example of the README, kept compiling and passing.
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import { expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as TestClock from "effect/TestClock"

it.effect("logs in through a throttled token endpoint", () =>
  Effect.gen(function*() {
    const fake = yield* FakeOccam.make({ accounts: [{ username: "ada@example.com", password: "pw" }] })
    yield* fake.server.inject(Fault.status(503, { retryAfter: 2 }))
    const OccamTest = OccamAuth.layer().pipe(Layer.provide(FakeServer.layerClient(fake.server)))

    const login = yield* OccamAuth.OccamAuth.pipe(
      Effect.flatMap((auth) => auth.login({ username: "ada@example.com", password: Redacted.make("pw") })),
      Effect.provide(OccamTest),
      Effect.fork
    )
    yield* TestClock.adjust("2 seconds") // the Retry-After, on the test clock
    const tokens = yield* Fiber.join(login)

    expect(tokens.refreshToken).toBeDefined()
    expect((yield* fake.server.requests).map((request) => request.fault)).toEqual(["Status", undefined])
  }))
