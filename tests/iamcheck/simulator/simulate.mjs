// Evaluates IAM requests with @cloud-copilot/iam-simulate for tests/iamcheck (Python), one JSON document per
// line on stdin, one answer per line on stdout, in order:
//   in:  {"simulation": <iam-simulate Simulation>}
//   out: {"decision": "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied", "identity_allows": [[policy, id]],
//         "resource_allows": [id], "denies": [[where, policy, id]], "errors": <validation errors or null>}
import { createInterface } from 'node:readline'
import { runSimulation } from '@cloud-copilot/iam-simulate'

function statementIds(statements, where) {
  return (statements || []).map((s) => [where, s.policyId ?? null, s.explain?.identifier ?? null])
}

async function answer(line) {
  const { simulation } = JSON.parse(line)
  const response = await runSimulation(simulation, {})
  if (response.resultType === 'error') {
    return { decision: null, identity_allows: [], resource_allows: [], denies: [], errors: response.errors }
  }
  if (response.resultType !== 'single') {
    return { decision: null, identity_allows: [], resource_allows: [], denies: [], errors: 'not a single result' }
  }
  const analysis = response.result.analysis ?? {}
  const identity = analysis.identityAnalysis ?? {}
  const resource = analysis.resourceAnalysis ?? {}
  return {
    decision: response.overallResult,
    identity_allows: (identity.allowStatements || []).map((s) => [s.policyId, s.explain?.identifier ?? null]),
    resource_allows: (resource.allowStatements || []).map((s) => s.explain?.identifier ?? null),
    denies: [...statementIds(identity.denyStatements, 'identity'), ...statementIds(resource.denyStatements, 'resource')],
    errors: null
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })
for await (const line of lines) {
  if (!line.trim()) continue
  let out
  try {
    out = await answer(line)
  } catch (error) {
    out = { decision: null, identity_allows: [], resource_allows: [], denies: [], errors: String(error?.stack ?? error) }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}
