/**
 * `npm start`: the whole job of effect-auth in a few seconds, with nothing to configure.
 *
 * The four fake providers (Occam AI, IX-API, Cal.com, EnduroSat) are served on free localhost
 * ports with token lifetimes of a few seconds, the four session layers are composed over a real
 * `HttpClient`, and for each provider the program narrates: the login, a protected call through
 * the authenticated client, a refresh the session schedules by itself (Cal.com rotating its
 * refresh token, EnduroSat keeping its own), a wrong credential caught by its typed error with
 * `Effect.catchTags`, a 503 with `Retry-After` absorbed by the retry policy, and the logout.
 * EnduroSat's session stays open and revokes its refresh token when the program shuts down.
 *
 * The four stories run concurrently; their lines are printed in order. Tokens appear only as
 * `<redacted>` or as a fingerprint (the last 4 hex digits of their SHA-256).
 *
 * @since 0.1.0
 */
import * as CalOAuth from "@effect-auth/cal/CalOAuth"
import * as CalSession from "@effect-auth/cal/CalSession"
import * as AuthSession from "@effect-auth/core/AuthSession"
import type * as SessionClient from "@effect-auth/core/SessionClient"
import type * as TokenSet from "@effect-auth/core/TokenSet"
import * as EnduroSatAuth from "@effect-auth/endurosat/EnduroSatAuth"
import * as EnduroSatSession from "@effect-auth/endurosat/EnduroSatSession"
import * as IxApiAuth from "@effect-auth/ix-api/IxApiAuth"
import * as IxApiSession from "@effect-auth/ix-api/IxApiSession"
import * as OccamAuth from "@effect-auth/occam/OccamAuth"
import * as OccamSession from "@effect-auth/occam/OccamSession"
import * as FakeCal from "@effect-auth/testing/FakeCal"
import * as FakeEnduroSat from "@effect-auth/testing/FakeEnduroSat"
import * as FakeIxApi from "@effect-auth/testing/FakeIxApi"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import type * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as FakeCredentials from "./FakeCredentials.js"
import { duration, excerpt, expiry, fingerprint } from "./Narration.js"
import * as Narration from "./Narration.js"
import * as Transport from "./Transport.js"

/** Short enough to see a scheduled refresh within the run. */
const accessTokenLifetime = "3 seconds"

/** Refresh 1 second (plus up to 100 ms) before expiry, instead of the production 60 (plus 30). */
const timing = { skew: "1 second", jitter: "100 millis" } as const

/** Something the demo expected did not happen. */
class Unexpected extends Data.TaggedError("Unexpected")<{ readonly message: string }> {}

// -----------------------------------------------------------------------------
// the fakes, on localhost ports
// -----------------------------------------------------------------------------

const serveFakes = Effect.gen(function*() {
  const occam = yield* FakeOccam.make({ accounts: [FakeCredentials.occam], accessTokenLifetime })
  const ixApi = yield* FakeIxApi.make({
    apiKeys: [{ ...FakeCredentials.ixApi, subject: "AS64500" }],
    accessLifetime: accessTokenLifetime
  })
  const cal = yield* FakeCal.make({ clients: [FakeCredentials.cal], accessTokenLifetime, roundExpiry: false })
  const enduroSat = yield* FakeEnduroSat.make({
    clientIds: [FakeCredentials.enduroSat.clientId],
    users: [FakeCredentials.enduroSat],
    accessTokenLifetime
  })
  const [occamAt, ixApiAt, calAt, enduroSatAt] = yield* Effect.all([
    NodeFakeServer.serve(occam.server),
    NodeFakeServer.serve(ixApi.server),
    NodeFakeServer.serve(cal.server),
    NodeFakeServer.serve(enduroSat.server)
  ])
  return {
    occam: { fake: occam, url: occamAt.url },
    ixApi: { fake: ixApi, url: ixApiAt.url },
    cal: { fake: cal, url: calAt.url },
    enduroSat: { fake: enduroSat, url: enduroSatAt.url }
  }
})

type Fakes = Effect.Effect.Success<typeof serveFakes>

// -----------------------------------------------------------------------------
// the four sessions, composed as an application would
// -----------------------------------------------------------------------------

/**
 * The four session layers, each with its auth service (kept in the output: the stories use them
 * too), over the `HttpClient` in context: `Transport.layer` (undici on Node.js, `fetch` on Bun and
 * Deno), provided at the bottom.
 */
const Sessions = (fakes: Fakes, calRefreshToken: Redacted.Redacted<string>) =>
  Layer.mergeAll(
    OccamSession.layer({
      credentials: {
        username: FakeCredentials.occam.username,
        password: Redacted.make(FakeCredentials.occam.password)
      },
      ...timing
    }).pipe(Layer.provideMerge(OccamAuth.layer({ baseUrl: fakes.occam.url }))),
    IxApiSession.layer({
      credentials: {
        apiKey: FakeCredentials.ixApi.apiKey,
        apiSecret: Redacted.make(FakeCredentials.ixApi.apiSecret)
      },
      ...timing
    }).pipe(Layer.provideMerge(IxApiAuth.layer({ baseUrl: `${fakes.ixApi.url}${fakes.ixApi.fake.basePath}` }))),
    CalSession.layer({
      credentials: { refreshToken: calRefreshToken },
      key: CalSession.storeKey(FakeCredentials.cal.id, "demo-user"),
      ...timing
    }).pipe(
      Layer.provideMerge(CalOAuth.layer({
        clientId: FakeCredentials.cal.id,
        clientSecret: Redacted.make(FakeCredentials.cal.secret),
        baseUrl: fakes.cal.url
      }))
    ),
    EnduroSatSession.layer({
      credentials: {
        username: FakeCredentials.enduroSat.username,
        password: Redacted.make(FakeCredentials.enduroSat.password)
      },
      revokeOnClose: true,
      ...timing
    }).pipe(Layer.provideMerge(EnduroSatAuth.layer({
      clientId: FakeCredentials.enduroSat.clientId,
      baseUrl: fakes.enduroSat.url
    })))
  )

// -----------------------------------------------------------------------------
// one provider's story
// -----------------------------------------------------------------------------

/**
 * One provider's story. Its session and client are `SessionClient.Authenticated`, the shape every
 * provider's session service has, so one `tell` serves all four.
 */
interface Story<E, EV, EW, RW> extends SessionClient.Authenticated<E, EV> {
  readonly title: string
  readonly server: FakeServer.FakeServer
  readonly protectedPath: string
  /** Where refresh requests go, for the 503 and the request counts. */
  readonly refreshPath: string
  /** What the login line says about how the session logged in. */
  readonly loggedIn: (tokens: TokenSet.TokenSet) => string
  /** Why the refresh token changed or did not. */
  readonly rotation: string
  /** A wrong credential, and the line saying which typed error `catchTags` caught. */
  readonly wrongCredential: Effect.Effect<string, EW, RW>
  /** Log out at the end, or leave the session to the layer's release. */
  readonly end: "logout" | "keep"
}

const requestsTo = (server: FakeServer.FakeServer, path: string) =>
  Effect.map(server.requests, (requests) => requests.filter((request) => request.path === path).length)

/** Waits, on the real clock, for the session's next `Valid` state after a `Refreshing` one. */
const nextRefresh = <E>(session: AuthSession.AuthSession<E, unknown>) =>
  AuthSession.changes(session).pipe(
    Stream.dropWhile((state) => state._tag !== "Refreshing"),
    Stream.filter((state) => state._tag === "Valid"),
    Stream.runHead,
    Effect.timeoutFail({
      duration: "15 seconds",
      onTimeout: () => new Unexpected({ message: `${session.provider}: no scheduled refresh within 15 seconds` })
    })
  )

const tell = <E, EV, EW, RW>(story: Story<E, EV, EW, RW>) => (say: Narration.Say) =>
  Effect.gen(function*() {
    const { server, session } = story
    const now = Clock.currentTimeMillis
    yield* say(`\n${story.title}`)

    // 1. Log in: the first `token` does it.
    const first = yield* session.token
    const expires = expiry(first, yield* now)
    yield* say(`  ✓ logged in ${story.loggedIn(first)}: access token ${first.accessToken}, ${expires}`)

    // 2. A protected route, through the client that adds `Authorization: Bearer`.
    const response = yield* story.client.get(story.protectedPath)
    const body = yield* response.text
    if (response.status !== 200) {
      return yield* new Unexpected({ message: `GET ${story.protectedPath} answered ${response.status}` })
    }
    yield* say(`  ✓ protected call: GET ${story.protectedPath} → ${response.status} ${excerpt(body, 48)}`)

    // 3. Nobody asks for a token: the session refreshes ahead of expiry by itself.
    const before = yield* session.token
    yield* nextRefresh(session)
    const refreshedAt = yield* now
    const after = yield* session.token
    const early = duration((before.expiresAt ?? refreshedAt) - refreshedAt)
    const [was, is] = [fingerprint(before.refreshToken), fingerprint(after.refreshToken)]
    yield* say(
      `  ✓ scheduled refresh by itself, ${early} before expiry: refresh token ${was} → ${is} ` +
        `(${was === is ? "kept" : "rotated"}: ${story.rotation})`
    )

    // 4. A wrong credential fails with a typed error, caught by its tag.
    yield* say(`  ✓ ${yield* story.wrongCredential}`)

    // 5. The server says "not now": 503 with Retry-After: 1, absorbed by the retry policy.
    yield* server.inject(Fault.status(503, { retryAfter: 1, path: story.refreshPath }))
    const sentBefore = yield* requestsTo(server, story.refreshPath)
    const startedAt = yield* now
    yield* session.refresh
    const took = duration((yield* now) - startedAt)
    const sent = (yield* requestsTo(server, story.refreshPath)) - sentBefore
    yield* say(
      `  ✓ 503 + Retry-After: 1 absorbed: the refresh was retried after ${took} (fake's log: ${sent} requests)`
    )

    // 6. Log out (these providers have no revoke endpoint: the session forgets the tokens), or
    // stay logged in and hand the last token to the shutdown check.
    if (story.end === "logout") {
      yield* session.logout
      yield* say(`  ✓ logged out: tokens forgotten, session ${(yield* session.state)._tag}`)
      return undefined
    }
    yield* say("  ✓ still logged in: the session revokes its refresh token at shutdown")
    return yield* session.token
  })

// -----------------------------------------------------------------------------
// the program
// -----------------------------------------------------------------------------

const main = Effect.gen(function*() {
  const startedAt = yield* Clock.currentTimeMillis
  console.log("effect-auth quickstart: four token APIs, each served by its fake on a localhost port")
  console.log("(tokens appear as <redacted>, or as #1a2b: the last 4 hex digits of their SHA-256)")
  const fakes = yield* serveFakes
  // A refresh token the Cal.com user granted earlier (the OAuth flow itself is in examples/cal.ts).
  const granted = Redacted.make((yield* fakes.cal.fake.issueTokens()).refreshToken)
  const wrong = Redacted.make(FakeCredentials.wrongPassword)
  const last = yield* Effect.gen(function*() {
    const occam = yield* OccamSession.OccamSession
    const occamAuth = yield* OccamAuth.OccamAuth
    const ixApi = yield* IxApiSession.IxApiSession
    const ixApiAuth = yield* IxApiAuth.IxApiAuth
    const cal = yield* CalSession.CalSession
    const enduroSat = yield* EnduroSatSession.EnduroSatSession
    const enduroSatAuth = yield* EnduroSatAuth.EnduroSatAuth

    const [, , , enduroSatLast] = yield* Narration.inOrder(4, (chapter) =>
      Effect.all([
        chapter(
          0,
          tell({
            title: `Occam AI · fake on ${fakes.occam.url} · access tokens live 3 s`,
            ...occam,
            server: fakes.occam.fake.server,
            protectedPath: FakeOccam.protectedPath,
            refreshPath: "/auth/refresh-token",
            loggedIn: () => `as ${FakeCredentials.occam.username} (password grant)`,
            rotation: "single-use",
            wrongCredential: occamAuth.login({ username: FakeCredentials.occam.username, password: wrong }).pipe(
              Effect.zipRight(new Unexpected({ message: "Occam accepted a wrong password" })),
              Effect.catchTags({
                InvalidCredentials: (error) =>
                  Effect.succeed(`wrong password → caught InvalidCredentials: "${error.detail}"`)
              })
            ),
            end: "logout"
          })
        ),
        chapter(
          1,
          tell({
            title: `IX-API · fake on ${fakes.ixApi.url} · access tokens (JWTs) live 3 s`,
            ...ixApi,
            server: fakes.ixApi.fake.server,
            protectedPath: "/accounts",
            refreshPath: `${fakes.ixApi.fake.basePath}/auth/refresh`,
            loggedIn: () => "with an API key and secret",
            rotation: "single-use",
            wrongCredential: ixApiAuth.createToken({ apiKey: FakeCredentials.ixApi.apiKey, apiSecret: wrong })
              .pipe(
                Effect.zipRight(new Unexpected({ message: "IX-API accepted a wrong secret" })),
                Effect.catchTags({
                  AuthenticationError: (error) =>
                    Effect.succeed(`wrong API secret → caught AuthenticationError (${error.reason}): "${error.detail}"`)
                })
              ),
            end: "logout"
          })
        ),
        chapter(
          2,
          tell({
            title: `Cal.com · fake on ${fakes.cal.url} · access tokens live 3 s`,
            ...cal,
            server: fakes.cal.fake.server,
            protectedPath: "/v2/me",
            refreshPath: `/v2/oauth/${FakeCredentials.cal.id}/refresh`,
            loggedIn: (tokens) =>
              `from the user's refresh token ${fingerprint(granted)}, rotated to ${fingerprint(tokens.refreshToken)}`,
            rotation: "Cal.com deleted the old one",
            // A client built with the wrong secret: Cal.com checks the secret before anything else.
            wrongCredential: CalOAuth.make({
              clientId: FakeCredentials.cal.id,
              clientSecret: wrong,
              baseUrl: fakes.cal.url
            })
              .pipe(
                Effect.flatMap((client) =>
                  client.refresh({ refreshToken: Redacted.make("never-sent-to-a-real-server") })
                ),
                Effect.zipRight(new Unexpected({ message: "Cal.com accepted a wrong client secret" })),
                Effect.catchTags({
                  InvalidClientSecret: (error) =>
                    Effect.succeed(
                      `wrong client secret → caught InvalidClientSecret (${error.status}): "${error.message}"`
                    )
                })
              ),
            end: "logout"
          })
        ),
        chapter(
          3,
          tell({
            title: `EnduroSat · fake on ${fakes.enduroSat.url} · access tokens live 3 s`,
            ...enduroSat,
            server: fakes.enduroSat.fake.server,
            protectedPath: FakeEnduroSat.protectedPath,
            refreshPath: "/oauth2/token",
            loggedIn: () => `as ${FakeCredentials.enduroSat.username} (password grant)`,
            rotation: "Cognito does not rotate",
            wrongCredential: enduroSatAuth.login({ username: FakeCredentials.enduroSat.username, password: wrong })
              .pipe(
                Effect.zipRight(new Unexpected({ message: "EnduroSat accepted a wrong password" })),
                Effect.catchTags({
                  InvalidCredentials: (error) =>
                    Effect.succeed(`wrong password → caught InvalidCredentials: "${error.error}"`)
                })
              ),
            end: "keep"
          })
        )
      ], { concurrency: "unbounded" }))
    return enduroSatLast
  }).pipe(Effect.provide(Sessions(fakes, granted)))

  // The session layers are released: EnduroSat's revoked its refresh token on the way out.
  console.log("\nShutdown")
  const revokes = (yield* fakes.enduroSat.fake.server.requests).filter((request) => request.path === "/oauth2/revoke")
  if (revokes.length !== 1 || last === undefined) {
    return yield* new Unexpected({ message: `EnduroSat: expected one revoke on close, the fake saw ${revokes.length}` })
  }
  const probe = yield* HttpClient.execute(
    HttpClientRequest.get(`${fakes.enduroSat.url}${FakeEnduroSat.protectedPath}`).pipe(
      HttpClientRequest.bearerToken(last.accessToken)
    )
  )
  console.log(
    `  ✓ EnduroSat revoked on close: POST /oauth2/revoke in the fake's log; its last access token now gets ${probe.status}`
  )
  console.log("  ✓ Occam AI, IX-API and Cal.com sessions closed (they logged out above)")
  console.log(`\nDone in ${duration((yield* Clock.currentTimeMillis) - startedAt)}.`)
}).pipe(Effect.scoped)

Narration.runMain(main.pipe(Effect.provide(Transport.layer)))
