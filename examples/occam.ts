/**
 * Occam AI, end to end: log in, call a protected route with the authenticated client, show the
 * token's expiry, force a refresh, log out.
 *
 * ```sh
 * npm run example:occam                                   # no OCCAM_* variable: a fake Occam on a localhost port
 * OCCAM_USERNAME=... OCCAM_PASSWORD=... npm run example:occam
 * OCCAM_API_KEY=sk-occam-... npm run example:occam         # the real API (OCCAM_BASE_URL, default https://api.occam.ai)
 * ```
 *
 * Both runs build the same layers from `Config`. Against the fake, the configuration comes from a
 * `ConfigProvider` holding the fake's address and account instead of the environment. A partial
 * configuration (a username without a password, say) stops the example before any request.
 *
 * @since 0.1.0
 */
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as OccamSession from "@effect-auth/occam/OccamSession"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FakeCredentials from "./FakeCredentials.js"
import { expiryAt, fingerprint, protectedCall } from "./Narration.js"
import * as Narration from "./Narration.js"
import * as Target from "./Target.js"
import * as Transport from "./Transport.js"

/** `OCCAM_API_KEY`, or `OCCAM_USERNAME` and `OCCAM_PASSWORD`; `OCCAM_BASE_URL` is optional. */
const OccamLive = OccamSession.layerConfig().pipe(
  Layer.provideMerge(OccamAuth.layerConfig()),
  Layer.provide(Transport.layer)
)

const program = (protectedPath: string) =>
  Effect.gen(function*() {
    const { client, session } = yield* OccamSession.OccamSession
    const now = Clock.currentTimeMillis

    const tokens = yield* session.token
    console.log(`  ✓ logged in: access token ${tokens.accessToken}, ${expiryAt(tokens, yield* now)}`)

    const response = yield* client.get(protectedPath)
    yield* protectedCall(protectedPath, response)

    const refreshed = yield* session.refresh
    console.log(
      `  ✓ refreshed: ${expiryAt(refreshed, yield* now)}; refresh token ` +
        `${fingerprint(tokens.refreshToken)} → ${fingerprint(refreshed.refreshToken)}`
    )

    yield* session.logout
    console.log("  ✓ logged out: tokens forgotten (Occam has no revoke endpoint)")
  })

const main = Effect.gen(function*() {
  const target = yield* Target.choose({
    provider: "Occam AI",
    variables: ["OCCAM_BASE_URL", "OCCAM_API_KEY", "OCCAM_USERNAME", "OCCAM_PASSWORD"],
    complete: [["OCCAM_USERNAME", "OCCAM_PASSWORD"], ["OCCAM_API_KEY"]]
  })

  if (target === "real") {
    console.log(`Occam AI example · against ${yield* OccamAuth.baseUrlConfig}`)
    // `/agents` is the route of the package README's example.
    return yield* program("/agents").pipe(Effect.provide(OccamLive))
  }

  const fake = yield* FakeOccam.make({ accounts: [FakeCredentials.occam] })
  const { url } = yield* NodeFakeServer.serve(fake.server)
  console.log(`Occam AI example · against a fake Occam served on ${url}`)
  console.log("  (set OCCAM_USERNAME and OCCAM_PASSWORD, or OCCAM_API_KEY, to run against the real API)")
  yield* program(FakeOccam.protectedPath).pipe(
    Effect.provide(OccamLive),
    Effect.withConfigProvider(Target.fakeConfig({
      OCCAM_BASE_URL: url,
      OCCAM_USERNAME: FakeCredentials.occam.username,
      OCCAM_PASSWORD: FakeCredentials.occam.password
    }))
  )
})

Narration.runMain(Effect.scoped(main))
