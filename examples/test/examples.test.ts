import * as FakeCal from "@effect-auth/testing/FakeCal"
import * as FakeEnduroSat from "@effect-auth/testing/FakeEnduroSat"
import * as FakeIxApi from "@effect-auth/testing/FakeIxApi"
import * as FakeOccam from "@effect-auth/testing/FakeOccam"
import type * as FakeServer from "@effect-auth/testing/FakeServer"
import * as NodeFakeServer from "@effect-auth/testing/NodeFakeServer"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as FakeCredentials from "../FakeCredentials.js"

// The examples are programs: these tests run them as a user would, in child processes, and
// read what they print and how they exit.

const root = Path.resolve(import.meta.dirname, "..", "..")
const tsx = Path.join(root, "node_modules", ".bin", "tsx")
/** The `bun` dev dependency's binary: in its platform package, or where its postinstall put it. */
const bun = [
  Path.join(
    root,
    "node_modules",
    "@oven",
    `bun-${process.platform}-${process.arch === "arm64" ? "aarch64" : process.arch}`,
    "bin",
    "bun"
  ),
  Path.join(root, "node_modules", "bun", "bin", "bun.exe")
].find((candidate) => Fs.existsSync(candidate) && Fs.statSync(candidate).size > 1_000_000)
const timeout = 60_000

interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly output: string
}

const providerVariable = /^(OCCAM|IXAPI|CAL|ENDUROSAT)_/

/** Runs `examples/<script>` with every provider variable removed from the environment, then `env` added. */
const run = (
  script: string,
  options: { readonly env?: Record<string, string>; readonly cwd?: string; readonly runtime?: string } = {}
) =>
  Effect.async<Run>((resume) => {
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !providerVariable.test(name)))
    const child = ChildProcess.spawn(options.runtime ?? tsx, [Path.join(root, "examples", script)], {
      cwd: options.cwd ?? root,
      env: { ...inherited, ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => stdout += chunk)
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk)
    child.on("error", (error) => resume(Effect.die(error)))
    child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr, output: stdout + stderr })))
    return Effect.sync(() => void child.kill())
  })

/** Every secret the fakes were given, every token shape they issue, and `extra`. */
const leaks = (output: string, extra: ReadonlyArray<string> = []): Array<string> => [
  ...[...FakeCredentials.secrets, FakeCal.defaultUser.sessionToken, ...extra].filter((secret) =>
    output.includes(secret)
  ),
  // JWTs (IX-API, Cal.com and EnduroSat tokens are JWTs) and Occam's opaque tokens.
  ...(output.match(/eyJ[\w-]{6,}|occam-(at|rt)-\d+/g) ?? [])
]

/** The paragraph of the output that starts with `heading`. */
const block = (stdout: string, heading: string): string =>
  stdout.split("\n\n").find((paragraph) => paragraph.startsWith(heading)) ?? ""

const paths = (server: FakeServer.FakeServer) =>
  Effect.map(server.requests, (requests) => requests.map((request) => `${request.method} ${request.path}`))

describe.concurrent("npm start (examples/quickstart.ts)", () => {
  it.live("narrates every step for the four providers and exits 0 within 20 seconds", () =>
    Effect.gen(function*() {
      const { code, output, stderr, stdout } = yield* run("quickstart.ts")
      expect(stderr).toBe("")
      expect(code).toBe(0)
      expect(leaks(output)).toEqual([])

      const fingerprints = (paragraph: string) =>
        /refresh token (#[0-9a-f]{4}) → (#[0-9a-f]{4}) \((rotated|kept)/.exec(paragraph)?.slice(1)
      const common = [
        /✓ logged in .*: access token <redacted>, expires in \d+\.\d s/,
        /✓ protected call: GET \S+ → 200 /,
        /✓ scheduled refresh by itself, \d\.\d s before expiry: refresh token #[0-9a-f]{4} → #[0-9a-f]{4}/,
        // At least the second Retry-After asked for; more when the machine is busy.
        /✓ 503 \+ Retry-After: 1 absorbed: the refresh was retried after [1-9]\.\d s \(fake's log: 2 requests\)/
      ]
      const providers = [
        { heading: "Occam AI ·", caught: "wrong password → caught InvalidCredentials", rotated: true },
        { heading: "IX-API ·", caught: "wrong API secret → caught AuthenticationError", rotated: true },
        { heading: "Cal.com ·", caught: "wrong client secret → caught InvalidClientSecret", rotated: true },
        { heading: "EnduroSat ·", caught: "wrong password → caught InvalidCredentials", rotated: false }
      ]
      for (const provider of providers) {
        const paragraph = block(stdout, provider.heading)
        for (const line of common) expect(paragraph).toMatch(line)
        expect(paragraph).toContain(`✓ ${provider.caught}`)
        const [was, is, verdict] = fingerprints(paragraph) ?? []
        expect(verdict).toBe(provider.rotated ? "rotated" : "kept")
        expect(was === is).toBe(!provider.rotated)
        expect(paragraph).toContain(
          provider.rotated ? "✓ logged out: tokens forgotten, session Empty" : "✓ still logged in"
        )
      }
      expect(block(stdout, "Cal.com ·")).toMatch(
        /logged in from the user's refresh token (#\w{4}), rotated to (#\w{4})/
      )
      expect(block(stdout, "Shutdown")).toMatch(
        /✓ EnduroSat revoked on close: POST \/oauth2\/revoke in the fake's log; its last access token now gets 401/
      )
      const seconds = Number(/Done in (\d+\.\d) s\./.exec(stdout)?.[1])
      expect(seconds).toBeGreaterThan(2)
      expect(seconds).toBeLessThan(20)
    }), timeout)
})

const examples = [
  {
    script: "occam.ts",
    protectedPath: "GET /me → 200",
    partial: { OCCAM_USERNAME: "ada@example.com", OCCAM_BASE_URL: "http://127.0.0.1:9" },
    present: ["OCCAM_BASE_URL", "OCCAM_USERNAME"],
    missing: ["OCCAM_PASSWORD"]
  },
  {
    script: "ix-api.ts",
    protectedPath: "GET /accounts → 200",
    partial: { IXAPI_API_KEY: "partial-ixapi-key-value" },
    present: ["IXAPI_API_KEY"],
    missing: ["IXAPI_BASE_URL", "IXAPI_API_SECRET"]
  },
  {
    script: "cal.ts",
    protectedPath: "GET /v2/me → 200",
    partial: { CAL_CLIENT_ID: "cl-partial", CAL_CLIENT_SECRET: "partial-cal-secret-value" },
    present: ["CAL_CLIENT_ID", "CAL_CLIENT_SECRET"],
    missing: ["CAL_REFRESH_TOKEN"]
  },
  {
    script: "endurosat.ts",
    protectedPath: "GET /satellite-passes → 200",
    partial: { ENDUROSAT_USERNAME: "operator@example.com", ENDUROSAT_PASSWORD: "partial-endurosat-password" },
    present: ["ENDUROSAT_USERNAME", "ENDUROSAT_PASSWORD"],
    missing: ["ENDUROSAT_CLIENT_ID"]
  }
] as const

describe.concurrent("the quickstart under Bun", () => {
  // platform-node's undici client does not work under Bun: the examples send with `fetch` there.
  it.live("runs every story over fetch and exits 0", () =>
    Effect.gen(function*() {
      if (bun === undefined) throw new Error("no bun binary in node_modules: run npm ci")
      const { code, output, stderr, stdout } = yield* run("quickstart.ts", { runtime: bun })
      expect(stderr).toBe("")
      expect(code).toBe(0)
      expect(stdout.match(/✓ protected call: GET \S+ → 200 /g)).toHaveLength(4)
      expect(stdout).toContain("✓ EnduroSat revoked on close")
      expect(leaks(output)).toEqual([])
    }), timeout)
})

describe.concurrent("npm run example:* with no variables set: against the fake", () => {
  for (const example of examples) {
    it.live(example.script, () =>
      Effect.gen(function*() {
        const { code, output, stdout } = yield* run(example.script)
        expect(code).toBe(0)
        expect(stdout).toMatch(/ example · against a fake .* served on http:\/\/127\.0\.0\.1:\d+/)
        expect(stdout).toMatch(/✓ logged in: access token <redacted>, expires \d{4}-\d\d-\d\dT[\d:.]+Z \(in \d+ min\)/)
        expect(stdout).toContain(`✓ protected call: ${example.protectedPath}`)
        expect(stdout).toMatch(/✓ refreshed: expires .*; refresh token #[0-9a-f]{4} → #[0-9a-f]{4}/)
        expect(stdout).toContain("✓ logged out")
        expect(leaks(output)).toEqual([])
      }), timeout)
  }
})

describe.concurrent("npm run example:* with some variables set: stops and names the missing ones", () => {
  for (const example of examples) {
    it.live(example.script, () =>
      Effect.gen(function*() {
        const { code, output, stderr, stdout } = yield* run(example.script, { env: example.partial })
        expect(code).toBe(1)
        // Nothing was done: no request, no narration.
        expect(stdout).toBe("")
        const message = /^✗ MissingVariables: .*: (.*) (?:is|are) set but (.*) (?:is|are) missing\./m.exec(stderr)
        expect(message?.[1].split(/, | and /)).toEqual(example.present)
        expect(message?.[2].split(/, | and /)).toEqual(example.missing)
        expect(stderr).toContain("To run against the real API set")
        expect(leaks(output, Object.values(example.partial).filter((value) => value.startsWith("partial-"))))
          .toEqual([])
      }), timeout)
  }
})

// With a complete configuration the examples take the real-API path; a fake served by the test
// stands in for the real server (every base URL can be configured).
describe.concurrent("npm run example:* with every variable set: against the configured API", () => {
  it.scopedLive("occam.ts with OCCAM_API_KEY", () =>
    Effect.gen(function*() {
      const apiKey = "sk-occam-configured-key-1f0c"
      const fake = yield* FakeOccam.make({ apiKeys: [apiKey] })
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const { code, output, stdout } = yield* run("occam.ts", { env: { OCCAM_BASE_URL: url, OCCAM_API_KEY: apiKey } })
      expect(code).toBe(0)
      expect(stdout).toContain(`Occam AI example · against ${url}\n`)
      expect(stdout).toContain("✗ protected call: GET /agents → 404")
      expect(stdout).not.toContain("✓ protected call")
      // The key exchange twice (log in, forced refresh: there is no refresh token on this path).
      expect(yield* paths(fake.server)).toEqual(["GET /auth/access-token", "GET /agents", "GET /auth/access-token"])
      expect(leaks(output, [apiKey])).toEqual([])
    }), timeout)

  it.scopedLive("occam.ts with a wrong OCCAM_PASSWORD: exit 1 and the typed error", () =>
    Effect.gen(function*() {
      const fake = yield* FakeOccam.make({ accounts: [FakeCredentials.occam] })
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const { code, output, stderr } = yield* run("occam.ts", {
        env: { OCCAM_BASE_URL: url, OCCAM_USERNAME: FakeCredentials.occam.username, OCCAM_PASSWORD: "wrong-pw-77" }
      })
      expect(code).toBe(1)
      expect(stderr).toBe("✗ InvalidCredentials: occam.login: Invalid email or password\n")
      expect(leaks(output, ["wrong-pw-77"])).toEqual([])
    }), timeout)

  it.scopedLive("ix-api.ts", () =>
    Effect.gen(function*() {
      const fake = yield* FakeIxApi.make({ apiKeys: [{ ...FakeCredentials.ixApi, subject: "AS64500" }] })
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const { code, output, stdout } = yield* run("ix-api.ts", {
        env: {
          IXAPI_BASE_URL: `${url}/api/v2`,
          IXAPI_API_KEY: FakeCredentials.ixApi.apiKey,
          IXAPI_API_SECRET: FakeCredentials.ixApi.apiSecret
        }
      })
      expect(code).toBe(0)
      expect(stdout).toContain(`IX-API example · against ${url}/api/v2\n`)
      expect(yield* paths(fake.server)).toEqual([
        "POST /api/v2/auth/token",
        "GET /api/v2/accounts",
        "POST /api/v2/auth/refresh"
      ])
      expect(leaks(output)).toEqual([])
    }), timeout)

  it.scopedLive(
    "cal.ts keeps the rotated token in .tokens/ and the next run resumes from it",
    () =>
      Effect.gen(function*() {
        const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-auth-cal-example-"))
        yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(directory, { recursive: true, force: true })))
        const fake = yield* FakeCal.make({ clients: [FakeCredentials.cal] })
        const { url } = yield* NodeFakeServer.serve(fake.server)
        const configured = (yield* fake.issueTokens()).refreshToken
        const env = {
          CAL_BASE_URL: url,
          CAL_CLIENT_ID: FakeCredentials.cal.id,
          CAL_CLIENT_SECRET: FakeCredentials.cal.secret,
          CAL_REFRESH_TOKEN: configured
        }

        const first = yield* run("cal.ts", { env, cwd: directory })
        expect(first.code).toBe(0)
        expect(first.stdout).toContain(`✓ kept the session in ${Path.join(directory, ".tokens")}`)
        expect(first.stdout).not.toContain("logged out")
        // Two rotations: the configured token is dead, the stored one is the only live one.
        const live = yield* fake.refreshTokens
        expect(live).toHaveLength(1)
        expect(live).not.toContain(configured)

        // CAL_REFRESH_TOKEN is dead by now: the second run works only by resuming from the store.
        const second = yield* run("cal.ts", { env, cwd: directory })
        expect(second.code).toBe(0)
        expect(second.stdout).toContain("✓ protected call: GET /v2/me → 200")
        // The first run refreshed twice; the second starts from the stored, still valid access
        // token and refreshes once, presenting the stored refresh token.
        const refreshes = (yield* paths(fake.server)).filter((path) => path.endsWith("/refresh"))
        expect(refreshes).toHaveLength(3)
        expect(yield* fake.refreshTokens).not.toContain(live[0])
        expect(leaks(first.output + second.output, [configured, ...live])).toEqual([])
      }),
    timeout
  )

  it.scopedLive("endurosat.ts", () =>
    Effect.gen(function*() {
      const fake = yield* FakeEnduroSat.make({
        clientIds: [FakeCredentials.enduroSat.clientId],
        users: [FakeCredentials.enduroSat]
      })
      const { url } = yield* NodeFakeServer.serve(fake.server)
      const { code, output, stdout } = yield* run("endurosat.ts", {
        env: {
          ENDUROSAT_BASE_URL: url,
          ENDUROSAT_CLIENT_ID: FakeCredentials.enduroSat.clientId,
          ENDUROSAT_USERNAME: FakeCredentials.enduroSat.username,
          ENDUROSAT_PASSWORD: FakeCredentials.enduroSat.password
        }
      })
      expect(code).toBe(0)
      expect(stdout).toContain(`EnduroSat example · against ${url}\n`)
      expect(yield* paths(fake.server)).toEqual([
        "POST /oauth2/token",
        "GET /satellite-passes",
        "POST /oauth2/token",
        "POST /oauth2/revoke"
      ])
      expect(leaks(output)).toEqual([])
    }), timeout)
})
