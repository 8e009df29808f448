#!/usr/bin/env node
// The permission matrix's evaluator: runs each row (one request AWS would make) through
// @cloud-copilot/iam-simulate and prints one JSON result per row. See tests/iam/README.md.
//
//   node tests/iam/evaluate.mjs < rows.json        # one JSON document on stdin
//   node tests/iam/evaluate.mjs --explain-all < rows.json   # explain every row, not just failures
//
// Input: { "rows": [ ROW, ... ] }, ROW =
//   name                      unique, human readable
//   principal                 the caller's ARN (an assumed-role session ARN, a role/user ARN, or a
//                             service principal such as "s3.amazonaws.com")
//   action                    "service:Action"
//   resource                  one concrete ARN (no wildcard: a row is one request), or "*" alone
//                             for an action that has no resource type (s3:CreateJob)
//   resourceAccount           the account owning the resource; optional when the ARN names it
//                             (KMS keys, IAM roles), required for S3 ARNs (they carry no account)
//   context                   { key: "value" | ["values"] }: the request context AWS would set
//   identityPolicies          [ { name, policy } ]: the caller's identity policies (its own account)
//   resourcePolicy            { name, policy } | null: the bucket policy, role trust policy, ...
//   kmsKeyPolicy              { name, policy }: the key policy, for kms:* actions on a key (exactly
//                             one of resourcePolicy / kmsKeyPolicy; a KMS key always has one)
//   scps, rcps                optional [ { orgIdentifier, policies: [ { name, policy } ] } ]
//   expect                    "Allow" | "Deny"
//   expectIgnoredContextKeys  optional [ keys ] the row knows the evaluator drops
//   bridge                    optional, default true; false evaluates the row without the
//                             kms:EncryptionContext bridge (to show the limit it works around)
//
// Output: one line per row, in input order:
//   { name, decision: "Allow"|"Deny", result: Allowed|ExplicitlyDenied|ImplicitlyDenied, expect,
//     matched (decision == expect), ignoredContextKeys, unexpectedIgnoredContextKeys,
//     missingIgnoredContextKeys, bridged, sameAccount, ok, error?, explain? }
// `ok` = matched, no unexpected and no missing ignored keys, no error. `explain` (present when not
// ok) lists the statements that decided the request: for an Allow every granting statement, for a
// Deny every explicit Deny and, for an implicit deny, the near misses (action and resource matched,
// principal not refused) with the condition that failed.
// Exit status: 0 all rows ok, 1 some row not ok (all rows still printed), 2 the input is unusable.

import { readFileSync } from 'node:fs';
import { getDenialReasons, getGrantReasons, runSimulation } from '@cloud-copilot/iam-simulate';

// ---- The bridge for kms:EncryptionContext:<key> -------------------------------------------------
// iam-simulate keeps a request context key only if it is listed for the action, or matches a
// listed "variable" key (`prefix/${Var}`) by the text before its first "/". KMS lists the family
// `kms:EncryptionContext:${EncryptionContextKey}` (no "/"), so a real key such as
// `kms:EncryptionContext:aws:s3:arn` is dropped and every condition on it fails as missing.
// The bridge renames the key, in the request context AND in every condition of every policy of
// the row, to the family's own name, which the evaluator keeps with the family's type (String).
// Operator, qualifiers (IfExists, ForAnyValue...), values and the request value stay identical,
// so the condition is evaluated exactly as written. One row may use one encryption-context key
// only (S3 uses just `aws:s3:arn`); a row naming two is refused rather than merged.
const EXPLAIN_ALL = process.argv.includes('--explain-all');

const EC_PREFIX = 'kms:encryptioncontext:';
const EC_FAMILY = 'kms:EncryptionContext:${EncryptionContextKey}';

function isEncryptionContextKey(key) {
  return key.toLowerCase().startsWith(EC_PREFIX) && key.length > EC_PREFIX.length;
}

// Rename encryption-context keys in the Condition blocks of a policy document; records the
// original keys in `seen` (a Map keyed by lower case: condition keys are case-insensitive).
function bridgePolicyDoc(policy, seen) {
  if (!policy || typeof policy !== 'object') return policy;
  const copy = structuredClone(policy);
  const statements = Array.isArray(copy.Statement) ? copy.Statement : [copy.Statement];
  for (const statement of statements) {
    if (!statement || typeof statement.Condition !== 'object' || statement.Condition === null) continue;
    for (const [op, block] of Object.entries(statement.Condition)) {
      if (!block || typeof block !== 'object') continue;
      const renamed = {};
      for (const [key, values] of Object.entries(block)) {
        if (isEncryptionContextKey(key)) {
          if (!seen.has(key.toLowerCase())) seen.set(key.toLowerCase(), key);
          if (EC_FAMILY in renamed) throw new Error(`two encryption-context keys under ${op} in one statement`);
          renamed[EC_FAMILY] = values;
        } else {
          renamed[key] = values;
        }
      }
      statement.Condition[op] = renamed;
    }
  }
  return copy;
}

function bridgeContextKeys(context, seen) {
  const out = {};
  for (const [key, value] of Object.entries(context)) {
    if (isEncryptionContextKey(key)) {
      if (!seen.has(key.toLowerCase())) seen.set(key.toLowerCase(), key);
      out[EC_FAMILY] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

// ---- Input checks ------------------------------------------------------------------------------
const ROW_FIELDS = new Set([
  'name', 'principal', 'action', 'resource', 'resourceAccount', 'context', 'identityPolicies',
  'resourcePolicy', 'kmsKeyPolicy', 'scps', 'rcps', 'expect', 'expectIgnoredContextKeys', 'bridge'
]);

function fail(message) {
  process.stderr.write(`evaluate.mjs: ${message}\n`);
  process.exit(2);
}

function checkNamed(list, what, row) {
  if (!Array.isArray(list)) fail(`row "${row}": ${what} must be an array`);
  for (const p of list) {
    if (!p || typeof p.name !== 'string' || typeof p.policy !== 'object' || p.policy === null) {
      fail(`row "${row}": every ${what} entry needs a "name" and a "policy" object`);
    }
  }
}

function checkOrgPolicies(list, what, row) {
  if (!Array.isArray(list)) fail(`row "${row}": ${what} must be an array`);
  for (const level of list) {
    if (!level || typeof level.orgIdentifier !== 'string') fail(`row "${row}": ${what} entries need "orgIdentifier"`);
    checkNamed(level.policies, `${what}.policies`, row);
  }
}

function checkRow(row, index, names) {
  if (!row || typeof row !== 'object') fail(`row ${index} is not an object`);
  const name = row.name;
  if (typeof name !== 'string' || name === '') fail(`row ${index} has no name`);
  if (names.has(name)) fail(`two rows are named "${name}"`);
  names.add(name);
  for (const key of Object.keys(row)) {
    if (!ROW_FIELDS.has(key)) fail(`row "${name}": unknown field "${key}"`);
  }
  for (const key of ['principal', 'action', 'resource']) {
    if (typeof row[key] !== 'string' || row[key] === '') fail(`row "${name}": "${key}" must be a non-empty string`);
  }
  // "*" alone is the one resource of an action without a resource type (s3:CreateJob,
  // s3:ListJobs): AWS authorizes those against "*", and the evaluator insists on it for them.
  if (row.resource !== '*' && row.resource.includes('*')) fail(`row "${name}": resource "${row.resource}" has a wildcard; a row is one concrete request`);
  if (row.expect !== 'Allow' && row.expect !== 'Deny') fail(`row "${name}": "expect" must be "Allow" or "Deny"`);
  if (typeof row.context !== 'object' || row.context === null || Array.isArray(row.context)) {
    fail(`row "${name}": "context" must be an object`);
  }
  for (const [k, v] of Object.entries(row.context)) {
    const ok = typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    if (!ok) fail(`row "${name}": context "${k}" must be a string or an array of strings (AWS context values are text)`);
  }
  checkNamed(row.identityPolicies ?? fail(`row "${name}": "identityPolicies" is required ([] for none)`), 'identityPolicies', name);
  if (row.scps !== undefined) checkOrgPolicies(row.scps, 'scps', name);
  if (row.rcps !== undefined) checkOrgPolicies(row.rcps, 'rcps', name);
  const isKmsKey = /^arn:aws[a-z-]*:kms:[^:]*:\d{12}:key\//.test(row.resource) && row.action.toLowerCase().startsWith('kms:');
  if (row.kmsKeyPolicy !== undefined && row.resourcePolicy !== undefined) {
    fail(`row "${name}": give either "resourcePolicy" or "kmsKeyPolicy", not both`);
  }
  if (isKmsKey && !row.kmsKeyPolicy) fail(`row "${name}": a KMS key always has a key policy: give "kmsKeyPolicy"`);
  if (!isKmsKey && row.kmsKeyPolicy) fail(`row "${name}": "kmsKeyPolicy" is only for kms:* actions on a key ARN`);
  const resourcePolicy = row.kmsKeyPolicy ?? row.resourcePolicy ?? null;
  if (resourcePolicy !== null) checkNamed([resourcePolicy], 'resource/key policy', name);
  if (row.bridge !== undefined && typeof row.bridge !== 'boolean') fail(`row "${name}": "bridge" must be true or false`);
  if (row.expectIgnoredContextKeys !== undefined &&
      !(Array.isArray(row.expectIgnoredContextKeys) && row.expectIgnoredContextKeys.every((k) => typeof k === 'string'))) {
    fail(`row "${name}": "expectIgnoredContextKeys" must be an array of strings`);
  }
  let account = row.resourceAccount;
  if (account === undefined) {
    const parts = row.resource.split(':');
    account = parts.length >= 6 ? parts[4] : '';
    if (!/^\d{12}$/.test(account)) fail(`row "${name}": "${row.resource}" names no account: give "resourceAccount"`);
  }
  if (typeof account !== 'string' || !/^\d{12}$/.test(account)) fail(`row "${name}": "resourceAccount" must be 12 digits`);
  return { resourcePolicy, account };
}

// ---- Explain -------------------------------------------------------------------------------------
function asArray(x) {
  return x === undefined ? [] : Array.isArray(x) ? x : [x];
}

// A statement analysis reduced to what a reader needs to see why it (did not) apply.
function describe(kind, s) {
  const e = s.explain;
  const out = {
    policy: kind === 'resource' ? 'resource policy' : `${kind} ${s.policyId ?? ''}`.trim(),
    sid: e.identifier,
    effect: e.effect,
    actionMatch: e.actionMatch,
    resourceMatch: e.resourceMatch,
    principalMatch: e.principalMatch,
    conditionMatch: e.conditionMatch
  };
  const badResources = asArray(e.resources).filter((r) => !r.matches);
  if (!e.resourceMatch && badResources.length) out.resources = badResources;
  if (kind === 'resource' && e.principalMatch === 'NoMatch') out.principals = asArray(e.principals);
  const conditions = asArray(e.conditions).filter((c) => (e.effect === 'Allow' ? !c.matches : true));
  if (conditions.length) {
    out.conditions = conditions.map((c) => ({
      operator: c.operator,
      // Bridged keys are shown under the name the policy uses.
      key: c.conditionKeyValue === EC_FAMILY && bridgedKey ? `${bridgedKey} (bridged)` : c.conditionKeyValue,
      matches: c.matches,
      ...(c.failedBecauseMissing ? { failedBecauseMissing: true } : {}),
      ...(c.matchedBecauseMissing ? { matchedBecauseMissing: true } : {}),
      values: asArray(c.values).map((v) => ({
        value: v.value,
        ...(v.resolvedValue !== undefined ? { resolvedValue: v.resolvedValue } : {}),
        matches: v.matches,
        ...(v.errors ? { errors: v.errors } : {})
      }))
    }));
  }
  return out;
}

function analyses(analysis) {
  const out = [];
  const push = (kind, a) => a && out.push([kind, a]);
  push('session', analysis.sessionAnalysis);
  push('identity', analysis.identityAnalysis);
  push('resource', analysis.resourceAnalysis);
  push('boundary', analysis.permissionBoundaryAnalysis);
  for (const ou of analysis.scpAnalysis?.ouAnalysis ?? []) push(`scp(${ou.orgIdentifier})`, ou);
  for (const ou of analysis.rcpAnalysis?.ouAnalysis ?? []) push(`rcp(${ou.orgIdentifier})`, ou);
  return out;
}

// The encryption-context key the current row bridged, to name it in explanations.
let bridgedKey;

function explain(analysis) {
  const decided = [];
  const nearMisses = [];
  for (const [kind, a] of analyses(analysis)) {
    const k = kind.startsWith('resource') ? 'resource' : kind;
    if (analysis.result === 'Allowed') {
      for (const s of a.allowStatements ?? []) decided.push(describe(k, s));
    } else {
      for (const s of a.denyStatements ?? []) decided.push(describe(k, s));
      if (analysis.result === 'ImplicitlyDenied') {
        for (const s of a.unmatchedStatements ?? []) {
          const e = s.explain;
          // Near misses: Allow statements for this action that failed on one ground only.
          const failures = [!e.resourceMatch, e.principalMatch === 'NoMatch', !e.conditionMatch].filter(Boolean).length;
          if (e.effect === 'Allow' && e.actionMatch && failures <= 1) nearMisses.push(describe(k, s));
        }
        // An allow that matched but was not enough (e.g. only one side of a cross-account request).
        for (const s of a.allowStatements ?? []) nearMisses.push({ ...describe(k, s), note: 'matched, not sufficient alone' });
      }
    }
  }
  let reasons;
  try {
    reasons = analysis.result === 'Allowed' ? getGrantReasons(analysis) : getDenialReasons(analysis);
  } catch (err) {
    reasons = [`(reasons unavailable: ${err.message})`];
  }
  if (reasons.length === 0 && !analysis.sameAccount && analysis.resourceAnalysis?.result === 'NotApplicable') {
    reasons = ['cross-account request and the resource has no resource policy'];
  }
  return {
    sameAccount: analysis.sameAccount,
    resourcePolicyResult: analysis.resourceAnalysis?.result,
    identityPolicyResult: analysis.identityAnalysis?.result,
    ...(analysis.blockedBy ? { blockedBy: analysis.blockedBy } : {}),
    reasons,
    decidingStatements: decided,
    ...(nearMisses.length ? { nearMisses } : {})
  };
}

// ---- Run -----------------------------------------------------------------------------------------
async function evaluateRow(row, resourcePolicy, account) {
  const seen = new Map();
  const bridgeOn = row.bridge !== false;
  const bridgePolicy = bridgeOn ? bridgePolicyDoc : (policy) => policy;
  const bridgeContext = bridgeOn ? bridgeContextKeys : (context) => ({ ...context });
  let simulation;
  try {
    simulation = {
      request: {
        principal: row.principal,
        action: row.action,
        resource: { resource: row.resource, accountId: account },
        contextVariables: bridgeContext(row.context, seen)
      },
      identityPolicies: row.identityPolicies.map((p) => ({ name: p.name, policy: bridgePolicy(p.policy, seen) })),
      serviceControlPolicies: (row.scps ?? []).map((l) => ({
        orgIdentifier: l.orgIdentifier,
        policies: l.policies.map((p) => ({ name: p.name, policy: bridgePolicy(p.policy, seen) }))
      })),
      resourceControlPolicies: (row.rcps ?? []).map((l) => ({
        orgIdentifier: l.orgIdentifier,
        policies: l.policies.map((p) => ({ name: p.name, policy: bridgePolicy(p.policy, seen) }))
      })),
      // The document alone: the validator refuses any extra top-level field (such as a name).
      resourcePolicy: resourcePolicy ? bridgePolicy(resourcePolicy.policy, seen) : undefined
    };
  } catch (err) {
    return { error: `bridge: ${err.message}` };
  }
  if (seen.size > 1) {
    return { error: `bridge: the row uses ${seen.size} encryption-context keys (${[...seen.values()].join(', ')}); one per row` };
  }
  const bridged = [...seen.values()];
  bridgedKey = bridged[0];
  const response = await runSimulation(simulation, { simulationMode: 'Strict' });
  if (response.resultType === 'error') return { bridged, error: JSON.stringify(response.errors) };
  if (response.resultType !== 'single') return { bridged, error: `unexpected result type ${response.resultType}` };
  const analysis = response.result.analysis;
  // Report dropped keys under the names the row used (the bridged family name maps back).
  const ignored = (response.result.ignoredContextKeys ?? []).map((k) => (k === EC_FAMILY ? bridged[0] ?? k : k));
  return { bridged, analysis, result: response.overallResult, ignored };
}

async function main() {
  let input;
  try {
    input = JSON.parse(readFileSync(0, 'utf8'));
  } catch (err) {
    fail(`stdin is not one JSON document: ${err.message}`);
  }
  if (!input || !Array.isArray(input.rows) || input.rows.length === 0) fail('expected {"rows": [ ... ]} with at least one row');
  const names = new Set();
  const checked = input.rows.map((row, i) => checkRow(row, i, names));
  let allOk = true;
  for (const [i, row] of input.rows.entries()) {
    const { resourcePolicy, account } = checked[i];
    const r = await evaluateRow(row, resourcePolicy, account);
    const expectedIgnored = new Set((row.expectIgnoredContextKeys ?? []).map((k) => k.toLowerCase()));
    const ignored = r.ignored ?? [];
    const ignoredLower = new Set(ignored.map((k) => k.toLowerCase()));
    const unexpected = ignored.filter((k) => !expectedIgnored.has(k.toLowerCase()));
    const missing = (row.expectIgnoredContextKeys ?? []).filter((k) => !ignoredLower.has(k.toLowerCase()));
    const decision = r.result === 'Allowed' ? 'Allow' : r.result ? 'Deny' : null;
    const matched = decision === row.expect;
    const ok = !r.error && matched && unexpected.length === 0 && missing.length === 0;
    allOk &&= ok;
    const out = {
      name: row.name,
      decision,
      result: r.result ?? null,
      expect: row.expect,
      matched,
      ignoredContextKeys: ignored,
      unexpectedIgnoredContextKeys: unexpected,
      missingIgnoredContextKeys: missing,
      bridged: r.bridged ?? [],
      sameAccount: r.analysis?.sameAccount ?? null,
      ok,
      ...(r.error ? { error: r.error } : {}),
      ...((!ok || EXPLAIN_ALL) && r.analysis ? { explain: explain(r.analysis) } : {})
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  }
  process.exitCode = allOk ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(`evaluate.mjs: ${err.stack ?? err}\n`);
  process.exit(2);
});
