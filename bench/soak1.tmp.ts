import * as Effect from "effect/Effect"
import * as Soak from "./soak/Soak.js"
const n = Number(process.argv[2] ?? "1")
const fault = (process.argv[3] ?? "none") as Soak.Fault
Effect.runPromise(Soak.run({ processes: n, lifetime: 2000, duration: 8000, faultAt: 3000, partitionFor: 5000, fault }))
  .then((r) => {
    console.log(Soak.table([r]).split("\n")[2], r.notes, r.failures)
  })
