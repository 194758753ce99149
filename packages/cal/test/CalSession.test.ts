import * as CalOAuth from "@effect-auth/cal/CalOAuth"
import * as CalSession from "@effect-auth/cal/CalSession"
import * as AuthSession from "@effect-auth/core/AuthSession"
import * as TokenStore from "@effect-auth/core/TokenStore"
import * as FakeCal from "@effect-auth/testing/FakeCal"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as Fault from "@effect-auth/testing/Fault"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"

/** The fake, and the layers a session is built with: CalOAuth and HttpClient over the fake. */
const setup = Effect.gen(function*() {
  const fake = yield* FakeCal.make()
  const http = FakeServer.layerClient(fake.server)
  const oauth = CalOAuth.layer({
    clientId: fake.client.id,
    clientSecret: Redacted.make(fake.client.secret),
    baseUrl: "http://cal.test"
  }).pipe(Layer.provide(http))
  const deps = Layer.merge(oauth, http)
  const refreshPath = `/v2/oauth/${fake.client.id}/refresh`
  const refreshBodies = Effect.map(
    fake.server.requests,
    (requests) =>
      requests.filter((request) => request.path === refreshPath).map((request) =>
        JSON.parse(request.body).refreshToken as string
      )
  )
  /** Builds a session in a fresh scope (closed with the test unless closed earlier). */
  const session = (options: CalSession.Options, store?: TokenStore.Service) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      yield* Effect.addFinalizer(() => Scope.close(scope, Exit.void))
      const built = yield* CalSession.make(options).pipe(
        Effect.provide(deps),
        store === undefined ? (effect) => effect : Effect.provideService(TokenStore.TokenStore, store),
        Scope.extend(scope)
      )
      return { ...built, scope }
    })
  return { fake, deps, refreshPath, refreshBodies, session }
})

const MeBody = Schema.Struct({ status: Schema.Literal("success"), data: Schema.Struct({ id: Schema.Number }) })

describe("CalSession", () => {
  it.scoped("authorize -> exchange -> refresh -> refresh never presents a refresh token twice", () =>
    Effect.gen(function*() {
      const { deps, fake, refreshBodies, session } = yield* setup
      const store = yield* TokenStore.makeMemory
      const cal = yield* Effect.provide(CalOAuth.CalOAuth, deps)
      const { code } = yield* cal.authorize({ redirectUri: fake.client.redirectUris[0] }, Redacted.make(fake.cookie()))
      const { session: auth } = yield* session({ credentials: { code }, skew: "60 seconds", jitter: 0 }, store)

      // Ten concurrent callers share the one exchange.
      const first = yield* Effect.all(Array.from({ length: 10 }, () => auth.token), { concurrency: "unbounded" })
      assert.strictEqual(new Set(first.map((tokens) => Redacted.value(tokens.accessToken))).size, 1)
      const exchanges = (yield* fake.server.requests).filter((request) => request.path.endsWith("/exchange"))
      assert.strictEqual(exchanges.length, 1)

      // The proactive refresh runs 60 seconds before each expiry.
      yield* TestClock.adjust("59 minutes")
      const second = yield* auth.token
      yield* TestClock.adjust("59 minutes")
      const third = yield* auth.token

      const presented = yield* refreshBodies
      assert.strictEqual(presented.length, 2)
      assert.strictEqual(new Set(presented).size, 2)
      assert.deepStrictEqual(presented, [
        Redacted.value(first[0].refreshToken!),
        Redacted.value(second.refreshToken!)
      ])
      // Only the newest refresh token is alive, and it is the one in the store.
      assert.deepStrictEqual(yield* fake.refreshTokens, [Redacted.value(third.refreshToken!)])
      const stored = yield* store.get(auth.key)
      assert.isTrue(Option.isSome(stored))
      assert.strictEqual(
        Redacted.value(Option.getOrThrow(stored).tokens.refreshToken!),
        Redacted.value(third.refreshToken!)
      )
    }))

  it.scoped("a refresh whose response was lost ends as ReauthenticationRequired: the token is never presented again", () =>
    Effect.gen(function*() {
      const { fake, refreshBodies, refreshPath, session } = yield* setup
      const issued = yield* fake.issueTokens()
      const { session: auth } = yield* session({ credentials: { refreshToken: Redacted.make(issued.refreshToken) } })
      yield* fake.server.inject(Fault.lostResponse({ path: refreshPath }))

      const error = yield* Effect.flip(auth.token)
      assert.instanceOf(error, AuthSession.ReauthenticationRequired)
      assert.deepInclude(error, { provider: "cal", key: auth.key })
      // Asking again does not present the (already rotated) token a second time.
      assert.deepInclude(yield* Effect.flip(auth.token), { _tag: "ReauthenticationRequired" })
      assert.deepStrictEqual(yield* refreshBodies, [issued.refreshToken])
      assert.deepInclude(yield* auth.state, { _tag: "ReauthenticationRequired" })
      for (const text of [String(error), JSON.stringify(error)]) {
        assert.notInclude(text, issued.refreshToken)
        assert.notInclude(text, fake.client.secret)
      }
    }))

  it.scoped("a 500 is a passing failure (Cal.com rotates in one transaction); a gateway's 504 may have rotated", () =>
    Effect.gen(function*() {
      const { fake, refreshBodies, refreshPath, session } = yield* setup
      const issued = yield* fake.issueTokens()
      const { session: auth } = yield* session({ credentials: { refreshToken: Redacted.make(issued.refreshToken) } })
      yield* fake.server.inject(Fault.status(500, { path: refreshPath, body: "{}" }))
      assert.deepInclude(yield* Effect.flip(auth.token), { _tag: "UnexpectedStatus", status: 500 })
      const tokens = yield* auth.token
      assert.deepStrictEqual(yield* refreshBodies, [issued.refreshToken, issued.refreshToken])

      yield* fake.server.inject(Fault.status(504, { path: refreshPath, body: "{}" }))
      assert.deepInclude(yield* Effect.flip(auth.refresh), { _tag: "ReauthenticationRequired" })
      // The access token it holds stays usable until it expires; the refresh token is never sent again.
      assert.strictEqual(Redacted.value((yield* auth.token).accessToken), Redacted.value(tokens.accessToken))
      yield* TestClock.adjust("61 minutes")
      assert.deepInclude(yield* Effect.flip(auth.token), { _tag: "ReauthenticationRequired" })
      assert.deepStrictEqual(yield* refreshBodies, [
        issued.refreshToken,
        issued.refreshToken,
        Redacted.value(tokens.refreshToken!)
      ])
    }))

  it.scoped("a second instance adopts the pair the first rotated, and never presents the spent token", () =>
    Effect.gen(function*() {
      const { fake, refreshBodies, session } = yield* setup
      const store = yield* TokenStore.makeMemory
      const issued = yield* fake.issueTokens()
      const credentials = { refreshToken: Redacted.make(issued.refreshToken) }
      const a = yield* session({ credentials }, store)
      const b = yield* session({ credentials }, store)
      // Both were configured with the same refresh token: they share one store entry.
      assert.strictEqual(a.session.key, b.session.key)

      const fromA = yield* a.session.token
      // The store told B about A's rotation: B holds A's pair without a request of its own.
      const fromB = yield* b.session.token
      assert.strictEqual(Redacted.value(fromB.accessToken), Redacted.value(fromA.accessToken))
      assert.deepStrictEqual(yield* refreshBodies, [issued.refreshToken])
      assert.deepStrictEqual(yield* fake.refreshTokens, [Redacted.value(fromA.refreshToken!)])
      assert.deepInclude(yield* b.session.state, { _tag: "Valid" })
    }))

  it.scoped("two managed users configured with their own refresh tokens never share a store entry", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup
      const store = yield* TokenStore.makeMemory
      const one = yield* fake.issueTokens()
      const two = yield* fake.issueTokens()
      const a = yield* session({ credentials: { refreshToken: Redacted.make(one.refreshToken) } }, store)
      const b = yield* session({ credentials: { refreshToken: Redacted.make(two.refreshToken) } }, store)
      assert.notStrictEqual(a.session.key, b.session.key)
      const fromA = yield* a.session.token
      const fromB = yield* b.session.token
      assert.notStrictEqual(Redacted.value(fromA.accessToken), Redacted.value(fromB.accessToken))
      for (const key of [a.session.key, b.session.key]) {
        assert.notInclude(key, one.refreshToken)
        assert.notInclude(key, two.refreshToken)
      }
    }))

  it.scoped("a refresh that never left (refused, or an invalid header) is a TransportError, and the token stays usable", () =>
    Effect.gen(function*() {
      const { fake, refreshBodies, refreshPath, session } = yield* setup
      const issued = yield* fake.issueTokens()
      const { session: auth } = yield* session({ credentials: { refreshToken: Redacted.make(issued.refreshToken) } })
      // Refused four times: the retry policy's every attempt.
      for (let i = 0; i < 4; i++) yield* fake.server.inject(Fault.refused({ path: refreshPath }))
      const failing = yield* Effect.fork(Effect.flip(auth.token))
      yield* TestClock.adjust("30 seconds")
      const error = yield* Fiber.join(failing)
      assert.deepInclude(error, { _tag: "TransportError", reason: "Connect", mayHaveReachedServer: false })
      // Nothing reached Cal.com, so the refresh token is not spent: the next call presents it
      // (the fake logs the four refused attempts too) and gets a new pair.
      const tokens = yield* auth.token
      assert.deepStrictEqual(yield* refreshBodies, Array.from({ length: 5 }, () => issued.refreshToken))
      assert.isDefined(tokens.refreshToken)
    }))

  it.scoped("a client secret with a line break is an InvalidRequest sent nowhere, not a lost refresh token", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const http = FakeServer.layerClient(fake.server)
      const oauth = CalOAuth.layer({
        clientId: fake.client.id,
        clientSecret: Redacted.make("secret\r\nx-injected: 1"),
        baseUrl: "http://cal.test"
      }).pipe(Layer.provide(http))
      const issued = yield* fake.issueTokens()
      const { session: auth } = yield* CalSession.make({
        credentials: { refreshToken: Redacted.make(issued.refreshToken) }
      }).pipe(Effect.provide(Layer.merge(oauth, http)))
      const error = yield* Effect.flip(auth.token)
      assert.deepInclude(error, {
        _tag: "TransportError",
        reason: "InvalidRequest",
        attempts: 1,
        mayHaveReachedServer: false
      })
      assert.deepStrictEqual(yield* fake.server.requests, [])
      assert.notDeepInclude(yield* auth.state, { _tag: "ReauthenticationRequired" })
    }))

  it.scoped("two instances sharing a store that refresh at once send one refresh and both get its pair", () =>
    Effect.gen(function*() {
      const { fake, refreshBodies, session } = yield* setup
      const store = yield* TokenStore.makeMemory
      const issued = yield* fake.issueTokens()
      const credentials = { refreshToken: Redacted.make(issued.refreshToken) }
      const a = yield* session({ credentials }, store)
      const b = yield* session({ credentials }, store)
      const [fromA, fromB] = yield* Effect.all([a.session.token, b.session.token], { concurrency: "unbounded" })
      // One holds the lease and refreshes; the other waits for it and adopts what it wrote.
      assert.deepStrictEqual(yield* refreshBodies, [issued.refreshToken])
      assert.strictEqual(Redacted.value(fromA.accessToken), Redacted.value(fromB.accessToken))
      assert.deepInclude(yield* a.session.state, { _tag: "Valid" })
      assert.deepInclude(yield* b.session.state, { _tag: "Valid" })

      // And again at the next expiry: both scheduled refreshes are due, one request goes out.
      yield* TestClock.adjust("59 minutes")
      const [nextA, nextB] = yield* Effect.all([a.session.token, b.session.token])
      assert.strictEqual(Redacted.value(nextA.accessToken), Redacted.value(nextB.accessToken))
      assert.deepStrictEqual(yield* refreshBodies, [issued.refreshToken, Redacted.value(fromA.refreshToken!)])
    }))

  it.scoped("a 498 from a protected route triggers one refresh and one retry", () =>
    Effect.gen(function*() {
      const { fake, refreshBodies, session } = yield* setup
      const issued = yield* fake.issueTokens()
      const { client, session: auth } = yield* session({
        credentials: { refreshToken: Redacted.make(issued.refreshToken) }
      })
      const before = yield* auth.token
      // The server's clock runs ahead: it holds the access token expired, the session does not.
      yield* fake.expireAccessTokens
      yield* fake.server.clearRequests

      const response = yield* client.get("/v2/me")
      assert.strictEqual(response.status, 200)
      const body = yield* HttpClientResponse.schemaBodyJson(MeBody)(response)
      assert.strictEqual(body.data.id, fake.user.id)

      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map((request) => request.path), [
        "/v2/me",
        `/v2/oauth/${fake.client.id}/refresh`,
        "/v2/me"
      ])
      assert.strictEqual(requests[0].headers["authorization"], `Bearer ${Redacted.value(before.accessToken)}`)
      const after = yield* auth.token
      assert.strictEqual(requests[2].headers["authorization"], `Bearer ${Redacted.value(after.accessToken)}`)
      assert.deepStrictEqual(yield* refreshBodies, [Redacted.value(before.refreshToken!)])
    }))

  it.scoped("a 401 from a protected route is treated as expiry as well", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup
      const issued = yield* fake.issueTokens()
      const { client } = yield* session({ credentials: { refreshToken: Redacted.make(issued.refreshToken) } })
      yield* fake.server.inject(Fault.status(401, { path: "/v2/me", body: "{}" }))
      const response = yield* client.get("/v2/me")
      assert.strictEqual(response.status, 200)
      const paths = (yield* fake.server.requests).map((request) => request.path)
      assert.deepStrictEqual(paths.filter((path) => path === "/v2/me").length, 2)
    }))

  it.scoped("a session rebuilt over the same store after rotation uses the persisted refresh token", () =>
    Effect.gen(function*() {
      const { fake, refreshBodies, session } = yield* setup
      const store = yield* TokenStore.makeMemory
      const configured = yield* fake.issueTokens()
      const credentials = { refreshToken: Redacted.make(configured.refreshToken) }

      const first = yield* session({ credentials }, store)
      const rotated = yield* first.session.token
      yield* Scope.close(first.scope, Exit.void)

      // A restart, an hour later: the configured refresh token is dead, the stored one is not.
      yield* TestClock.adjust("61 minutes")
      const second = yield* session({ credentials }, store)
      const resumed = yield* second.session.token
      assert.deepStrictEqual(yield* refreshBodies, [configured.refreshToken, Redacted.value(rotated.refreshToken!)])
      assert.deepStrictEqual(yield* fake.refreshTokens, [Redacted.value(resumed.refreshToken!)])

      // Without the shared store, the same restart presents the dead configured token.
      const forgetful = yield* session({ credentials })
      assert.deepInclude(yield* Effect.flip(forgetful.session.token), { _tag: "ReauthenticationRequired" })
    }))

  it.scoped("a session started from a code cannot log in twice: a dead refresh token ends as ReauthenticationRequired", () =>
    Effect.gen(function*() {
      const { deps, fake, session } = yield* setup
      const cal = yield* Effect.provide(CalOAuth.CalOAuth, deps)
      const { code } = yield* cal.authorize({ redirectUri: fake.client.redirectUris[0] }, Redacted.make(fake.cookie()))
      const { session: auth } = yield* session({ credentials: { code } })
      const tokens = yield* auth.token
      // Someone else spends the session's refresh token.
      yield* cal.refresh({ refreshToken: tokens.refreshToken! })

      const error = yield* Effect.flip(auth.refresh)
      assert.deepInclude(error, { _tag: "ReauthenticationRequired" })
      const exchanges = (yield* fake.server.requests).filter((request) => request.path.endsWith("/exchange"))
      assert.strictEqual(exchanges.length, 1)
    }))

  it.scoped("a code whose exchange was refused is not exchanged again", () =>
    Effect.gen(function*() {
      const { fake, session } = yield* setup
      const { session: auth } = yield* session({ credentials: { code: Redacted.make("not-a-code") } })
      assert.deepInclude(yield* Effect.flip(auth.token), {
        _tag: "ExchangeRejected",
        message: "Invalid Authorization Token."
      })
      assert.deepInclude(yield* Effect.flip(auth.token), { _tag: "ReauthenticationRequired" })
      assert.strictEqual((yield* fake.server.requests).length, 1)
    }))

  it.scoped("a wrong client secret fails with InvalidClientSecret and keeps the refresh token", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const http = FakeServer.layerClient(fake.server)
      const issued = yield* fake.issueTokens()
      yield* Effect.gen(function*() {
        const auth = yield* CalSession.CalSession
        assert.deepInclude(yield* Effect.flip(auth.session.token), { _tag: "InvalidClientSecret" })
        assert.deepStrictEqual(yield* fake.refreshTokens, [issued.refreshToken])
      }).pipe(
        Effect.provide(
          CalSession.layer({ credentials: { refreshToken: Redacted.make(issued.refreshToken) } }).pipe(
            Layer.provide(CalOAuth.layer({ clientId: fake.client.id, clientSecret: Redacted.make("wrong") })),
            Layer.provide(http)
          )
        )
      )
    }))

  it.scoped("layerConfig starts from CAL_REFRESH_TOKEN under the key cal:<clientId>:<userKey>", () =>
    Effect.gen(function*() {
      const fake = yield* FakeCal.make()
      const issued = yield* fake.issueTokens()
      const store = yield* TokenStore.makeMemory
      const provider = ConfigProvider.fromMap(
        new Map([
          ["CAL_CLIENT_ID", fake.client.id],
          ["CAL_CLIENT_SECRET", fake.client.secret],
          ["CAL_REFRESH_TOKEN", issued.refreshToken]
        ])
      )
      const layer = CalSession.layerConfig({ userKey: "user-42" }).pipe(
        Layer.provideMerge(CalOAuth.layerConfig()),
        Layer.provide(FakeServer.layerClient(fake.server)),
        Layer.provide(Layer.succeed(TokenStore.TokenStore, store)),
        Layer.provide(Layer.setConfigProvider(provider))
      )
      yield* Effect.gen(function*() {
        const { session: auth } = yield* CalSession.CalSession
        assert.strictEqual(auth.key, `cal:${fake.client.id}:user-42`)
        const tokens = yield* auth.token
        const stored = yield* store.get(`cal:${fake.client.id}:user-42`)
        assert.strictEqual(
          Redacted.value(Option.getOrThrow(stored).tokens.accessToken),
          Redacted.value(tokens.accessToken)
        )
      }).pipe(Effect.provide(layer))
    }))
})
