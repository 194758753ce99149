/**
 * Cal.com (API v2 platform OAuth, managed users), end to end: log in from a refresh token, call a
 * protected route with the authenticated client, show the token's expiry, force a refresh, log
 * out.
 *
 * ```sh
 * npm run example:cal                                     # no CAL_* variable: a fake Cal.com on a localhost port
 * CAL_CLIENT_ID=... CAL_CLIENT_SECRET=... CAL_REFRESH_TOKEN=... npm run example:cal
 *                                                         # the real API (CAL_BASE_URL, default https://api.cal.com)
 * ```
 *
 * Against the fake, the example first runs the OAuth flow a backend runs once per user
 * (`authorize` with the user's Cal.com session cookie, answered by a 302 carrying a code, then
 * `exchange`), and hands the refresh token it got to the same `Config`-built layers through a
 * `ConfigProvider`.
 *
 * Cal.com rotates refresh tokens: each refresh deletes the one it was sent. Against the real API
 * the example therefore keeps its tokens in a file store (`.tokens/` in the working directory,
 * owner-only) and does not log out at the end: after its first refresh, `CAL_REFRESH_TOKEN` is
 * dead and the stored token is the only way back in; the next run resumes from it. Use a test
 * user: the refresh token you configure is rotated away.
 *
 * @since 0.1.0
 */
import * as CalOAuth from "@effect-auth/cal/CalOAuth"
import * as CalSession from "@effect-auth/cal/CalSession"
import * as TokenStore from "@effect-auth/core/TokenStore"
import * as FakeCal from "@effect-auth/testing/FakeCal"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as NodeKeyValueStore from "@effect/platform-node/NodeKeyValueStore"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as FakeCredentials from "./FakeCredentials.js"
import { expiryAt, fingerprint, protectedCall } from "./Narration.js"
import * as Narration from "./Narration.js"
import * as Target from "./Target.js"
import * as Transport from "./Transport.js"

/** `CAL_CLIENT_ID`, `CAL_CLIENT_SECRET` and `CAL_REFRESH_TOKEN`; `CAL_BASE_URL` is optional. */
const CalLive = (store: Layer.Layer<TokenStore.TokenStore, unknown>) =>
  CalSession.layerConfig({ userKey: "example-user" }).pipe(
    Layer.provideMerge(CalOAuth.layerConfig()),
    Layer.provide(store),
    Layer.provide(Transport.layer)
  )

const program = (end: "logout" | "keep", storeDirectory?: string) =>
  Effect.gen(function*() {
    const { client, session } = yield* CalSession.CalSession
    const now = Clock.currentTimeMillis

    // The first token is a refresh: Cal.com rotates the refresh token right away.
    const tokens = yield* session.token
    console.log(
      `  ✓ logged in: access token ${tokens.accessToken}, ${expiryAt(tokens, yield* now)}; ` +
        `refresh token now ${fingerprint(tokens.refreshToken)}`
    )

    const response = yield* client.get("/v2/me")
    yield* protectedCall("/v2/me", response)

    const refreshed = yield* session.refresh
    console.log(
      `  ✓ refreshed: ${expiryAt(refreshed, yield* now)}; refresh token ` +
        `${fingerprint(tokens.refreshToken)} → ${fingerprint(refreshed.refreshToken)} (rotated)`
    )

    if (end === "logout") {
      yield* session.logout
      console.log("  ✓ logged out: tokens forgotten (Cal.com has no revoke endpoint)")
    } else {
      console.log(
        `  ✓ kept the session in ${storeDirectory}: the next run resumes from the stored refresh token ` +
          "(logging out would leave nothing to log in with)"
      )
    }
  })

const main = Effect.gen(function*() {
  const target = yield* Target.choose({
    provider: "Cal.com",
    variables: ["CAL_BASE_URL", "CAL_CLIENT_ID", "CAL_CLIENT_SECRET", "CAL_REFRESH_TOKEN"],
    complete: [["CAL_CLIENT_ID", "CAL_CLIENT_SECRET", "CAL_REFRESH_TOKEN"]]
  })

  if (target === "real") {
    const directory = Path.resolve(".tokens")
    // The store holds tokens in clear text: only the owner may read it.
    yield* Effect.sync(() => Fs.mkdirSync(directory, { recursive: true, mode: 0o700 }))
    const store = TokenStore.layerKeyValueStore().pipe(Layer.provide(NodeKeyValueStore.layerFileSystem(directory)))
    const baseUrl = yield* Config.withDefault(Config.string("CAL_BASE_URL"), CalOAuth.defaultBaseUrl)
    console.log(`Cal.com example · against ${baseUrl} · tokens kept in ${directory}`)
    return yield* program("keep", directory).pipe(Effect.provide(CalLive(store)))
  }

  const fake = yield* FakeCal.make({ clients: [FakeCredentials.cal] })
  const { url } = yield* NodeFakeServer.serve(fake.server)
  console.log(`Cal.com example · against a fake Cal.com served on ${url}`)
  console.log("  (set CAL_CLIENT_ID, CAL_CLIENT_SECRET and CAL_REFRESH_TOKEN to run against the real API)")

  // Once per user, on your backend: the user's logged-in Cal.com session authorizes your OAuth
  // client (302 with a code), and the code is exchanged for the user's tokens.
  const granted = yield* Effect.gen(function*() {
    const oauth = yield* CalOAuth.make({
      clientId: FakeCredentials.cal.id,
      clientSecret: Redacted.make(FakeCredentials.cal.secret),
      baseUrl: url
    })
    const { code } = yield* oauth.authorize(
      { redirectUri: FakeCredentials.cal.redirectUris[0] },
      Redacted.make(fake.cookie())
    )
    return yield* oauth.exchange({ code })
  }).pipe(Effect.provide(Transport.layer))
  const refreshToken = granted.refreshToken
  if (refreshToken === undefined) return yield* Effect.dieMessage("the exchange returned no refresh token")
  console.log(`  ✓ authorized (302 with a code) and exchanged the code: refresh token ${fingerprint(refreshToken)}`)

  yield* program("logout").pipe(
    Effect.provide(CalLive(TokenStore.layerMemory)),
    Effect.withConfigProvider(Target.fakeConfig({
      CAL_BASE_URL: url,
      CAL_CLIENT_ID: FakeCredentials.cal.id,
      CAL_CLIENT_SECRET: FakeCredentials.cal.secret,
      CAL_REFRESH_TOKEN: Redacted.value(refreshToken)
    }))
  )
})

Narration.runMain(Effect.scoped(main))
