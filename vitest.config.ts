import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.js"

export default defineConfig({
  test: {
    projects,
    // Vitest runs one file at a time on a 2-core machine (cores minus one). The longest files
    // (the examples, the bench's quick run, the soak) mostly wait on child processes, sockets
    // and Redis, so two at a time finish the run in about two thirds of the time.
    maxWorkers: 2,
    minWorkers: 1
  }
})
