import * as Endpoint from "@effect-auth/core/Endpoint"
import * as Scrubber from "@effect-auth/core/Scrubber"
import * as FakeServer from "@effect-auth/testing/FakeServer"
import * as SpanRecorder from "@effect-auth/testing/SpanRecorder"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Encoding from "effect/Encoding"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"

/** A password every spelling of which differs: space, quotes, backslash, slash, non-ASCII, `*`, `~`. */
const password = `correct horse "battery" \\ staple/é*~`
const username = "ada"
const basic = Encoding.encodeBase64(`${username}:${password}`)

/** Every spelling a server may echo the password in, written here independently of the scrubber. */
const json = JSON.stringify(password).slice(1, -1)
const spellings: Record<string, string> = {
  raw: password,
  percent: encodeURIComponent(password),
  percentLower: encodeURIComponent(password).replace(/%[0-9A-F]{2}/g, (hex) => hex.toLowerCase()),
  form: new URLSearchParams({ p: password }).toString().slice(2),
  json,
  jsonSlash: json.replace(/\//g, "\\/"),
  jsonAscii: json.replace(/é/g, "\\u00e9"),
  jsonAsciiUpper: json.replace(/é/g, "\\u00E9"),
  basic
}

class Echoed extends Schema.TaggedError<Echoed>()("Echoed", {
  message: Schema.String,
  nested: Schema.Array(Schema.Struct({ items: Schema.Array(Schema.String) }))
}) {}
class Field extends Schema.Class<Field>("Field")({ reason: Schema.String }) {}
class WithField extends Schema.TaggedError<WithField>()("WithField", { field: Field, detail: Schema.String }) {
  override get message(): string {
    return `rejected: ${this.detail} (${this.field.reason})`
  }
}

/** A hostile server: it answers with whatever text the test tells it to, in the status asked for. */
const app = HttpRouter.empty.pipe(
  HttpRouter.post(
    "/echo",
    Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const url = new URL(request.url, "http://x.invalid")
      const status = Number(url.searchParams.get("status"))
      const body = new TextDecoder().decode(
        Encoding.decodeBase64(url.searchParams.get("say") ?? "").pipe(
          (either) => either._tag === "Right" ? either.right : new Uint8Array()
        )
      )
      return HttpServerResponse.text(body, { status })
    })
  ),
  HttpRouter.post(
    "/redirect",
    HttpServerResponse.empty({
      status: 302,
      headers: { location: "https://app.test/cb?code=c0de-302", "set-cookie": "session=c00kie-302; HttpOnly" }
    })
  )
)

const setup = Effect.gen(function*() {
  const server = yield* FakeServer.make(app)
  const client = yield* Endpoint.makeClient({ baseUrl: "https://auth.test", provider: "test" }).pipe(
    Effect.provide(FakeServer.layerClient(server))
  )
  /** Sends a form with the password and a Basic header; the server answers `status` with `say`. */
  const call = (status: number, say: string) =>
    client.execute({
      operation: "test.login",
      grant: "replayable",
      request: HttpClientRequest.post("/echo").pipe(
        HttpClientRequest.setUrlParams({ status: String(status), say: Encoding.encodeBase64(say) }),
        HttpClientRequest.setHeader("authorization", `Basic ${basic}`),
        HttpClientRequest.bodyUrlParams({ username, password })
      ),
      responses: {
        // The whole body, kept in a message and nested arrays, as a careless handler would.
        400: (response) => Effect.fail(new Echoed({ message: response.body, nested: [{ items: [response.body] }] })),
        // The body parsed, and its detail kept in a nested class instance and a message getter.
        422: Endpoint.fail(
          Schema.Struct({ detail: Schema.String }),
          (body) => new WithField({ field: new Field({ reason: body.detail }), detail: body.detail })
        )
      }
    })
  /** A redirect to a URL with a code, answering a request with no query (so the platform traces it). */
  const redirect = client.execute({
    operation: "test.authorize",
    grant: "single-use",
    request: HttpClientRequest.post("/redirect").pipe(
      HttpClientRequest.setHeader("authorization", `Basic ${basic}`),
      HttpClientRequest.setHeader("x-cal-secret-key", "cs-5ecret-302")
    ),
    responses: { 302: (response) => Effect.succeed(response.headers["location"]) }
  })
  return { call, redirect }
})

const printed = (error: unknown): ReadonlyArray<string> => [
  String(error),
  JSON.stringify(error),
  error instanceof Error ? error.message : "",
  error instanceof Error ? error.stack ?? "" : "",
  Cause.pretty(Cause.fail(error))
]

const assertClean = (label: string, texts: ReadonlyArray<string>) => {
  for (const text of texts) {
    for (const [name, spelling] of Object.entries(spellings)) {
      assert.notInclude(text, spelling, `${label}: the ${name} spelling leaked`)
    }
  }
}

describe("Scrubber", () => {
  it.effect("an echo of the password in any spelling, or of the Basic credential, never reaches an error", () =>
    Effect.gen(function*() {
      const { call } = yield* setup
      for (const [name, spelling] of Object.entries(spellings)) {
        const say = `invalid login for ${username} with "${spelling}"`
        for (const status of [400, 403]) {
          const error = yield* Effect.flip(call(status, say))
          assert.include(String(error), "<redacted>", `${name} ${status}: scrubbed, not dropped`)
          assertClean(`${name} ${status}`, printed(error))
        }
      }
    }))

  it.effect("a JSON body that spells the password with escapes is scrubbed on the decoded strings", () =>
    Effect.gen(function*() {
      const { call } = yield* setup
      // `\u0070` is `p`: no text-level spelling matches, the decoded string does.
      const escaped = JSON.stringify(password).replace(/^"c/, "\"\\u0063").replace(/o/g, "\\u006f")
      const error = yield* Effect.flip(call(422, `{"detail":${escaped}}`))
      assert.strictEqual(error._tag, "WithField")
      assertClean("422", printed(error))
      assert.include(error.message, "<redacted>")
    }))

  it.effect("spans record no credential header: Location with a code, Authorization, the query", () =>
    Effect.gen(function*() {
      const { redirect } = yield* setup
      const { exit, spans } = yield* SpanRecorder.record(redirect)
      // The handler of the documented 302 still sees the code: only what is recorded is redacted.
      assert.deepStrictEqual(exit, Exit.succeed("https://app.test/cb?code=c0de-302"))
      const http = spans.find((span) => span.name.startsWith("http.client"))
      assert.isDefined(http)
      assert.strictEqual(http!.attributes.get("http.response.header.location"), "<redacted>")
      assert.strictEqual(http!.attributes.get("http.response.header.set-cookie"), "<redacted>")
      assert.strictEqual(http!.attributes.get("http.request.header.authorization"), "<redacted>")
      assert.strictEqual(http!.attributes.get("http.request.header.x-cal-secret-key"), "<redacted>")
      for (const span of spans) {
        for (const text of SpanRecorder.texts(span)) {
          for (const secret of ["c0de-302", "c00kie-302", "cs-5ecret-302"]) assert.notInclude(text, secret)
          assertClean(span.name, [text])
        }
      }
    }))

  it("knows each spelling, and leaves text without a secret alone", () => {
    const scrubber = Scrubber.make([Redacted.make(password)])
    for (const spelling of Object.values(spellings).filter((spelling) => spelling !== basic)) {
      assert.strictEqual(scrubber.text(`a ${spelling} b`), "a <redacted> b")
    }
    assert.strictEqual(scrubber.text("nothing to see"), "nothing to see")
    assert.strictEqual(
      scrubber.text("https://app.test/cb?state=1&code=abc"),
      "https://app.test/cb?state=1&code=<redacted>"
    )
    const fromRequest = Scrubber.fromRequest(
      HttpClientRequest.post("/").pipe(HttpClientRequest.setHeader("authorization", `Basic ${basic}`))
    )
    assert.strictEqual(fromRequest.text(`${basic} and ${password}`), "<redacted> and <redacted>")
  })

  it("scrubs every one of `spellings`, and a mixture of them, character by character", () => {
    const scrubber = Scrubber.make([password])
    for (const spelling of Scrubber.spellings(password)) {
      assert.strictEqual(scrubber.text(`[${spelling}]`), "[<redacted>]", spelling)
    }
    // Half raw, half percent-encoded in lower case, with one character as a JSON `\u` escape.
    const half = Math.floor(password.length / 2)
    const mixed = password.slice(0, half).replace("c", "\\u0063") +
      encodeURIComponent(password.slice(half)).toLowerCase()
    assert.strictEqual(scrubber.text(`<${mixed}>`), "<<redacted>>")
    assert.strictEqual(scrubber.text("correct horse"), "correct horse")
  })

  it("finds the secrets of a request's sensitive headers, query parameters and body fields", () => {
    const request = HttpClientRequest.post("/").pipe(
      HttpClientRequest.setHeader("authorization", "Bearer t0ken-abc"),
      HttpClientRequest.setHeader("cookie", "sid=c00kie-1; theme=ok"),
      HttpClientRequest.setUrlParam("api_key", "k3y-in-query"),
      HttpClientRequest.bodyUnsafeJson({ user: { name: "ada", refresh_token: "r3fresh-nested" } })
    )
    const scrubber = Scrubber.fromRequest(request)
    assert.strictEqual(
      scrubber.text("t0ken-abc c00kie-1 ok k3y-in-query r3fresh-nested ada Bearer"),
      "<redacted> <redacted> ok <redacted> <redacted> ada Bearer"
    )
  })

  it("rebuilds Schema and Data errors, so no copy of the original arguments survives in JSON or the stack", () => {
    class DataError extends Data.TaggedError("DataError")<{ readonly message: string; readonly list: Array<string> }> {}
    const scrubber = Scrubber.make([Redacted.make(password)])
    const errors = [
      new DataError({ message: `bad ${password}`, list: [password] }),
      new Echoed({ message: `bad ${password}`, nested: [{ items: [password] }] }),
      new WithField({ field: new Field({ reason: password }), detail: password })
    ]
    for (const error of errors) {
      const scrubbed = scrubber.value(error)
      assert.strictEqual(scrubbed.constructor, error.constructor)
      assert.strictEqual(scrubbed._tag, error._tag)
      assertClean(error._tag, printed(scrubbed))
      assert.include(JSON.stringify(scrubbed), "<redacted>")
    }
  })
})
