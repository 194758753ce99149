// The projects the test run covers: every package, and the examples. The root
// vitest.config.ts passes this list to `test.projects`, so no deprecation warning prints.
export default ["packages/*", "examples"]
