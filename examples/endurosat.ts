/**
 * EnduroSat's ground-station API, end to end: log in with a password, call a protected route with
 * the authenticated client, show the token's expiry, force a refresh (Cognito keeps the refresh
 * token), log out (which revokes it).
 *
 * ```sh
 * npm run example:endurosat                               # no ENDUROSAT_* variable: a fake on a localhost port
 * ENDUROSAT_CLIENT_ID=... ENDUROSAT_USERNAME=... ENDUROSAT_PASSWORD=... npm run example:endurosat
 *                            # the real API (ENDUROSAT_BASE_URL, default https://api.ground-station.endurosat.com)
 * ```
 *
 * Both runs build the same layers from `Config`. Against the fake, the configuration comes from a
 * `ConfigProvider` holding the fake's address, app client and user. A partial configuration stops
 * the example before any request.
 *
 * @since 0.1.0
 */
import * as EnduroSatAuth from "@effect-auth/endurosat/EnduroSatAuth"
import * as EnduroSatSession from "@effect-auth/endurosat/EnduroSatSession"
import * as FakeEnduroSat from "@effect-auth/testing/FakeEnduroSat"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FakeCredentials from "./FakeCredentials.js"
import { expiryAt, fingerprint, protectedCall } from "./Narration.js"
import * as Narration from "./Narration.js"
import * as Target from "./Target.js"
import * as Transport from "./Transport.js"

/** `ENDUROSAT_CLIENT_ID`, `ENDUROSAT_USERNAME` and `ENDUROSAT_PASSWORD`; `ENDUROSAT_BASE_URL` is optional. */
const EnduroSatLive = EnduroSatSession.layerConfig().pipe(
  Layer.provideMerge(EnduroSatAuth.layerConfig()),
  Layer.provide(Transport.layer)
)

const program = Effect.gen(function*() {
  const { client, session } = yield* EnduroSatSession.EnduroSatSession
  const now = Clock.currentTimeMillis

  const tokens = yield* session.token
  console.log(`  ✓ logged in: access token ${tokens.accessToken}, ${expiryAt(tokens, yield* now)}`)

  const response = yield* client.get(FakeEnduroSat.protectedPath)
  yield* protectedCall(FakeEnduroSat.protectedPath, response)

  const refreshed = yield* session.refresh
  console.log(
    `  ✓ refreshed: ${expiryAt(refreshed, yield* now)}; refresh token ` +
      `${fingerprint(tokens.refreshToken)} → ${fingerprint(refreshed.refreshToken)} (kept: Cognito does not rotate)`
  )

  yield* session.logout
  console.log("  ✓ logged out: refresh token revoked (and with it the access tokens issued from it)")
})

const main = Effect.gen(function*() {
  const target = yield* Target.choose({
    provider: "EnduroSat",
    variables: ["ENDUROSAT_BASE_URL", "ENDUROSAT_CLIENT_ID", "ENDUROSAT_USERNAME", "ENDUROSAT_PASSWORD"],
    complete: [["ENDUROSAT_CLIENT_ID", "ENDUROSAT_USERNAME", "ENDUROSAT_PASSWORD"]]
  })

  if (target === "real") {
    const baseUrl = yield* Config.withDefault(Config.string("ENDUROSAT_BASE_URL"), EnduroSatAuth.defaultBaseUrl)
    console.log(`EnduroSat example · against ${baseUrl}`)
    return yield* program.pipe(Effect.provide(EnduroSatLive))
  }

  const fake = yield* FakeEnduroSat.make({
    clientIds: [FakeCredentials.enduroSat.clientId],
    users: [FakeCredentials.enduroSat]
  })
  const { url } = yield* NodeFakeServer.serve(fake.server)
  console.log(`EnduroSat example · against a fake EnduroSat served on ${url}`)
  console.log("  (set ENDUROSAT_CLIENT_ID, ENDUROSAT_USERNAME and ENDUROSAT_PASSWORD to run against the real API)")
  yield* program.pipe(
    Effect.provide(EnduroSatLive),
    Effect.withConfigProvider(Target.fakeConfig({
      ENDUROSAT_BASE_URL: url,
      ENDUROSAT_CLIENT_ID: FakeCredentials.enduroSat.clientId,
      ENDUROSAT_USERNAME: FakeCredentials.enduroSat.username,
      ENDUROSAT_PASSWORD: FakeCredentials.enduroSat.password
    }))
  )
  const revokes = (yield* fake.server.requests).filter((request) => request.path === "/oauth2/revoke").length
  console.log(`  ✓ the fake's request log: ${revokes} POST /oauth2/revoke`)
})

Narration.runMain(Effect.scoped(main))
