/**
 * The credentials the examples give the fake providers. They are secrets like any other: the
 * examples pass them as `Redacted` values and never print them, and the examples' tests check
 * that none of them (nor any token) appears in the output.
 *
 * @since 0.1.0
 */

/**
 * An Occam AI account of the fake.
 *
 * @since 0.1.0
 * @category fakes
 */
export const occam = { username: "ada@example.com", password: "occam-demo-password-5b1e" } as const

/**
 * An IX-API key and secret of the fake.
 *
 * @since 0.1.0
 * @category fakes
 */
export const ixApi = { apiKey: "ixapi-demo-key-42", apiSecret: "ixapi-demo-secret-c07a" } as const

/**
 * A Cal.com OAuth client of the fake.
 *
 * @since 0.1.0
 * @category fakes
 */
export const cal = {
  id: "cldemoclient0042",
  secret: "cal-demo-client-secret-93d4",
  redirectUris: ["https://app.example.com/cal/callback"]
} as const

/**
 * An EnduroSat app client and user of the fake.
 *
 * @since 0.1.0
 * @category fakes
 */
export const enduroSat = {
  clientId: "demo-endurosat-app-client",
  username: "operator@example.com",
  password: "endurosat-demo-password-e8f2"
} as const

/**
 * The wrong password (and wrong client secret) the quickstart tries on purpose.
 *
 * @since 0.1.0
 * @category fakes
 */
export const wrongPassword = "not-the-password-0a9c"

/**
 * Every secret above, for the tests' "never printed" checks.
 *
 * @since 0.1.0
 * @category fakes
 */
export const secrets: ReadonlyArray<string> = [
  occam.password,
  ixApi.apiKey,
  ixApi.apiSecret,
  cal.secret,
  enduroSat.password,
  wrongPassword
]
