import * as AuthSession from "@effect-auth/core/AuthSession"
import * as SessionClient from "@effect-auth/core/SessionClient"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"

class LoginFailed extends Schema.TaggedError<LoginFailed>()("LoginFailed", {}) {}

/**
 * An API that answers `rejectWith` to every access token in `revoked` (all of them when
 * `rejectAll`), 200 otherwise, and a token provider that numbers its tokens.
 */
const setup = (options: { readonly rejectWith?: number; readonly failLogin?: boolean } = {}) =>
  Effect.gen(function*() {
    const seen = yield* Ref.make<ReadonlyArray<string>>([])
    const revoked = yield* Ref.make<ReadonlySet<string>>(new Set())
    const rejectAll = yield* Ref.make(false)
    const calls = yield* Ref.make<ReadonlyArray<string>>([])
    const issued = yield* Ref.make(0)

    const api = HttpClient.make((request) =>
      Effect.gen(function*() {
        const authorization = request.headers["authorization"] ?? ""
        yield* Ref.update(seen, (all) => [...all, authorization])
        const token = authorization.replace("Bearer ", "")
        const rejected = (yield* Ref.get(rejectAll)) || (yield* Ref.get(revoked)).has(token)
        return HttpClientResponse.fromWeb(
          request,
          new Response(rejected ? "{\"error\":\"invalid_token\"}" : "{\"ok\":true}", {
            status: rejected ? options.rejectWith ?? 401 : 200
          })
        )
      })
    ).pipe(HttpClient.mapRequest(HttpClientRequest.prependUrl("https://api.test")))

    const issue = Effect.flatMap(Ref.updateAndGet(issued, (n) => n + 1), (n) =>
      TokenSet.fromExpiresIn({
        accessToken: Redacted.make(`SECRET-ACCESS-${n}`),
        refreshToken: Redacted.make(`SECRET-REFRESH-${n}`),
        expiresIn: 3600
      }))
    const session = yield* AuthSession.make<LoginFailed, never>({
      provider: "api",
      key: "api-session",
      login: Effect.zipRight(
        Ref.update(calls, (all) => [...all, "login"]),
        options.failLogin === true ? new LoginFailed() : issue
      ),
      refresh: (refreshToken) =>
        Effect.zipRight(Ref.update(calls, (all) => [...all, `refresh:${Redacted.value(refreshToken)}`]), issue)
    })

    return {
      api,
      session,
      seen: Ref.get(seen),
      calls: Ref.get(calls),
      revoke: (token: string) => Ref.update(revoked, (set) => new Set([...set, token])),
      rejectEverything: Ref.set(rejectAll, true)
    }
  })

describe("SessionClient.withSession", () => {
  it.scoped("sends the session's access token as a bearer token", () =>
    Effect.gen(function*() {
      const { api, calls, seen, session } = yield* setup()
      const client = api.pipe(SessionClient.withSession(session))
      const response = yield* client.get("/me")
      assert.strictEqual(response.status, 200)
      yield* client.get("/me")
      assert.deepStrictEqual(yield* seen, ["Bearer SECRET-ACCESS-1", "Bearer SECRET-ACCESS-1"])
      assert.deepStrictEqual(yield* calls, ["login"])
    }))

  it.scoped("a 401 invalidates the token it sent and retries once with the new one", () =>
    Effect.gen(function*() {
      const { api, calls, revoke, seen, session } = yield* setup()
      const client = SessionClient.withSession(api, session)
      yield* client.get("/me")
      yield* revoke("SECRET-ACCESS-1")
      const response = yield* client.get("/me")
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(yield* seen, [
        "Bearer SECRET-ACCESS-1",
        "Bearer SECRET-ACCESS-1",
        "Bearer SECRET-ACCESS-2"
      ])
      assert.deepStrictEqual(yield* calls, ["login", "refresh:SECRET-REFRESH-1"])
    }))

  it.scoped("concurrent requests rejected with the same token cause one refresh", () =>
    Effect.gen(function*() {
      const { api, calls, revoke, seen, session } = yield* setup()
      const client = SessionClient.withSession(api, session)
      yield* client.get("/me")
      yield* revoke("SECRET-ACCESS-1")
      const responses = yield* Effect.all(Array.from({ length: 10 }, () => client.get("/me")), {
        concurrency: "unbounded"
      })
      assert.isTrue(responses.every((response) => response.status === 200))
      assert.deepStrictEqual(yield* calls, ["login", "refresh:SECRET-REFRESH-1"])
      const sent = yield* seen
      assert.strictEqual(sent.filter((header) => header === "Bearer SECRET-ACCESS-2").length, 10)
    }))

  it.scoped("a second rejection reaches the caller as it came", () =>
    Effect.gen(function*() {
      const { api, calls, rejectEverything, seen, session } = yield* setup()
      yield* rejectEverything
      const client = SessionClient.withSession(api, session)
      const response = yield* client.get("/me")
      assert.strictEqual(response.status, 401)
      assert.deepStrictEqual(yield* response.json, { error: "invalid_token" })
      assert.deepStrictEqual(yield* seen, ["Bearer SECRET-ACCESS-1", "Bearer SECRET-ACCESS-2"])
      assert.deepStrictEqual(yield* calls, ["login", "refresh:SECRET-REFRESH-1"])

      // With the user's own status filter it is a typed ResponseError.
      const error = yield* Effect.flip(HttpClient.filterStatusOk(client).get("/me"))
      assert.strictEqual(error._tag, "ResponseError")
      if (error._tag === "ResponseError") assert.strictEqual(error.response.status, 401)
      assert.deepStrictEqual((yield* seen).slice(2), ["Bearer SECRET-ACCESS-2", "Bearer SECRET-ACCESS-3"])
    }))

  it.scoped("a custom expiry predicate (Cal.com's 498) behaves like a 401", () =>
    Effect.gen(function*() {
      const { api, calls, revoke, seen, session } = yield* setup({ rejectWith: 498 })
      yield* revoke("SECRET-ACCESS-1")
      const plain = SessionClient.withSession(api, session)
      assert.strictEqual((yield* plain.get("/me")).status, 498)
      assert.deepStrictEqual(yield* seen, ["Bearer SECRET-ACCESS-1"])

      const client = api.pipe(SessionClient.withSession(session, { isExpired: (response) => response.status === 498 }))
      const response = yield* client.get("/me")
      assert.strictEqual(response.status, 200)
      assert.deepStrictEqual(yield* seen, [
        "Bearer SECRET-ACCESS-1",
        "Bearer SECRET-ACCESS-1",
        "Bearer SECRET-ACCESS-2"
      ])
      assert.deepStrictEqual(yield* calls, ["login", "refresh:SECRET-REFRESH-1"])
    }))

  it.scoped("the session's errors are in the client's error type", () =>
    Effect.gen(function*() {
      const { api, seen, session } = yield* setup({ failLogin: true })
      const client = SessionClient.withSession(api, session)
      const error = yield* Effect.flip(client.get("/me"))
      assert.strictEqual(error._tag, "LoginFailed")
      assert.deepStrictEqual(yield* seen, [])

      const typed: HttpClient.HttpClient.With<
        HttpClientError.HttpClientError | LoginFailed | AuthSession.ReauthenticationRequired | AuthSession.SessionClosed
      > = client
      // @ts-expect-error the session's errors cannot be dropped from the error type
      const untyped: HttpClient.HttpClient.With<HttpClientError.HttpClientError> = client
      assert.strictEqual(typed, untyped)
    }))
})
