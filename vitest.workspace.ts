// The projects the test run covers: every package, the examples and the benchmark smoke test. The root
// vitest.config.ts passes this list to `test.projects`, so no deprecation warning prints.
export default ["packages/*", "examples", "bench"]
