import * as FakeEnduroSat from "@effect-auth/testing/FakeEnduroSat"
import * as Fault from "@effect-auth/testing/Fault"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import * as TestClock from "effect/TestClock"

const user = FakeEnduroSat.defaultUser

const setup = (options: FakeEnduroSat.Options = {}) =>
  Effect.gen(function*() {
    const fake = yield* FakeEnduroSat.make(options)
    const answer = (request: HttpClientRequest.HttpClientRequest) =>
      fake.server.client.execute(request).pipe(
        Effect.flatMap((response) =>
          Effect.map(response.text, (text) => ({
            status: response.status,
            headers: response.headers,
            body: text === "" ? undefined : JSON.parse(text)
          }))
        ),
        Effect.orDie
      )
    const form = (path: string, fields: Record<string, string>) =>
      answer(HttpClientRequest.post(`https://gs.test${path}`).pipe(HttpClientRequest.bodyUrlParams(fields)))
    const login = (username = user.username, password = user.password) =>
      form("/oauth2/token", { client_id: fake.clientId, grant_type: "password", username, password })
    const refresh = (refreshToken: string) =>
      form("/oauth2/token", { client_id: fake.clientId, grant_type: "refresh_token", refresh_token: refreshToken })
    const revoke = (token: string) => form("/oauth2/revoke", { client_id: fake.clientId, token })
    const passes = (accessToken: string) =>
      answer(
        HttpClientRequest.get(`https://gs.test${FakeEnduroSat.protectedPath}`).pipe(
          HttpClientRequest.bearerToken(accessToken)
        )
      )
    return { fake, answer, form, login, refresh, revoke, passes }
  })

const claims = (jwt: string): Record<string, unknown> =>
  JSON.parse(Either.getOrThrow(Encoding.decodeBase64UrlString(jwt.split(".")[1])))

describe("FakeEnduroSat /oauth2/token", () => {
  it.effect("a password grant answers Cognito's AuthenticationResult; tokens are unique", () =>
    Effect.gen(function*() {
      const { login } = yield* setup()
      yield* TestClock.adjust("10 seconds")
      const first = yield* login()
      const second = yield* login()

      assert.strictEqual(first.status, 200)
      assert.deepStrictEqual(Object.keys(first.body).sort(), [
        "access_token",
        "expires_in",
        "id_token",
        "refresh_token",
        "token_type"
      ])
      assert.deepInclude(first.body, { expires_in: 3600, token_type: "Bearer" })
      assert.deepInclude(claims(first.body.access_token), {
        sub: user.username,
        token_use: "access",
        iat: 10,
        exp: 3610,
        client_id: FakeEnduroSat.defaultClientId
      })
      assert.deepInclude(claims(first.body.id_token), { token_use: "id", aud: FakeEnduroSat.defaultClientId })
      for (const key of ["access_token", "id_token", "refresh_token"]) {
        assert.notStrictEqual(first.body[key], second.body[key])
      }
    }))

  it.effect("a refresh grant answers new access and id tokens and no refresh token; the old one stays valid", () =>
    Effect.gen(function*() {
      const { login, refresh } = yield* setup({ accessTokenLifetime: "10 minutes" })
      const { body } = yield* login()
      const once = yield* refresh(body.refresh_token)
      const twice = yield* refresh(body.refresh_token)

      assert.strictEqual(once.status, 200)
      assert.deepStrictEqual(Object.keys(once.body).sort(), ["access_token", "expires_in", "id_token", "token_type"])
      assert.strictEqual(once.body.expires_in, 600)
      assert.strictEqual(twice.status, 200)
      assert.notStrictEqual(once.body.access_token, twice.body.access_token)
    }))

  it.effect("401 { error } for a wrong password, an unknown user, an unknown, expired or revoked refresh token", () =>
    Effect.gen(function*() {
      const { fake, login, refresh } = yield* setup({ refreshTokenLifetime: "2 hours" })
      assert.deepStrictEqual(yield* Effect.map(login(user.username, "wrong"), (r) => [r.status, r.body]), [
        401,
        { error: "Incorrect username or password." }
      ])
      assert.deepInclude(yield* login("nobody", "x"), {
        status: 401,
        body: { error: "Incorrect username or password." }
      })
      assert.deepInclude(yield* refresh("made-up"), { status: 401, body: { error: "Invalid Refresh Token" } })

      const { body } = yield* login()
      yield* TestClock.adjust("2 hours")
      assert.deepInclude(yield* refresh(body.refresh_token), {
        status: 401,
        body: { error: "Refresh Token has expired" }
      })

      const fresh = yield* login()
      yield* fake.signOut(user.username)
      assert.deepInclude(yield* refresh(fresh.body.refresh_token), {
        status: 401,
        body: { error: "Refresh Token has been revoked" }
      })

      const last = yield* login()
      yield* fake.removeUser(user.username)
      assert.deepInclude(yield* refresh(last.body.refresh_token), {
        status: 401,
        body: { error: "User does not exist." }
      })
      assert.strictEqual((yield* login()).status, 401)
    }))

  it.effect("an untyped 400 body for a malformed request", () =>
    Effect.gen(function*() {
      const { fake, form } = yield* setup()
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ grant_type: "password", username: "u", password: "p" }, "Required parameter 'client_id' is not present."],
        [{ client_id: fake.clientId }, "Required parameter 'grant_type' is not present."],
        [
          { client_id: fake.clientId, grant_type: "client_credentials" },
          "Unsupported grant_type 'client_credentials'."
        ],
        [
          { client_id: fake.clientId, grant_type: "password", password: "p" },
          "Parameters 'username' and 'password' are required for grant_type=password."
        ],
        [
          { client_id: fake.clientId, grant_type: "refresh_token", refresh_token: "" },
          "Parameter 'refresh_token' is required for grant_type=refresh_token."
        ],
        [{ client_id: "unknown-app", grant_type: "password" }, "User pool client unknown-app does not exist."]
      ]
      for (const [fields, message] of cases) {
        const { body, status } = yield* form("/oauth2/token", fields)
        assert.strictEqual(status, 400)
        assert.deepInclude(body, { status: 400, error: "Bad Request", message, path: "/oauth2/token" })
        assert.isString(body.timestamp)
      }
    }))

  it.effect("415 for a body that is not form-encoded", () =>
    Effect.gen(function*() {
      const { answer, fake } = yield* setup()
      const response = yield* answer(
        HttpClientRequest.post("https://gs.test/oauth2/token").pipe(
          HttpClientRequest.bodyUnsafeJson({ client_id: fake.clientId, grant_type: "password" })
        )
      )
      assert.deepInclude(response, { status: 415 })
      assert.deepInclude(response.body, { error: "Unsupported Media Type" })
    }))

  it.effect("addClient and addUser extend the user pool", () =>
    Effect.gen(function*() {
      const { fake, form } = yield* setup()
      yield* fake.addClient("second-app")
      yield* fake.addUser({ username: "new@example.com", password: "pw" })
      const response = yield* form("/oauth2/token", {
        client_id: "second-app",
        grant_type: "password",
        username: "new@example.com",
        password: "pw"
      })
      assert.strictEqual(response.status, 200)
    }))
})

describe("FakeEnduroSat /oauth2/revoke and the protected route", () => {
  it.effect("the protected route answers 200 with a valid token, 401 once it expired", () =>
    Effect.gen(function*() {
      const { answer, login, passes } = yield* setup({ accessTokenLifetime: "5 minutes" })
      const { body } = yield* login()
      const ok = yield* passes(body.access_token)
      assert.strictEqual(ok.status, 200)
      assert.isArray(ok.body)

      // The id token is not a bearer token for the API.
      assert.deepInclude(yield* passes(body.id_token), { status: 401, body: { error: "Invalid access token" } })
      const none = yield* answer(HttpClientRequest.get(`https://gs.test${FakeEnduroSat.protectedPath}`))
      assert.strictEqual(none.status, 401)

      yield* TestClock.adjust("5 minutes")
      const expired = yield* passes(body.access_token)
      assert.deepInclude(expired, { status: 401, body: { error: "Access token has expired" } })
      assert.include(expired.headers["www-authenticate"], "invalid_token")
    }))

  it.effect("revoke answers 204 and revokes the refresh token and every access token issued from it", () =>
    Effect.gen(function*() {
      const { login, passes, refresh, revoke } = yield* setup()
      const { body } = yield* login()
      const other = yield* login()
      const refreshed = yield* refresh(body.refresh_token)

      const revoked = yield* revoke(body.refresh_token)
      assert.deepStrictEqual([revoked.status, revoked.body], [204, undefined])

      for (const token of [body.access_token, refreshed.body.access_token]) {
        assert.deepInclude(yield* passes(token), { status: 401, body: { error: "Access token has been revoked" } })
      }
      assert.deepInclude(yield* refresh(body.refresh_token), { status: 401 })
      // Another login's tokens are untouched.
      assert.strictEqual((yield* passes(other.body.access_token)).status, 200)
      assert.strictEqual((yield* refresh(other.body.refresh_token)).status, 200)
    }))

  it.effect("revoke is idempotent: 204 for a token already revoked or never issued", () =>
    Effect.gen(function*() {
      const { login, revoke } = yield* setup()
      const { body } = yield* login()
      assert.strictEqual((yield* revoke(body.refresh_token)).status, 204)
      assert.strictEqual((yield* revoke(body.refresh_token)).status, 204)
      assert.strictEqual((yield* revoke("never-issued")).status, 204)
    }))

  it.effect("revoke answers 400 for a missing field, an unknown client, another client's token, an access token", () =>
    Effect.gen(function*() {
      const { fake, form, login, refresh } = yield* setup()
      yield* fake.addClient("second-app")
      const { body } = yield* login()
      const cases: ReadonlyArray<readonly [Record<string, string>, string]> = [
        [{ token: body.refresh_token }, "Required parameter 'client_id' is not present."],
        [{ client_id: fake.clientId }, "Required parameter 'token' is not present."],
        [{ client_id: "unknown-app", token: body.refresh_token }, "User pool client unknown-app does not exist."],
        [{ client_id: "second-app", token: body.refresh_token }, "The token was not issued to this app client."],
        [{ client_id: fake.clientId, token: body.access_token }, "Only refresh tokens can be revoked."]
      ]
      for (const [fields, message] of cases) {
        const response = yield* form("/oauth2/revoke", fields)
        assert.strictEqual(response.status, 400)
        assert.deepInclude(response.body, { message, path: "/oauth2/revoke" })
      }
      assert.strictEqual((yield* refresh(body.refresh_token)).status, 200)
    }))

  it.effect("faults and the request log come from the kit", () =>
    Effect.gen(function*() {
      const { fake, login } = yield* setup()
      yield* fake.server.inject(Fault.status(503, { retryAfter: 3, path: "/oauth2/token" }))
      const throttled = yield* login()
      assert.deepInclude(throttled, { status: 503 })
      assert.strictEqual(throttled.headers["retry-after"], "3")
      assert.strictEqual((yield* login()).status, 200)
      const requests = yield* fake.server.requests
      assert.deepStrictEqual(requests.map((request) => request.fault), ["Status", undefined])
      assert.include(requests[1].body, "grant_type=password")
    }))
})
