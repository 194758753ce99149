/**
 * IX-API v2, end to end: create a token from an API key and secret, call a protected route with
 * the authenticated client, show the token's expiry (read from its JWT `exp`), force a refresh,
 * log out.
 *
 * ```sh
 * npm run example:ix-api                                  # no IXAPI_* variable: a fake IX-API on a localhost port
 * IXAPI_BASE_URL=https://<ixp-host>/api/v2 IXAPI_API_KEY=... IXAPI_API_SECRET=... npm run example:ix-api
 * ```
 *
 * IX-API is hosted by each internet exchange, so against the real API `IXAPI_BASE_URL` is required
 * too. Both runs build the same layers from `Config`; against the fake, the configuration comes
 * from a `ConfigProvider` holding the fake's address and key. A partial configuration stops the
 * example before any request.
 *
 * @since 0.1.0
 */
import * as IxApiAuth from "@effect-auth/ix-api/IxApiAuth"
import * as IxApiSession from "@effect-auth/ix-api/IxApiSession"
import * as FakeIxApi from "@effect-auth/testing/FakeIxApi"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as FakeCredentials from "./FakeCredentials.js"
import { expiryAt, fingerprint, protectedCall } from "./Narration.js"
import * as Narration from "./Narration.js"
import * as Target from "./Target.js"
import * as Transport from "./Transport.js"

/** `IXAPI_BASE_URL`, `IXAPI_API_KEY` and `IXAPI_API_SECRET`. */
const IxApiLive = IxApiSession.layerConfig().pipe(
  Layer.provideMerge(IxApiAuth.layerConfig()),
  Layer.provide(Transport.layer)
)

const program = Effect.gen(function*() {
  const { client, session } = yield* IxApiSession.IxApiSession
  const now = Clock.currentTimeMillis

  const tokens = yield* session.token
  console.log(`  ✓ logged in: access token ${tokens.accessToken}, ${expiryAt(tokens, yield* now)}`)

  const response = yield* client.get("/accounts")
  yield* protectedCall("/accounts", response)

  const refreshed = yield* session.refresh
  console.log(
    `  ✓ refreshed: ${expiryAt(refreshed, yield* now)}; refresh token ` +
      `${fingerprint(tokens.refreshToken)} → ${fingerprint(refreshed.refreshToken)}`
  )

  yield* session.logout
  console.log("  ✓ logged out: tokens forgotten (IX-API has no revoke endpoint)")
})

const main = Effect.gen(function*() {
  const target = yield* Target.choose({
    provider: "IX-API",
    variables: ["IXAPI_BASE_URL", "IXAPI_API_KEY", "IXAPI_API_SECRET"],
    complete: [["IXAPI_BASE_URL", "IXAPI_API_KEY", "IXAPI_API_SECRET"]]
  })

  if (target === "real") {
    console.log(`IX-API example · against ${yield* IxApiAuth.baseUrlConfig}`)
    return yield* program.pipe(Effect.provide(IxApiLive))
  }

  const fake = yield* FakeIxApi.make({ apiKeys: [{ ...FakeCredentials.ixApi, subject: "AS64500" }] })
  const { url } = yield* NodeFakeServer.serve(fake.server)
  console.log(`IX-API example · against a fake IX-API served on ${url}${fake.basePath}`)
  console.log("  (set IXAPI_BASE_URL, IXAPI_API_KEY and IXAPI_API_SECRET to run against your IXP's API)")
  yield* program.pipe(
    Effect.provide(IxApiLive),
    Effect.withConfigProvider(Target.fakeConfig({
      IXAPI_BASE_URL: `${url}${fake.basePath}`,
      IXAPI_API_KEY: FakeCredentials.ixApi.apiKey,
      IXAPI_API_SECRET: FakeCredentials.ixApi.apiSecret
    }))
  )
})

Narration.runMain(Effect.scoped(main))
