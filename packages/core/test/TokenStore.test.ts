import * as AuthSession from "@effect-auth/core/AuthSession"
import * as TokenSet from "@effect-auth/core/TokenSet"
import * as TokenStore from "@effect-auth/core/TokenStore"
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import * as KeyValueStore from "@effect/platform/KeyValueStore"
import { assert, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Ref from "effect/Ref"
import * as Scope from "effect/Scope"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

const tokens = (n: number) =>
  new TokenSet.TokenSet({
    accessToken: Redacted.make(`SECRET-ACCESS-${n}`),
    tokenType: "Bearer",
    expiresAt: 3_600_000 * n,
    refreshToken: Redacted.make(`SECRET-REFRESH-${n}`)
  })

const secretsOf = (stored: Option.Option<TokenStore.Stored>) =>
  Option.map(stored, ({ tokens, version }) => ({
    version,
    access: Redacted.value(tokens.accessToken),
    refresh: tokens.refreshToken === undefined ? undefined : Redacted.value(tokens.refreshToken)
  }))

const layerKeyValueMemory = TokenStore.layerKeyValueStore().pipe(Layer.provide(KeyValueStore.layerMemory))

const layerDirectory = (directory: string) =>
  TokenStore.layerKeyValueStore().pipe(
    Layer.provide(KeyValueStore.layerFileSystem(directory)),
    Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer))
  )

const tempDirectory = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "effect-auth-store-"))),
  (directory) => Effect.promise(() => fs.rm(directory, { recursive: true, force: true }))
)

describe("TokenStore", () => {
  for (
    const [name, layer] of [
      ["layerMemory", TokenStore.layerMemory],
      ["layerKeyValueStore", layerKeyValueMemory]
    ] as const
  ) {
    it.effect(`${name}: compare-and-set on the version`, () =>
      Effect.gen(function*() {
        const store = yield* TokenStore.TokenStore
        assert.isTrue(Option.isNone(yield* store.get("alice")))

        const first = yield* store.set("alice", tokens(1), undefined)
        assert.strictEqual(first.version, 1)
        const taken = yield* Effect.flip(store.set("alice", tokens(2), undefined))
        assert.strictEqual(taken._tag, "VersionConflict")
        assert.deepStrictEqual(taken, new TokenStore.VersionConflict({ key: "alice", actual: 1 }))
        expect(taken.message).toBe("token store entry \"alice\" changed: expected no entry, found version 1")
        const stale = yield* Effect.flip(store.set("alice", tokens(2), 7))
        assert.strictEqual(stale._tag, "VersionConflict")

        assert.strictEqual((yield* store.set("alice", tokens(2), 1)).version, 2)
        assert.deepStrictEqual(
          secretsOf(yield* store.get("alice")),
          Option.some({ version: 2, access: "SECRET-ACCESS-2", refresh: "SECRET-REFRESH-2" })
        )
        // Keys are independent.
        assert.isTrue(Option.isNone(yield* store.get("bob")))
        assert.strictEqual((yield* store.set("bob", tokens(9), undefined)).version, 1)

        // After a remove, a writer holding the old version still conflicts, and versions go on.
        yield* store.remove("alice")
        assert.isTrue(Option.isNone(yield* store.get("alice")))
        const afterRemove = yield* Effect.flip(store.set("alice", tokens(3), 2))
        assert.strictEqual(afterRemove._tag, "VersionConflict")
        assert.strictEqual((yield* store.set("alice", tokens(3), undefined)).version, 4)

        for (const error of [taken, stale, afterRemove]) {
          expect(String(error)).not.toContain("SECRET")
          expect(JSON.stringify(error)).not.toContain("SECRET")
        }
      }).pipe(Effect.provide(layer)))

    it.effect(`${name}: of concurrent writers on the same version, exactly one wins`, () =>
      Effect.gen(function*() {
        const store = yield* TokenStore.TokenStore
        yield* store.set("shared", tokens(1), undefined)
        const results = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) => Effect.either(store.set("shared", tokens(i + 2), 1))),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(results.filter(Either.isRight).length, 1)
        assert.isTrue(results.filter(Either.isLeft).every((result) => result.left._tag === "VersionConflict"))
        assert.strictEqual(Option.getOrThrow(yield* store.get("shared")).version, 2)
      }).pipe(Effect.provide(layer)))
  }

  describe("layerKeyValueStore", () => {
    it.effect("stores the Schema-encoded token set as JSON with its version", () =>
      Effect.gen(function*() {
        const store = yield* TokenStore.TokenStore
        const kv = yield* KeyValueStore.KeyValueStore
        yield* store.set("alice", tokens(1), undefined)
        const raw = Option.getOrThrow(yield* kv.get("effect-auth.alice"))
        assert.deepStrictEqual(JSON.parse(raw), {
          version: 1,
          tokens: {
            accessToken: "SECRET-ACCESS-1",
            tokenType: "Bearer",
            expiresAt: 3_600_000,
            refreshToken: "SECRET-REFRESH-1"
          }
        })
      }).pipe(Effect.provide(Layer.provideMerge(TokenStore.layerKeyValueStore(), KeyValueStore.layerMemory))))

    it.effect("an unreadable entry fails without quoting it, and a write replaces it", () =>
      Effect.gen(function*() {
        const store = yield* TokenStore.TokenStore
        const kv = yield* KeyValueStore.KeyValueStore
        yield* kv.set("effect-auth.alice", "{\"version\":1,\"tokens\":{\"accessToken\":\"SECRET-half-written")
        const error = yield* Effect.flip(store.get("alice"))
        assert.deepStrictEqual(
          error,
          new TokenStore.TokenStoreError({
            operation: "get",
            key: "alice",
            description: "the stored value is not a token set"
          })
        )
        expect(String(error)).not.toContain("SECRET")
        assert.strictEqual((yield* store.set("alice", tokens(1), undefined)).version, 1)
        assert.strictEqual(Option.getOrThrow(yield* store.get("alice")).version, 1)
      }).pipe(Effect.provide(Layer.provideMerge(TokenStore.layerKeyValueStore(), KeyValueStore.layerMemory))))

    it.scoped("a file-backed store survives building the layer again over the same directory", () =>
      Effect.gen(function*() {
        const directory = yield* tempDirectory
        yield* Effect.gen(function*() {
          const store = yield* TokenStore.TokenStore
          yield* store.set("alice", tokens(1), undefined)
          yield* store.set("alice", tokens(2), 1)
        }).pipe(Effect.provide(layerDirectory(directory)))

        const reopened = yield* Effect.gen(function*() {
          const store = yield* TokenStore.TokenStore
          const stored = yield* store.get("alice")
          const conflict = yield* Effect.flip(store.set("alice", tokens(3), 1))
          const next = yield* store.set("alice", tokens(3), 2)
          return { stored, conflict, next }
        }).pipe(Effect.provide(layerDirectory(directory)))

        assert.deepStrictEqual(
          secretsOf(reopened.stored),
          Option.some({ version: 2, access: "SECRET-ACCESS-2", refresh: "SECRET-REFRESH-2" })
        )
        assert.strictEqual(reopened.conflict._tag, "VersionConflict")
        assert.strictEqual(reopened.next.version, 3)
      }))

    it.scoped("a session over a file-backed store picks up the rotated refresh token after a restart", () =>
      Effect.gen(function*() {
        const directory = yield* tempDirectory
        const calls = yield* Ref.make<ReadonlyArray<string>>([])
        const issued = yield* Ref.make(0)
        const issue = Effect.flatMap(Ref.updateAndGet(issued, (n) => n + 1), (n) =>
          TokenSet.fromExpiresIn({
            accessToken: Redacted.make(`SECRET-ACCESS-${n}`),
            refreshToken: Redacted.make(`SECRET-REFRESH-${n}`),
            expiresIn: 3600
          }))
        const options: AuthSession.Options = {
          provider: "file",
          key: "alice",
          login: Effect.zipRight(Ref.update(calls, (all) => [...all, "login"]), issue),
          refresh: (refreshToken) =>
            Effect.zipRight(Ref.update(calls, (all) => [...all, `refresh:${Redacted.value(refreshToken)}`]), issue)
        }

        // First run: log in, then rotate the refresh token.
        const first = yield* Scope.make()
        yield* Effect.gen(function*() {
          const session = yield* AuthSession.make(options)
          yield* session.token
          yield* session.refresh
        }).pipe(Effect.provide(layerDirectory(directory)), Scope.extend(first))
        yield* Scope.close(first, Exit.void)

        // Second run: the rotated tokens are there; refreshing presents the rotated refresh token.
        const second = yield* Effect.gen(function*() {
          const session = yield* AuthSession.make(options)
          const current = yield* session.token
          const refreshed = yield* session.refresh
          return { current, refreshed }
        }).pipe(Effect.provide(layerDirectory(directory)))

        assert.strictEqual(Redacted.value(second.current.accessToken), "SECRET-ACCESS-2")
        assert.strictEqual(Redacted.value(second.refreshed.accessToken), "SECRET-ACCESS-3")
        assert.deepStrictEqual(yield* Ref.get(calls), ["login", "refresh:SECRET-REFRESH-1", "refresh:SECRET-REFRESH-2"])
      }))
  })
})
