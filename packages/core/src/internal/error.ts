/**
 * The base of the core's typed errors: a `Schema.TaggedError` whose identifier is its tag in the
 * `@effect-auth/core/` namespace, written once instead of in every class.
 *
 * @internal
 */
import * as Schema from "effect/Schema"

export const TaggedError =
  <Self>() => <Tag extends string, Fields extends Schema.Struct.Fields>(tag: Tag, fields: Fields) =>
    Schema.TaggedError<Self>(`@effect-auth/core/${tag}`)(tag, fields)
